"""``strategy manual``: the interactive (or scripted) manual-trading REPL.

:func:`run_manual` connects to the exchange's runner found in Redis and reads commands
(:mod:`.commands`) until ``quit``/``exit``/end of input. On a terminal it is a ``cmd.Cmd`` with
readline: a prompt, line editing, history kept in a file, Tab completion of commands,
instruments and open orders' client ids. When stdin is not a terminal it reads commands line by
line without prompts or banners — output only — so it can be scripted; blank lines and lines
starting with ``#`` are skipped.
"""

from __future__ import annotations

import cmd
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import strategy_client
from strategy_client.errors import AmbiguousRoute, CoreApiError
from strategy_client.model import Exchange, InstrumentKey, RiskEvent
from strategy_client.wire import RiskGateEvent, RunnerRecord

from .commands import Quit, parse_line
from .completion import complete
from .errors import describe_error
from .session import ManualSession

__all__ = [
    "run_manual",
    "ManualShell",
    "DEFAULT_HISTORY_FILE",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_START",
    "EXIT_INTERRUPTED",
]

DEFAULT_HISTORY_FILE = Path("~/.tradebus_history")
HISTORY_LENGTH = 2000
EXIT_OK = 0  # every command ran (or an interactive session ended normally)
EXIT_FAILED = 1  # scripted input: at least one command failed
EXIT_START = 2  # could not start: bad exchange, Redis unreachable, no (or several) runners
EXIT_INTERRUPTED = 130  # Ctrl-C outside the interactive prompt (a script, or while connecting)


def _readline() -> ModuleType | None:
    try:
        import readline  # noqa: PLC0415 - absent on Windows: the REPL runs without line editing
    except ImportError:  # pragma: no cover - platforms without readline (Windows)
        return None
    return readline


class ManualShell(cmd.Cmd):
    """The loop: each line is parsed and run by the session; failures print one ``error:`` line."""

    def __init__(
        self,
        session: ManualSession,
        *,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool,
        order_ids: Callable[[InstrumentKey | None], Iterable[str]] | None = None,
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.session = session
        self.interactive = interactive
        # input() (and so readline) only when both ends are the process's own terminal
        self.use_rawinput = interactive and stdin is sys.stdin and stdout is sys.stdout
        self.prompt = f"{session.exchange.value}> " if interactive else ""
        self.failed = 0
        self.busy = False  # a command is running (Ctrl-C then abandons a call, not a line being typed)
        self._matches: list[str] = []
        self._order_ids = order_ids or session.open_order_ids

    def emit(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    # -- the loop ---------------------------------------------------------------------------
    def onecmd(self, line: str) -> bool:
        if line == "EOF":  # cmd.Cmd's end of input (Ctrl-D, or the end of a script)
            if self.interactive:
                self.emit("")
            return True
        try:
            command = parse_line(line, self.session.exchange)
            if command is None:
                return False
            if isinstance(command, Quit):
                return True
            self.busy = True
            try:
                self.session.execute(command, self.emit)
            finally:
                self.busy = False
        except Exception as exc:  # noqa: BLE001 - every failure is one error line; the loop goes on
            self.failed += 1
            self.emit(f"error: {describe_error(exc)}")
        self._risk_notices()
        return False

    def _risk_notices(self) -> None:
        try:
            self.session.notices(self.emit)
        except Exception as exc:  # noqa: BLE001 - a lost event stream must not stop the loop
            self.emit(f"warning: risk events not read: {describe_error(exc)}")

    def emptyline(self) -> bool:
        return False  # cmd.Cmd would repeat the last command: never resend an order by pressing Enter

    # -- completion -------------------------------------------------------------------------
    def _complete(self, text: str, line: str, begidx: int) -> list[str]:
        try:
            return complete(
                line,
                begidx,
                text,
                exchange=self.session.exchange,
                keys=lambda: self.session.instruments().keys(),
                order_ids=self._order_ids,
            )
        except Exception:  # noqa: BLE001 - a failing lookup must not break the line being typed
            return []

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return self._complete(text, text, 0)

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete(text, line, begidx)

    def complete_help(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete(text, line, begidx)

    def complete(self, text: str, state: int) -> str | None:  # type: ignore[override]  # typeshed is wrong
        # cmd.Cmd routes "x<Tab>" after '?' or '!' specially; route everything through _complete
        if state == 0:
            rl = _readline()
            if rl is None:
                return None
            buffer = rl.get_line_buffer()
            stripped = len(buffer) - len(buffer.lstrip())
            self._matches = self._complete(text, buffer.lstrip(), rl.get_begidx() - stripped)
        try:
            return self._matches[state]
        except IndexError:
            return None


def _connect(
    exchange: Exchange, redis_url: str | None, runner: str | None, wait_s: float, timeout_s: float
) -> tuple[strategy_client.Client, RunnerRecord]:
    """Connect and pick the runner: ``runner`` by name, else the exchange's only one."""
    client = _open_client(redis_url, runner, exchange, wait_s, timeout_s)
    return _pick_runner(client, exchange, runner, wait_s)


def _open_client(
    redis_url: str | None, runner: str | None, exchange: Exchange, wait_s: float, timeout_s: float
) -> strategy_client.Client:
    if runner:
        return strategy_client.connect(
            redis_url,
            wait_for=runner,
            bindings={exchange: runner},
            timeout_s=wait_s,
            record=0,
            default_timeout_s=timeout_s,
        )
    return strategy_client.connect(redis_url, timeout_s=wait_s, record=0, default_timeout_s=timeout_s)


def _pick_runner(
    client: strategy_client.Client, exchange: Exchange, runner: str | None, wait_s: float
) -> tuple[strategy_client.Client, RunnerRecord]:
    if runner:
        rec = client.runners().get(runner)
        if rec is None or rec.exchange is not exchange:
            served = "nothing" if rec is None else rec.exchange.value
            client.close()
            raise _StartError(f"runner {runner!r} serves {served}, not {exchange.value}")
        return client, rec
    try:
        return client, client.wait_for(exchange, timeout_s=wait_s)
    except AmbiguousRoute:
        names = sorted(n for n, r in client.runners().items() if r.exchange is exchange)
        client.close()
        raise _StartError(
            f"{len(names)} {exchange.value} runners are registered ({', '.join(names)}): choose one with --runner NAME"
        ) from None
    except BaseException:
        client.close()
        raise


class _StartError(Exception):
    pass


def _banner(exchange: Exchange, rec: RunnerRecord, redis_url: str) -> str:
    lines = [
        f"tradebus manual trading — {exchange.value} through runner {rec.name} "
        f"(mode {rec.mode}, venue {rec.venue}; {redis_url})",
        "Type 'help' for the commands, Tab to complete, Ctrl-D or 'quit' to leave. "
        "A bare symbol (BTCUSDT) is the perp; spot:BTCUSDT is spot.",
    ]
    if rec.mode == "live" and rec.venue == "live":
        lines.append("WARNING: this runner trades on the LIVE venue — orders are real.")
    elif rec.mode == "paper":
        lines.append("Paper mode: orders are filled inside the runner; nothing reaches the venue.")
    return "\n".join(lines)


def _setup_history(rl: ModuleType, path: Path, emit: Callable[[str], None]) -> None:
    rl.set_completer_delims(" \t\n")
    if "libedit" in (rl.__doc__ or ""):  # pragma: no cover - macOS's readline
        rl.parse_and_bind("bind ^I rl_complete")
    rl.set_history_length(HISTORY_LENGTH)
    try:
        rl.read_history_file(str(path))
    except FileNotFoundError:
        pass
    except OSError as exc:
        emit(f"warning: history not read from {path}: {exc}")


def run_manual(
    *,
    exchange: str,
    redis_url: str | None,
    runner: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    history_file: Path | None = None,
    timeout_s: float = 10.0,
    wait_s: float = 5.0,
) -> int:
    """Run the manual-trading REPL against ``exchange``'s runner; return the exit status.

    The options of the CLI (``strategy manual``):

    * ``--exchange`` (default ``binance``): the exchange whose runner to trade through;
    * ``--redis-url`` (default ``$REDIS_URL``, else ``redis://127.0.0.1:6379/0``): where runners
      are registered;
    * ``--runner NAME``: the runner to use when several serve the exchange;
    * ``--history PATH`` (default ``~/.tradebus_history``): readline history, interactive
      sessions only.

    ``timeout_s`` (the limit for each call to the runner) and ``wait_s`` (how long to wait for
    the runner to be registered) are Python-only.

    On a terminal: prompt, banner, line editing, history and Tab completion. When stdin is not
    a terminal: commands are read line by line, nothing but their output is printed, and the
    end of input quits. Every failed command prints one line starting with ``error:`` and the
    loop goes on.

    Exit status: 0 when every command ran (always 0 for an interactive session ended with
    ``quit``/Ctrl-D); 1 when stdin is not a terminal and at least one command failed; 2 when the
    REPL could not start (unknown exchange, Redis unreachable, no runner for the exchange,
    several runners and no ``--runner``); 130 on Ctrl-C while connecting or running a script.
    """
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout

    def emit(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    try:
        ex = Exchange(exchange.lower())
    except ValueError:
        emit(f"error: unknown exchange {exchange!r} (known: {', '.join(e.value for e in Exchange)})")
        return EXIT_START
    try:
        client, rec = _connect(ex, redis_url, runner, wait_s, timeout_s)
    except _StartError as exc:
        emit(f"error: {exc}")
        return EXIT_START
    except CoreApiError as exc:
        emit(f"error: {describe_error(exc)}")
        return EXIT_START
    except KeyboardInterrupt:
        emit("error: interrupted")
        return EXIT_INTERRUPTED
    try:
        session = ManualSession(client, ex, timeout_s=timeout_s)
        session.risk_events = _risk_feed(client, rec.name)
        interactive = stdin.isatty()
        shell = ManualShell(session, stdin=stdin, stdout=stdout, interactive=interactive)
        if interactive:
            return _interactive(shell, ex, rec, client.router.redis_url, history_file, emit)
        shell.cmdloop()
        return EXIT_FAILED if shell.failed else EXIT_OK
    except KeyboardInterrupt:
        emit("error: interrupted")
        return EXIT_INTERRUPTED
    finally:
        client.close()


def _risk_feed(client: strategy_client.Client, runner: str) -> Callable[[], list[RiskEvent]]:
    """The runner's risk events (halts, trips, refusals, limit changes) received so far, drained
    between commands: the REPL prints them before its next prompt. Closed with the client."""
    sub = client.subscribe(kinds="risk", runners=runner, queue_size=1000)

    def drain() -> list[RiskEvent]:
        out: list[RiskEvent] = []
        while len(out) < 100:  # a flood of refusals is cut to 100 lines a prompt
            item = sub.get(timeout_s=0)
            if item is None:
                break
            event = getattr(item, "event", None)
            if isinstance(event, RiskGateEvent):
                out.append(event.risk)
        return out

    return drain


def _take_ctrl_c() -> None:
    """On its own terminal the REPL answers Ctrl-C (drops the line, or abandons a call): a
    SIGINT this process was started with blocked or ignored — inherited from a parent's thread
    or a non-interactive shell's background job — would make it hang at the prompt instead.
    Main thread only (signals are handled there)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _interactive(
    shell: ManualShell,
    exchange: Exchange,
    rec: RunnerRecord,
    redis_url: str,
    history_file: Path | None,
    emit: Callable[[str], None],
) -> int:
    rl = _readline() if shell.use_rawinput else None
    if shell.use_rawinput:
        _take_ctrl_c()
    path = (history_file or DEFAULT_HISTORY_FILE).expanduser()
    if rl is not None:
        _setup_history(rl, path, emit)
    try:
        shell.session.instruments()  # for completion; an error here shows up again on first use
    except CoreApiError as exc:
        emit(f"warning: instruments not loaded yet: {describe_error(exc)}")
    intro = _banner(exchange, rec, redis_url)
    try:
        while True:
            try:
                shell.cmdloop(intro)
                return EXIT_OK
            except KeyboardInterrupt:
                # at the prompt: the line is dropped and a fresh prompt follows, as in a shell;
                # during a call: the call is abandoned (an order's outcome is then unknown —
                # 'orders' shows it)
                if shell.busy:
                    shell.busy = False
                    emit("^C (call abandoned; 'orders' shows what is live)")
                else:
                    emit("")
                # "" and not None: cmd.Cmd.cmdloop(None) prints self.intro — the banner — again
                intro = ""
    finally:
        if rl is not None:
            try:
                rl.write_history_file(str(path))
            except OSError as exc:
                emit(f"warning: history not saved to {path}: {exc}")
