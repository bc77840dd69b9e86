"""``strategy ls`` and ``strategy pause|resume|stop|archive NAME`` (docs/strategies.md, "Lifecycle").

``ls`` lists every strategy instance of the data directory's journals (or of a PostgreSQL
``--journal``) with its lifecycle state. The control commands write a request on the instance's
journal row and wait for the running process to answer it (it polls every 0.2 s); ``stop`` then
waits for the state Stopped. Exit status: 0 done, 1 no answer in time, 2 refused (an illegal
transition, an unknown instance, an instance that is not running) — one line saying why.
"""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
import typer

from strategy_client.journal import JournalError
from strategy_client.journal.lifecycle import (
    InstanceRow,
    LifecycleStore,
    instance_stream,
    list_instances,
    open_instance_journal,
)
from strategy_client.model.lifecycle import (
    RUNNING_STATES,
    IllegalTransition,
    LifecycleState,
    check_transition,
    resume_target,
)

__all__ = ["ls", "pause", "resume", "stop", "archive"]

S = LifecycleState
DataDirOpt = Annotated[str | None, typer.Option("--data-dir", help="as given to the strategy")]
JournalOpt = Annotated[str | None, typer.Option("--journal", help="as given to the strategy (postgresql://…)")]
NameArg = Annotated[str, typer.Argument(help="the instance (`strategy ls`): spotperp, spotperp-paper, signals…")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="seconds to wait for the running strategy", min=0.1)]
_COLUMNS = ("NAME", "MODE", "STATE", "SINCE (UTC)", "PID", "RUNNING", "PAIRS OPEN", "REASON")


def _fail(cmd: str, message: str, code: int = 2) -> None:
    typer.echo(f"strategy {cmd}: error: {message}", err=True)
    raise typer.Exit(code)


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def render_instances(rows: list[InstanceRow]) -> str:
    """The ``strategy ls`` table."""
    cells = [
        (
            r.name,
            r.mode,
            r.state.value,
            _when(r.since_ms),
            str(r.pid or "-"),
            "yes" if r.alive else "no",
            str(r.open_count),
            r.reason,
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [_COLUMNS, *cells]) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(_COLUMNS))).rstrip() for c in [_COLUMNS, *cells]]
    return "\n".join(lines)


def ls(
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON rows")] = False,
) -> None:
    """List the strategy instances: lifecycle state, since when, pid, running, pairs open."""
    try:
        rows = list_instances(journal, data_dir)
    except JournalError as exc:
        _fail("ls", exc.line)
    if as_json:
        typer.echo(msgspec.json.encode(rows).decode())
    elif not rows:
        typer.echo("no strategy instances (none has run with this --data-dir/--journal)")
    else:
        typer.echo(render_instances(rows))


def _control(cmd: str, name: str, data_dir: str | None, journal: str | None, timeout_s: float) -> None:
    try:
        j = open_instance_journal(name, journal, data_dir)
    except JournalError as exc:
        _fail(cmd, f"no strategy instance {name!r} ({exc.line}); `strategy ls` lists them")
        return
    try:
        store = LifecycleStore(j)
        row = store.get(instance_stream(name))
        if row is None:
            _fail(cmd, f"no strategy instance {name!r} in {j.where}; `strategy ls` lists them")
            return
        _ask(cmd, store, row, timeout_s)
    except JournalError as exc:
        _fail(cmd, exc.line)
    finally:
        j.close()


def _target(cmd: str, row: InstanceRow) -> LifecycleState:
    return {"pause": S.PAUSED, "resume": resume_target(row.mode == "paper"), "stop": S.STOPPED}.get(cmd, S.ARCHIVED)


def _ask(cmd: str, store: LifecycleStore, row: InstanceRow, timeout_s: float) -> None:
    target = _target(cmd, row)
    by = f"`strategy {cmd}`"
    try:
        if cmd == "archive" or (cmd == "stop" and not row.alive and row.state in RUNNING_STATES):
            # nothing runs it: the transition is this command's to make (archive a stopped one,
            # record the stop of one whose process died)
            why = "archived" if cmd == "archive" else f"its process (pid {row.pid}) is gone; marked stopped"
            ev = store.transition(row, target, reason=f"{why} by {by}", actor=by)
            typer.echo(f"{row.name}: {ev.from_state.value} → {ev.to_state.value}")
            return
        if not row.alive:
            check_transition(row.name, row.state, target)  # the table's verdict first
            _fail(cmd, f"{row.name} is not running ({row.state.value}; pid {row.pid or '-'} gone)")
        rid = store.request(row, target, by)
    except IllegalTransition as exc:
        _fail(cmd, str(exc))
        return
    answer = _wait_answer(store, row.stream, rid, timeout_s)
    if answer is None:
        _fail(cmd, f"{row.name} (pid {row.pid}) did not answer within {timeout_s:g}s", 1)
        return
    if answer.startswith("refused"):
        _fail(cmd, f"{row.name}: {answer}")
    typer.echo(f"{row.name}: {answer}")
    if target is S.STOPPED:
        _wait_stopped(store, row, timeout_s)


def _wait_answer(store: LifecycleStore, stream: str, rid: int, timeout_s: float) -> str | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = store.get(stream)
        if now is not None and now.answered_id >= rid:
            return now.answer
        time.sleep(0.05)
    return None


def _wait_stopped(store: LifecycleStore, row: InstanceRow, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = store.get(row.stream)
        if now is not None and now.state is S.STOPPED:
            typer.echo(f"{row.name}: stopped ({now.reason})")
            return
        time.sleep(0.1)
    _fail("stop", f"{row.name} asked to stop but still {row.state.value} after {timeout_s:g}s (its stop grace?)", 1)


def pause(name: NameArg, data_dir: DataDirOpt = None, journal: JournalOpt = None, timeout: TimeoutOpt = 5.0) -> None:
    """Pause a running strategy: it opens nothing new and keeps managing its open pairs."""
    _control("pause", name, data_dir, journal, timeout)


def resume(name: NameArg, data_dir: DataDirOpt = None, journal: JournalOpt = None, timeout: TimeoutOpt = 5.0) -> None:
    """Resume a paused strategy (back to active, or paper trading for a --paper instance)."""
    _control("resume", name, data_dir, journal, timeout)


def stop(name: NameArg, data_dir: DataDirOpt = None, journal: JournalOpt = None, timeout: TimeoutOpt = 60.0) -> None:
    """Stop a running strategy as Ctrl-C would (exits within its stop grace) and wait for Stopped."""
    _control("stop", name, data_dir, journal, timeout)


def archive(name: NameArg, data_dir: DataDirOpt = None, journal: JournalOpt = None) -> None:
    """Archive a stopped instance: it never runs again."""
    _control("archive", name, data_dir, journal, 5.0)
