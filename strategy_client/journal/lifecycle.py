"""Strategy instances' lifecycle state in the journal, and the control channel to a running one.

One row per instance (``strategy_instances``, keyed by the journal stream ``strategy:<name>``):
its lifecycle state and since when, the process running it (pid, host, a heartbeat every
second) and how many pairs it has open. Every transition is also a ``lifecycle_events`` row.
A transition is written as a compare-and-set on the state it leaves, checked against the one
table in :mod:`strategy_client.model.lifecycle`, so two processes can never both move it.

**Control channel** (``strategy pause|resume|stop NAME`` from another shell): the command
writes a request on the row (``request_id`` + 1, the state asked for, who asked); the running
process polls its row (every 0.2 s) and answers (``answered_id``, ``answer``: the transition
made, or why not). A polled row, not Redis pub/sub: the request is durable (a strategy that is
busy or restarting finds it), needs no other server, and works the same on SQLite and
PostgreSQL; a message published while nobody listens would be lost.

:func:`list_instances` is the one read for other tools (``strategy ls``, the gateway).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import msgspec

from ..model.lifecycle import RUNNING_STATES, LifecycleState, check_transition
from .errors import JournalError
from .journal import Journal
from .paths import journal_files

__all__ = [
    "HEARTBEAT_STALE_MS",
    "InstanceRow",
    "LifecycleEvent",
    "LifecycleStore",
    "ControlRequest",
    "StaleState",
    "list_instances",
    "open_instance_journal",
    "instance_stream",
]

#: a running instance writes its heartbeat every second; older than this, its process is gone
HEARTBEAT_STALE_MS = 5_000

_COLS = (
    "stream, name, strategy, mode, state, since_ms, reason, run_id, pid, host, open_count, heartbeat_ms, "
    "request_id, request_state, request_by, request_ms, answered_id, answer"
)


_NO_REQUEST = (0, "", "", 0, 0, "")  # request_id, request_state, request_by, request_ms, answered_id, answer


class StaleState(JournalError):
    """The row's state is not the one the transition leaves (another process moved it)."""


class InstanceRow(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy instance as ``strategy ls`` shows it."""

    name: str
    stream: str
    strategy: str
    mode: str  # live | paper
    state: LifecycleState
    since_ms: int
    reason: str
    run_id: str
    pid: int
    host: str
    open_count: int
    heartbeat_ms: int
    alive: bool  # its process is running (heartbeat fresh, and the pid exists when on this host)
    request_id: int
    request_state: str
    request_by: str
    request_ms: int
    answered_id: int
    answer: str
    journal: str = ""  # where the row was read


class LifecycleEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A transition, as journaled and as published (``tradebus:strategy:lifecycle``)."""

    v: int = 1
    instance: str
    stream: str
    strategy: str
    mode: str
    from_state: LifecycleState = msgspec.field(name="from")
    to_state: LifecycleState = msgspec.field(name="to")
    transition: str
    reason: str
    actor: str
    ts_ms: int
    pid: int
    host: str


class ControlRequest(msgspec.Struct, frozen=True, kw_only=True):
    request_id: int
    state: LifecycleState
    by: str


def instance_stream(name: str) -> str:
    return f"strategy:{name}"


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(state: LifecycleState, pid: int, host: str, heartbeat_ms: int, now_ms: int) -> bool:
    if state not in RUNNING_STATES or now_ms - heartbeat_ms > HEARTBEAT_STALE_MS:
        return False
    return host != socket.gethostname() or _pid_exists(pid)


def _row(r: tuple[object, ...], where: str, now_ms: int) -> InstanceRow:
    state = LifecycleState(str(r[4]))
    pid, host, hb = int(str(r[8])), str(r[9]), int(str(r[11]))
    return InstanceRow(
        stream=str(r[0]),
        name=str(r[1]),
        strategy=str(r[2]),
        mode=str(r[3]),
        state=state,
        since_ms=int(str(r[5])),
        reason=str(r[6]),
        run_id=str(r[7]),
        pid=pid,
        host=host,
        open_count=int(str(r[10])),
        heartbeat_ms=hb,
        alive=_alive(state, pid, host, hb, now_ms),
        request_id=int(str(r[12])),
        request_state=str(r[13]),
        request_by=str(r[14]),
        request_ms=int(str(r[15])),
        answered_id=int(str(r[16])),
        answer=str(r[17]),
        journal=where,
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class LifecycleStore:
    """The lifecycle rows of one journal (a writer's own, or one opened for control/reading)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._store = journal._store  # the journal package's own store (same package)

    # -- reads --------------------------------------------------------------------------------
    def get(self, stream: str) -> InstanceRow | None:
        rows = self._store.query(f"SELECT {_COLS} FROM strategy_instances WHERE stream = ?", (stream,))
        return _row(rows[0], self.journal.where, _now_ms()) if rows else None

    def all(self) -> list[InstanceRow]:
        now = _now_ms()
        rows = self._store.query(f"SELECT {_COLS} FROM strategy_instances ORDER BY name")
        return [_row(r, self.journal.where, now) for r in rows]

    def events(self, stream: str) -> list[LifecycleEvent]:
        row = self.get(stream)
        rows = self._store.query(
            "SELECT ts_ms, from_state, to_state, transition, reason, actor FROM lifecycle_events "
            "WHERE stream = ? ORDER BY id",
            (stream,),
        )
        return [
            LifecycleEvent(
                instance=row.name if row else stream.removeprefix("strategy:"),
                stream=stream,
                strategy=row.strategy if row else "",
                mode=row.mode if row else "",
                from_state=LifecycleState(str(r[1])),
                to_state=LifecycleState(str(r[2])),
                transition=str(r[3]),
                reason=str(r[4]),
                actor=str(r[5]),
                ts_ms=int(str(r[0])),
                pid=row.pid if row else 0,
                host=row.host if row else "",
            )
            for r in rows
        ]

    # -- the running process's writes ---------------------------------------------------------
    def register(self, *, stream: str, name: str, strategy: str, mode: str) -> InstanceRow:
        """The instance's row (created in Draft the first time); this process's pid and host."""
        now = _now_ms()
        self._store.maintenance(
            [
                (
                    f"INSERT INTO strategy_instances ({_COLS}) VALUES ({', '.join('?' * 18)})"
                    " ON CONFLICT (stream) DO NOTHING",
                    (
                        stream,
                        name,
                        strategy,
                        mode,
                        LifecycleState.DRAFT.value,
                        now,
                        "new instance",
                        "",
                        0,
                        "",
                        0,
                        0,
                        *_NO_REQUEST,
                    ),
                ),
            ],
            "the strategy's lifecycle row could not be written",
        )
        row = self.get(stream)
        assert row is not None
        return row

    def transition(
        self, row: InstanceRow, to_state: LifecycleState, *, reason: str, actor: str, take_over: bool = False
    ) -> LifecycleEvent:
        """Move ``row`` from its state to ``to_state`` (the table decides; :class:`IllegalTransition`
        otherwise), as a compare-and-set (:class:`StaleState` when it moved meanwhile).
        ``take_over``: this process runs the instance now (pid, host, run id, heartbeat)."""
        name = check_transition(row.name, row.state, to_state)
        now = _now_ms()
        pid, host = (os.getpid(), socket.gethostname()) if take_over else (row.pid, row.host)
        run_id = self.journal.run_id if take_over else row.run_id
        cas = (row.stream, row.state.value)  # the row must still be in the state this leaves
        counts = self._store.maintenance(
            [
                (
                    "INSERT INTO lifecycle_events (stream, run_id, ts_ms, from_state, to_state, transition, reason, "
                    "actor) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS "
                    "(SELECT 1 FROM strategy_instances WHERE stream = ? AND state = ?)",
                    (row.stream, run_id, now, row.state.value, to_state.value, name, reason, actor, *cas),
                ),
                (
                    "UPDATE strategy_instances SET state = ?, since_ms = ?, reason = ?, pid = ?, host = ?, run_id = ?, "
                    "heartbeat_ms = ? WHERE stream = ? AND state = ?",
                    (to_state.value, now, reason, pid, host, run_id, now, row.stream, row.state.value),
                ),
            ],
            "the lifecycle transition was not recorded",
        )
        if counts[-1] != 1:
            raise StaleState(f"{row.name}: its state is no longer {row.state.value} (another process moved it)")
        return LifecycleEvent(
            instance=row.name,
            stream=row.stream,
            strategy=row.strategy,
            mode=row.mode,
            from_state=row.state,
            to_state=to_state,
            transition=name,
            reason=reason,
            actor=actor,
            ts_ms=now,
            pid=pid,
            host=host,
        )

    def heartbeat(self, stream: str, open_count: int) -> None:
        self._store.maintenance(
            [
                (
                    "UPDATE strategy_instances SET heartbeat_ms = ?, open_count = ? WHERE stream = ?",
                    (_now_ms(), open_count, stream),
                )
            ],
            "the strategy's heartbeat was not written",
        )

    def pending_request(self, stream: str, handled: int) -> ControlRequest | None:
        rows = self._store.query(
            "SELECT request_id, request_state, request_by FROM strategy_instances WHERE stream = ? AND request_id > ?",
            (stream, handled),
        )
        if not rows:
            return None
        rid, state, by = rows[0]
        try:
            target = LifecycleState(str(state))
        except ValueError:
            self.answer(stream, int(str(rid)), f"refused: unknown state {state!r}")
            return None
        return ControlRequest(request_id=int(str(rid)), state=target, by=str(by))

    def answer(self, stream: str, request_id: int, text: str) -> None:
        self._store.maintenance(
            [
                (
                    "UPDATE strategy_instances SET answered_id = ?, answer = ? WHERE stream = ? AND answered_id < ?",
                    (request_id, text, stream, request_id),
                )
            ],
            "the control request's answer was not written",
        )

    # -- another process's control ------------------------------------------------------------
    def request(self, row: InstanceRow, to_state: LifecycleState, by: str) -> int:
        """Ask the running process of ``row`` to go to ``to_state``; the request id to wait for.
        Checked against the table first (:class:`IllegalTransition`)."""
        check_transition(row.name, row.state, to_state)
        self._store.maintenance(
            [
                (
                    "UPDATE strategy_instances SET request_id = request_id + 1, request_state = ?, request_by = ?, "
                    "request_ms = ? WHERE stream = ?",
                    (to_state.value, by, _now_ms(), row.stream),
                )
            ],
            "the control request was not written",
        )
        fresh = self.get(row.stream)
        assert fresh is not None
        return fresh.request_id


def open_instance_journal(name: str, journal: str | None = None, data_dir: str | None = None) -> Journal:
    """The journal holding instance ``name`` (``spotperp``, ``spotperp-paper``, ``signals``…), opened
    for reading and control; :class:`JournalUnavailable` when there is none."""
    return Journal.open(journal, stream=instance_stream(name), data_dir=data_dir)


def list_instances(journal: str | None = None, data_dir: str | os.PathLike[str] | None = None) -> list[InstanceRow]:
    """Every strategy instance with its lifecycle state — the one read for ``strategy ls`` and
    other tools (the gateway). ``journal``: a PostgreSQL URL (one schema holds every instance) or
    None for the SQLite journals (``strategy-*.sqlite3``) in the data directory. A journal that
    cannot be read is skipped (the others are still listed)."""
    if journal:
        j = Journal.open(journal, stream="strategy:*")
        try:
            return LifecycleStore(j).all()
        finally:
            j.close()
    out: list[InstanceRow] = []
    for path in journal_files(data_dir):
        if not path.name.startswith("strategy-"):
            continue
        out += _instances_in(path)
    return sorted(out, key=lambda r: r.name)


def _instances_in(path: Path) -> list[InstanceRow]:
    try:
        j = Journal.open(str(path), stream="strategy:" + path.stem.removeprefix("strategy-"))
    except JournalError:
        return []  # unreadable (corrupt, locked, too new): the others are still listed
    try:
        return LifecycleStore(j).all()
    except JournalError:
        return []
    finally:
        j.close()
