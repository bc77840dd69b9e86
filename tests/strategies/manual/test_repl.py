"""The REPL end to end against a real runner on the embedded simulator: a scripted session
(stdin is not a terminal), the start-up failures, and an interactive session on a pty."""

from __future__ import annotations

import io
import os
import re
import select
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import msgspec
import pytest
import redis

import strategy_client
from exchange_runner.localredis import LocalRedisServer
from strategies.manual import run_manual
from strategies.manual.commands import Cancel, PlaceOrder, parse_instrument
from strategies.manual.errors import SessionError, describe_error
from strategies.manual.repl import EXIT_FAILED, EXIT_OK, EXIT_START
from strategies.manual.session import ManualSession
from strategy_client.model import Exchange, Side
from strategy_client.wire import encode_record, runner_key

from ...helpers import eventually_sync, free_port
from ...integration.conftest import ROOT, RunnerProc
from .conftest import MANUAL_DB


def run_script(script: str, redis_url: str, **kw: object) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = run_manual(exchange="binance", redis_url=redis_url, stdin=io.StringIO(script), stdout=out, **kw)  # type: ignore[arg-type]
    return status, out.getvalue().splitlines()


def test_scripted_session(manual_runner: RunnerProc, manual_redis: str) -> None:
    cid = f"lim-{os.getpid()}"
    script = f"""
# a scripted session: comments and blank lines are skipped

book BTCUSDT 3
buy BTCUSDT 0.0123
positions
buy spot:BTCUSDT 0.01 30000.123 id={cid}
orders spot:BTCUSDT
cancel spot:BTCUSDT {cid}
orders spot:BTCUSDT
fly to the moon
buy BTCUSDT abc
buy BTCUSDT 0.001
buy FOOUSDT 1
sell BTCUSDT 0.012 reduce
sell BTCUSDT 0.012 reduce
positions
quit
balance
"""
    status, lines = run_script(script, manual_redis)
    text = "\n".join(lines)
    assert status == EXIT_FAILED, text
    it = iter(lines)

    # book: a 3-level ladder, asks above the spread line, bids below
    assert next(it).startswith("binance:perp:BTCUSDT  (")
    assert next(it).split() == ["bid", "qty", "price", "ask", "qty"]
    asks = [next(it).split() for _ in range(3)]
    assert "spread" in next(it)
    bids = [next(it).split() for _ in range(3)]
    ask_prices = [float(row[0]) for row in asks]
    bid_prices = [float(row[1]) for row in bids]
    assert ask_prices == sorted(ask_prices, reverse=True) and bid_prices == sorted(bid_prices, reverse=True)
    assert min(ask_prices) > max(bid_prices)

    # a market order: the rounding is announced, then the fill with its average price
    assert next(it) == "note: qty 0.0123 → 0.012 (step 0.001)"
    fill = next(it)
    assert re.match(r"filled: buy 0\.012 binance:perp:BTCUSDT market @ avg [\d.]+  id man-", fill), fill
    # the position it opened
    assert next(it).split()[:3] == ["instrument", "side", "size"]
    assert next(it).split()[:3] == ["binance:perp:BTCUSDT", "long", "0.012"]

    # a resting limit order (price rounded down to the tick), listed, canceled, gone
    assert next(it) == "note: price 30000.123 → 30000.12 (tick 0.01, a buy rounds down)"
    assert next(it).startswith(f"open: buy 0.01 binance:spot:BTCUSDT @ 30000.12 gtc  id {cid}")
    assert next(it).split()[0] == "id"
    assert next(it).split()[:3] == [cid, "binance:spot:BTCUSDT", "buy"]
    assert next(it).startswith(f"canceled: buy 0.01 binance:spot:BTCUSDT @ 30000.12 gtc  id {cid}")
    assert next(it) == "no open orders"

    # mistakes: one error line each, and the loop went on
    assert next(it) == "error: unknown command 'fly' — 'help' lists the commands"
    assert next(it).startswith("error: buy: qty: 'abc' is not a positive number — usage: buy <instrument>")
    line = next(it)
    assert re.fullmatch(r"error: order not sent — MIN_NOTIONAL: notional [\d.]+ below 100", line), line
    assert next(it).startswith("error: unknown instrument binance:perp:FOOUSDT")

    # flat again; then the venue's own rejection, with its code
    assert next(it).startswith("filled: sell 0.012 binance:perp:BTCUSDT market reduce-only @ avg ")
    assert next(it) == "error: venue rejected (venue code -2022): ReduceOnly Order is rejected."
    assert next(it) == "no open positions"
    # 'quit' ended the session: 'balance' after it never ran
    assert next(it, None) is None


def test_a_clean_script_exits_zero_and_end_of_input_quits(manual_runner: RunnerProc, manual_redis: str) -> None:
    script = "balance\nprice BTCUSDT mark\nfunding BTCUSDT\nleverage BTCUSDT 7\nhelp cancel\n"
    status, lines = run_script(script, manual_redis, runner=manual_runner.name)
    text = "\n".join(lines)
    assert status == EXIT_OK, text
    assert "error" not in text
    assert lines[0] == "spot" and re.search(r"^USDT\s+[\d.]+", text, re.M)
    assert "futures margin" in text
    assert re.search(r"^binance:perp:BTCUSDT mark [\d.]+  \(age \d+ ms\)$", text, re.M)
    assert re.search(r"funding -?[\d.]+% per 8h = -?[\d.]+% per hour", text)
    assert "binance:perp:BTCUSDT leverage 7x" in lines
    assert "usage: cancel <instrument> <client-id>  |  cancel all [instrument]" in lines


def test_cancel_all(manual_runner: RunnerProc, manual_redis: str) -> None:
    script = (
        "buy spot:ETHUSDT 0.01 1000\n"
        "buy spot:ETHUSDT 0.01 1001\n"
        "sell BTCUSDT 0.002 200000\n"
        "cancel all spot:ETHUSDT\n"
        "orders\n"
        "cancel all\n"
        "cancel all\n"
    )
    status, lines = run_script(script, manual_redis)
    text = "\n".join(lines)
    assert status == EXIT_OK, text
    assert sum(1 for x in lines if x.startswith("open: ")) == 3
    after_first = lines[lines.index("canceled 2 open orders") - 2 : lines.index("canceled 2 open orders")]
    assert all(x.startswith("canceled: buy 0.01 binance:spot:ETHUSDT") for x in after_first), text
    remaining = lines[lines.index("canceled 2 open orders") + 1 :]
    assert remaining[1].split()[1:3] == ["binance:perp:BTCUSDT", "sell"]
    assert remaining[2].startswith("canceled: sell 0.002 binance:perp:BTCUSDT @ 200000 gtc")
    assert remaining[3:] == ["canceled 1 open order", "no open orders to cancel"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(exchange="kraken"), "error: unknown exchange 'kraken' (known: binance, bybit, okx)"),
        (dict(exchange="bybit"), "error: runner unavailable: no bybit runner registered in"),
        (dict(runner="nobody"), "error: runner unavailable: no runner named 'nobody' is registered"),
    ],
)
def test_start_failures(manual_runner: RunnerProc, manual_redis: str, kw: dict[str, str], message: str) -> None:
    out = io.StringIO()
    args: dict[str, object] = {"exchange": "binance", "redis_url": manual_redis, "wait_s": 0.3, **kw}
    status = run_manual(stdin=io.StringIO("balance\n"), stdout=out, **args)  # type: ignore[arg-type]
    assert status == EXIT_START
    assert out.getvalue().startswith(message), out.getvalue()
    assert out.getvalue().count("\n") == 1


def test_several_runners_of_one_exchange_need_a_name(manual_runner: RunnerProc, redis_server: LocalRedisServer) -> None:
    """Two registrations for binance (both the real runner's endpoints, in a database of their
    own): without --runner the REPL names them and stops; with it, it trades through that one."""
    url = f"redis://{redis_server.host}:{redis_server.port}/{MANUAL_DB + 1}"
    rec = manual_runner.record()
    client = redis.Redis.from_url(url)
    try:
        for name in ("bn-a", "bn-b"):
            client.set(runner_key(name), encode_record(msgspec.structs.replace(rec, name=name)), ex=30)
        status, lines = run_script("balance\n", url, wait_s=0.3)
        assert status == EXIT_START
        assert lines == ["error: 2 binance runners are registered (bn-a, bn-b): choose one with --runner NAME"]
        status, lines = run_script("orders\nquit\n", url, runner="bn-b")
        assert (status, lines) == (EXIT_OK, ["no open orders"])
    finally:
        client.flushdb()
        client.close()


def test_redis_unreachable(tmp_path: Path) -> None:
    out = io.StringIO()
    url = f"redis://127.0.0.1:{free_port()}/0"
    status = run_manual(exchange="binance", redis_url=url, stdin=io.StringIO("balance\n"), stdout=out, wait_s=0.3)
    assert status == EXIT_START
    assert out.getvalue().startswith(f"error: runner directory unreachable: cannot read the runner directory at {url}")


# ----------------------------------------------------------------------------- on a terminal


class Pty:
    """A child process on a pseudo-terminal: type into it, wait for what it prints."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env)
        os.close(slave)
        self.seen = ""

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, pattern: str, timeout: float = 20.0) -> str:
        """Read until ``pattern`` (a regex) appears after what was matched before."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.seen)
            if match:
                consumed, self.seen = self.seen[: match.end()], self.seen[match.end() :]
                return consumed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern!r} on the terminal; it shows: {self.seen[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed before {pattern!r}; it showed: {self.seen[-2000:]!r}")
                self.seen += chunk.decode(errors="replace")

    def wait_in_select(self) -> bool:
        """Wait until the child's main thread sleeps waiting for input (Linux: its wchan); False
        where that cannot be seen. CPython's readline only notices a signal that interrupts its
        select(): one landing while it is still echoing a key waits for the next line."""
        wchan = Path(f"/proc/{self.proc.pid}/wchan")
        if not wchan.exists():
            return False
        eventually_sync(
            lambda: wchan.read_text().startswith(("poll_schedule_timeout", "do_select", "do_sys_poll")),
            what="the REPL waiting for input",
        )
        return True

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
            os.close(self.master)


def _pty_available() -> bool:
    if not sys.platform.startswith(("linux", "darwin")):
        return False
    try:
        import pty

        master, slave = pty.openpty()
    except (ImportError, OSError):
        return False
    os.close(master)
    os.close(slave)
    return True


def _readline_available() -> bool:
    try:
        import readline  # noqa: F401
    except ImportError:
        return False
    return True


def _repl_on_a_terminal(redis_url: str, history: Path, launcher: str = "") -> Pty:
    """``strategy manual`` on a pseudo-terminal; ``launcher``: Python code that sets the process
    up and execs the REPL (its code is ``sys.argv[1]``)."""
    code = (
        "import sys; from pathlib import Path; from strategies.manual import run_manual; "
        f"sys.exit(run_manual(exchange='binance', redis_url={redis_url!r}, history_file=Path({str(history)!r})))"
    )
    env = {**os.environ, "TERM": "dumb", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-c", launcher, code] if launcher else [sys.executable, "-c", code]
    return Pty(args, env)


@pytest.mark.skipif(not _pty_available(), reason="no pseudo-terminal on this platform")
@pytest.mark.skipif(not _readline_available(), reason="Python was built without readline")
def test_interactive_prompt_completion_and_history(
    manual_runner: RunnerProc, manual_redis: str, tmp_path: Path
) -> None:
    history = tmp_path / "history"
    term = _repl_on_a_terminal(manual_redis, history)
    try:
        banner = term.expect(r"binance> ")
        assert "tradebus manual trading — binance through runner" in banner
        assert "venue sim" in banner
        term.send("bal\t")
        term.expect(r"balance")  # Tab completed the command
        term.send("\r")
        term.expect(r"futures margin")
        term.expect(r"binance> ")
        term.send("book spot:BT\t")
        term.expect(r"spot:BTCUSDT")  # Tab completed the instrument from the runner's list
        term.send(" 2\r")
        term.expect(r"binance:spot:BTCUSDT  \(")
        term.expect(r"binance> ")
        term.send("nonsense\r")
        term.expect(r"error: unknown command 'nonsense'")
        term.expect(r"binance> ")
        term.send("\r")  # an empty line repeats nothing
        term.expect(r"binance> ")
        assert "error" not in term.seen and "nonsense" not in term.seen
        term.send("half-typ")
        term.expect(r"half-typ")
        if term.wait_in_select():
            term.proc.send_signal(signal.SIGINT)  # what Ctrl-C does on the process's own terminal
            try:
                again = term.expect(r"binance> ")  # the line is dropped, like a shell; no banner again
            except AssertionError as exc:  # say where the signal went (threads' masks, pending)
                raise AssertionError(f"{exc}\n{_signal_state(term.proc.pid)}") from None
            assert "tradebus manual trading" not in again, again
        term.send("quit\r")
        status = term.close()
    except BaseException:
        term.proc.kill()
        term.close()
        raise
    assert status == EXIT_OK  # an interactive session's mistakes do not set the exit status
    assert history.read_text().splitlines()[-4:] == ["balance", "book spot:BTCUSDT 2", "nonsense", "quit"]


def _signal_state(pid: int) -> str:
    """Each thread's signal lines from /proc (blocked, pending, ignored, caught) and wait channel."""
    out = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        lines = (task / "status").read_text().splitlines()
        keep = [ln for ln in lines if ln.startswith(("Name:", "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:"))]
        out.append(f"{task.name} {' '.join(keep)} wchan={(task / 'wchan').read_text()}")
    return "\n".join(out)


# The REPL started as a parent's thread with SIGINT blocked, or a background job, would start it:
# the mask and the ignored disposition survive exec.
SIGINT_BLOCKED_AND_IGNORED = (
    "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}); "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.executable, [sys.executable, '-c', sys.argv[1]])"
)


@pytest.mark.skipif(not _pty_available(), reason="no pseudo-terminal on this platform")
@pytest.mark.skipif(not _readline_available(), reason="Python was built without readline")
@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal masks on this platform")
def test_ctrl_c_at_the_prompt_works_even_when_started_with_sigint_blocked_and_ignored(
    manual_runner: RunnerProc, manual_redis: str, tmp_path: Path
) -> None:
    term = _repl_on_a_terminal(manual_redis, tmp_path / "history", SIGINT_BLOCKED_AND_IGNORED)
    try:
        term.expect(r"binance> ")
        term.send("half-typ")
        term.expect(r"half-typ")
        if not term.wait_in_select():
            pytest.skip("cannot see when the REPL waits for input on this platform")
        term.proc.send_signal(signal.SIGINT)
        term.expect(r"binance> ", timeout=10)  # the line dropped, a fresh prompt
        term.send("quit\r")
        status = term.close()
    except BaseException:
        term.proc.kill()
        term.close()
        raise
    assert status == EXIT_OK


def test_an_order_whose_reply_is_lost_names_its_id_and_can_be_found(
    manual_runner: RunnerProc, manual_redis: str
) -> None:
    """The venue takes the order but never answers (the simulator's 'hang' fault): the call
    times out — an unknown outcome, never a plain timeout — the error names the client id and
    how to look, and the order is found live."""
    admin = f"http://127.0.0.1:{manual_runner.sim_port_base}/_sim/faults"
    with strategy_client.connect(manual_redis, wait_for=manual_runner.name, record=0) as client:
        session = ManualSession(client, Exchange.BINANCE, timeout_s=0.5)
        key = parse_instrument("spot:ETHUSDT", Exchange.BINANCE)
        httpx.post(admin, json={"unknown_next": 1, "unknown_mode": "hang"}).raise_for_status()
        order = PlaceOrder(key=key, side=Side.BUY, qty=Decimal("0.01"), price=Decimal("1000"), client_id="lost-1")
        try:
            with pytest.raises(SessionError) as info:
                session.execute(order, lambda _: None)
        finally:
            httpx.delete(admin).raise_for_status()
        assert describe_error(info.value).startswith("outcome unknown: submit_order to runner ")
        assert "order lost-1 may or may not be live: check with 'orders spot:ETHUSDT'" in str(info.value)
        session.timeout_s = 10.0
        eventually_sync(lambda: session.open_order_ids(key) == ["lost-1"], what="the lost order, live")
        lines: list[str] = []
        session.execute(Cancel(key, "lost-1"), lines.append)
        assert lines[0].startswith("canceled: buy 0.01 binance:spot:ETHUSDT @ 1000 gtc  id lost-1")
