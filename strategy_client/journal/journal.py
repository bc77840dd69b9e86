"""The :class:`Journal`: one process's write-ahead record of its orders, events and state.

Write path::

    journal.write_intent(request)          # synchronous: durable before the order leaves
    await journal.append(EventRecord(...), on_commit=publish)   # queued; committed in batches

``write_intent`` is the one synchronous write: on SQLite with synchronous=normal and the writer
running it goes into the memory-mapped intent log (:mod:`.intent_log`; no system call) and the
writer inserts it; otherwise it is committed on the spot. Everything else goes through a bounded queue to
one writer task (:meth:`run_writer`, owned by the caller's TaskGroup, or :meth:`running`), which
commits batches in a worker thread. Overflow policy: **never drop** — when the queue is full
``append`` waits (backpressure on the caller); ``append_nowait`` raises :class:`JournalBusy`.
A batch that fails to commit (disk full, lock, lost server) stays in memory and is retried with
backoff; :attr:`stats` shows the fault, :meth:`flush` raises it. ``on_commit`` runs on the event
loop after the record's batch committed: publish an event from there, so nothing is published
that the journal does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import msgspec

from ..aio import within
from ..model import Order, OrderRequest, OrderStatus, Position
from ..wire import codec
from . import history, sql
from .errors import (
    DuplicateIntent,
    InvalidRecord,
    JournalBusy,
    JournalClosed,
    JournalError,
    JournalUnavailable,
    JournalWriteFailed,
)
from .intent_log import IntentLog, IntentLogError
from .migrate import check_revision, upgrade
from .paths import JournalTarget, resolve_target, stream_file_name
from .records import (
    BalanceRow,
    DayPnlRow,
    DecisionRow,
    FillRow,
    FundingRow,
    HistoryFilter,
    JournaledEvent,
    JournalRecord,
    JournalStats,
    OrderIntent,
    OrderRow,
    PairPnlRow,
    PairState,
    ProcessInfo,
    PruneReport,
    Run,
)
from .rows import RowBuilder
from .store import SqliteStore, Stmt, Store, StoreOptions

__all__ = ["Journal", "RestartState", "DEFAULT_QUEUE_CAPACITY", "DEFAULT_MAX_BATCH", "RETENTION_ENV"]

log = logging.getLogger("tradebus.journal")

DEFAULT_QUEUE_CAPACITY = 10_000
DEFAULT_MAX_BATCH = 64  # bounds how long an intent can wait for a batch on the shared SQLite connection
INLINE_MAX_BATCH = 8  # SQLite batches up to this size are committed on the event loop (see Journal.__init__)
_REQUEST = msgspec.msgpack.Encoder(decimal_format="string")
_LOG = _REQUEST  # the intent log's payloads: the same encoding
_REQUEST_DEC = msgspec.msgpack.Decoder(OrderRequest)
_STOP: Any = object()
# an intent as the intent log holds it: (run_id, client_id, ts_ns, origin, request) — one encode
# on the order path; the row (sql.INSERT_INTENT's parameters) is derived by the writer (_intent_row)
_Logged = tuple[str, str, int, str, OrderRequest]
_LOG_DEC = msgspec.msgpack.Decoder(_Logged)
ANY = HistoryFilter()  # no filter
RETENTION_ENV = "TRADEBUS_JOURNAL_RETENTION_DAYS"
_FINAL = tuple(s.value for s in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED))


def open_store(target: JournalTarget, options: StoreOptions) -> Store:
    """The store of ``target``'s dialect, opened."""
    store: Store
    if target.dialect == "sqlite":
        store = SqliteStore(target, options)
    else:
        from .pgstore import PostgresStore  # noqa: PLC0415 - psycopg loads only for a PostgreSQL journal

        store = PostgresStore(target, options)
    store.open()
    return store


class RestartState(msgspec.Struct, frozen=True, kw_only=True):
    """What a restarting process reloads: orders to reconcile with the venue, the last event
    sequence (continue after it), and the strategy's pairs."""

    open_orders: tuple[Order, ...]
    unresolved: tuple[Order, ...]  # PENDING / UNKNOWN, and intents the venue never answered
    last_seq: int
    pairs: tuple[PairState, ...]


class _Item(msgspec.Struct):
    stmts: list[Stmt]
    on_commit: Callable[[], None] | None
    log_end: int = 0  # an intent from the intent log: the log's offset after it
    intent: tuple[str, int, str, OrderRequest] | None = None  # its (client_id, ts_ns, origin, request)


def _intent_row(
    stream: str, run_id: str, client_id: str, ts_ns: int, origin: str, request: OrderRequest
) -> tuple[Any, ...]:
    """sql.INSERT_INTENT's parameters."""
    return (
        stream,
        run_id,
        client_id,
        ts_ns,
        str(request.key),
        request.side.value,
        request.type.value,
        request.tif.value,
        str(request.qty),
        None if request.price is None else str(request.price),
        request.reduce_only,
        origin,
        _REQUEST.encode(request),
    )


def intent_log_path(target: JournalTarget, stream: str) -> Path:
    """``<journal file>.<stream>.intents``: next to the SQLite file, one per writing stream."""
    return Path(f"{target.path}.{stream_file_name(stream).removesuffix('.sqlite3')}.intents")


class Journal:
    """Open with :meth:`open`; see the module docstring for the write path."""

    def __init__(
        self,
        store: Store,
        target: JournalTarget,
        *,
        process: ProcessInfo | None,
        stream: str,
        queue_capacity: int,
        max_batch: int,
    ) -> None:
        self._store = store
        self.target = target
        self.process = process
        self.stream = stream
        self.run_id = ""
        self._max_batch = max_batch
        # SQLite commits a small batch (a fill's exec event and its position update) in tens of
        # microseconds: on the loop that is far cheaper than handing it to a worker thread and
        # back (≈1–2 ms on a loaded 2-core machine, and the events wait for it — they are
        # published after commit). Larger batches, and every PostgreSQL batch (a network round
        # trip), go to the thread so the loop never stalls behind them.
        self._inline_max = INLINE_MAX_BATCH if store.dialect == "sqlite" else 0
        self._capacity = queue_capacity
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_capacity)
        self._sql_intent = store.sql(sql.INSERT_INTENT)
        self._sql_intent_import = store.sql(sql.INSERT_INTENT + " ON CONFLICT (stream, client_id) DO NOTHING")
        # the intent log (SQLite, synchronous=normal): see write_intent and docs/journal.md
        self._ilog: IntentLog | None = None
        self._ilog_fallback = ""
        self._known: set[str] = set()  # client ids journaled on this stream (while the log is on)
        self._recovered = 0
        self._torn = 0
        self._corrupt = 0
        self._logged = 0
        self._rows = RowBuilder.for_store(stream, "", store.sql)
        self._closed = False
        self._writer_running = False
        self._writer_stopped: asyncio.Event | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._fault: JournalError | None = None
        self._intents = 0
        self._intent_errors = 0
        self._appended = 0
        self._held: list[_Item] = []  # intents logged with hold=True, not yet queued (release_intents)
        self._committed = 0
        self._batches = 0
        self._dups: dict[str, int] = {}
        self._write_errors = 0
        self._callback_errors = 0

    # ------------------------------------------------------------------------- open / close

    @classmethod
    def open(
        cls,
        journal: str | None = None,
        *,
        process: ProcessInfo | None = None,
        stream: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        options: StoreOptions | None = None,
        queue_capacity: int = DEFAULT_QUEUE_CAPACITY,
        max_batch: int = DEFAULT_MAX_BATCH,
        now_ms: int | None = None,
    ) -> Journal:
        """Open (creating or upgrading) a journal.

        ``journal``: ``--journal`` (``postgresql://…?schema=NAME``, ``sqlite:///file``, a path, or
        ``None`` for SQLite under the data directory). ``process``: who writes — a run row is
        recorded and writes are allowed; without it the journal is opened for reading (history)
        and ``stream`` names whose file to open (and filters reads). Raises a
        :class:`JournalError` with one line: unreachable, corrupt, locked, full, or a schema newer
        than this code (:class:`JournalSchemaTooNew`).
        """
        name = stream or (process.stream if process is not None else "")
        if not name:
            raise InvalidRecord("Journal.open needs a process (to write) or a stream (to read)")
        target = resolve_target(journal, stream=name, data_dir=data_dir)
        if process is None and target.dialect == "sqlite" and not Path(target.path).exists():
            raise JournalUnavailable(
                f"no journal at {target.path}: nothing was journaled as {name} with this --data-dir/--journal"
            )
        store = open_store(target, options or StoreOptions())
        try:
            if check_revision(store.schema_revision(), store.where):
                upgrade(target)
                check_revision(store.schema_revision(), store.where)
            self = cls(store, target, process=process, stream=name, queue_capacity=queue_capacity, max_batch=max_batch)
            if process is not None:
                self._start_run(process, now_ms if now_ms is not None else int(time.time() * 1000))
                self._attach_intent_log(options or StoreOptions())
            elif target.dialect == "sqlite":
                self._import_orphan_log()
        except BaseException:
            store.close()
            raise
        return self

    def _start_run(self, process: ProcessInfo, now_ms: int) -> None:
        run_id = uuid.uuid4().hex
        self._store.maintenance(
            [
                (
                    sql.INSERT_RUN,
                    (
                        run_id,
                        process.stream,
                        process.role,
                        process.name,
                        process.version,
                        process.exchange,
                        process.account,
                        process.strategy,
                        os.getpid(),
                        socket.gethostname(),
                        now_ms,
                    ),
                )
            ],
            "the run could not be recorded; the journal is not open",
        )
        self.run_id = run_id
        self._rows.run_id = run_id

    def _attach_intent_log(self, options: StoreOptions) -> None:
        """Open the intent log, import what a killed process left in it, load the stream's client
        ids. Without it (PostgreSQL, synchronous=full, turned off, or it cannot be created) every
        intent is committed synchronously."""
        if self.dialect != "sqlite" or options.synchronous.lower() != "normal" or not options.intent_log:
            return
        try:
            ilog = IntentLog.open(intent_log_path(self.target, self.stream), options.intent_log_size)
        except IntentLogError as exc:
            self._ilog_fallback = f"{exc}: order intents are committed to SQLite synchronously"
            log.warning("journal %s: %s", self.where, self._ilog_fallback)
            return
        try:
            self._import_log(ilog)
            ilog.touch()
            rows = self._store.query("SELECT client_id FROM order_intents WHERE stream = ?", (self.stream,))
        except BaseException:
            ilog.close()
            raise
        self._known = {str(r[0]) for r in rows}
        self._ilog = ilog

    def _import_orphan_log(self) -> None:
        """Opened for reading: import the intent log a killed writer left (the log's lock is
        free), so history shows its intents; a live writer holds the lock and keeps its log."""
        path = intent_log_path(self.target, self.stream)
        if not path.exists():
            return
        try:
            ilog = IntentLog.open(path)
        except IntentLogError:
            return  # in use by its writer (or unreadable: the writer's next open reports it)
        try:
            if ilog.pending():
                self._import_log(ilog)
        finally:
            ilog.close()

    def _import_log(self, ilog: IntentLog) -> int:
        """Insert (or ignore) the intents past the log's imported offset, then empty the log; a
        damaged log's valid prefix is imported and the file is copied aside. Returns how many."""
        found = ilog.recover()
        rows: list[tuple[Any, ...]] = []
        for payload in found.payloads:
            try:
                rows.append(_intent_row(self.stream, *_LOG_DEC.decode(payload)))
            except msgspec.DecodeError:
                found.corrupt += len(found.payloads) - len(rows)
                break
        if rows:
            self._store.maintenance(
                [(self._sql_intent_import, row) for row in rows],
                f"the intents in {ilog.path} are not imported (they stay in the log)",
            )
            log.info("journal %s: %d order intents imported from %s", self.where, len(rows), ilog.path)
        self._recovered += len(rows)
        if found.torn:
            self._torn += found.torn
            log.warning("journal %s: a torn last record in %s ignored (its order was not sent)", self.where, ilog.path)
        if found.corrupt:
            self._corrupt += found.corrupt
            aside = ilog.set_aside()
            log.error(
                "journal %s: intent log %s is damaged: %d intents imported, %d records not (copy kept at %s)",
                self.where,
                ilog.path,
                len(rows),
                found.corrupt,
                aside,
            )
        else:
            ilog.reset()
        return len(rows)

    @property
    def dialect(self) -> str:
        return self._store.dialect

    @property
    def where(self) -> str:
        return self._store.where

    def close(self, reason: str = "stopped", *, now_ms: int | None = None) -> int:
        """Record the run's end and close the connections. Returns how many appended records
        were never committed (0 after a clean :meth:`drain`); they are lost, and logged."""
        if self._closed:
            return 0
        lost = self._appended - self._committed - self._close_intent_log()
        if lost:
            log.error("journal %s closed with %d records not journaled (%s)", self.where, lost, self._fault_line())
        try:
            if self.run_id:
                stop_ms = now_ms if now_ms is not None else int(time.time() * 1000)
                why = reason if not lost else f"{reason}; {lost} records not journaled"
                try:
                    self._store.maintenance(
                        [(sql.STOP_RUN, (stop_ms, why, self.run_id))], "the run's end is not recorded"
                    )
                except JournalError as exc:
                    log.error("journal %s: the run's end was not recorded: %s", self.where, exc.line)
        finally:
            self._closed = True
            self._store.close()
        return lost

    # ------------------------------------------------------------------------- the intent (synchronous)

    def _close_intent_log(self) -> int:
        """Import what the writer did not (records queued behind a drain); returns how many."""
        ilog, self._ilog = self._ilog, None
        if ilog is None:
            return 0
        try:
            return self._import_log(ilog) if ilog.pending() else 0
        except JournalError as exc:
            log.error("journal %s: %s; the next open imports them", self.where, exc.line)
            return 0
        finally:
            ilog.close()

    def write_intent(
        self, request: OrderRequest, *, ts_ns: int | None = None, origin: str = "", hold: bool = False
    ) -> None:
        """Make an order's intent durable before it is sent. Raises a :class:`JournalError` when
        it could not — then **the order must not be sent** (:class:`DuplicateIntent`: the client
        id was used before).

        With the intent log (SQLite, synchronous=normal, the writer running) the intent is
        written into the memory-mapped log — durable across a crash of the process, as a
        synchronous=normal commit is, with no system call — and queued for the writer, which
        inserts it into SQLite and advances the log. Otherwise it is committed here. With the
        writer running, call it on the writer's event loop (it queues to the writer).

        ``hold``: an intent written into the log is handed to the writer later — by
        :meth:`release_intents` (the order path calls it once the order is sent) or the next
        append, drain or close, whichever comes first — so waking the writer is not on the order's
        path. It is durable either way: the log holds it."""
        if not self.run_id or self._closed:
            raise JournalClosed(f"journal {self.where} is {'closed' if self._closed else 'open for reading only'}")
        client_id = request.client_id
        if not client_id:
            raise InvalidRecord("an order intent needs a client id (it makes the order findable after a restart)")
        if client_id in self._known:
            self._intent_errors += 1
            raise DuplicateIntent(
                f"order intent {client_id!r} is already journaled in {self.where}: a client id is used once"
            )
        ts = time.time_ns() if ts_ns is None else ts_ns
        if not self._log_intent(client_id, ts, origin, request, hold):
            try:
                self._store.insert_intent(
                    self._sql_intent, _intent_row(self.stream, self.run_id, client_id, ts, origin, request)
                )
            except JournalError:
                self._intent_errors += 1
                raise
        if self._ilog is not None:
            self._known.add(client_id)
        self._intents += 1

    def rehearse_intent(self, request: OrderRequest, origin: str = "") -> None:
        """What :meth:`write_intent` does to make ``request``'s intent durable, minus the write:
        the log record encoded and built, its place in the log touched. Nothing is journaled,
        counted or remembered (``exchange_runner/warmth.py``). Without the intent log: nothing."""
        ilog = self._ilog
        if ilog is not None and self.run_id and not self._closed:
            ilog.rehearse(_LOG.encode((self.run_id, request.client_id, time.time_ns(), origin, request)))

    def _log_intent(self, client_id: str, ts_ns: int, origin: str, request: OrderRequest, hold: bool) -> bool:
        """Write the intent into the log and queue it for the writer; False when it cannot (no
        log, no writer, the queue or the log full): then it is committed synchronously. Only
        what makes the intent durable happens here (one encode, one copy); the writer derives
        the row (:func:`_intent_row`)."""
        ilog = self._ilog
        queue = self._queue
        if ilog is None or not self._writer_running or queue.qsize() + len(self._held) >= self._capacity:
            return False
        end = ilog.append(_LOG.encode((self.run_id, client_id, ts_ns, origin, request)))
        if end < 0:
            return False
        item = _Item([], None, end, (client_id, ts_ns, origin, request))
        if hold:
            self._held.append(item)
        else:
            self.release_intents()  # in log order
            queue.put_nowait(item)
        self._appended += 1
        self._logged += 1
        return True

    def release_intents(self) -> None:
        """Hand the intents written with ``hold`` to the writer, in the order they were logged.
        Room for them was counted when they were written, and every append releases them first,
        so the queue takes them."""
        held = self._held
        if held:
            put = self._queue.put_nowait
            for item in held:
                put(item)
            held.clear()

    # ------------------------------------------------------------------------- appends (queued)

    async def append(self, record: JournalRecord, *, on_commit: Callable[[], None] | None = None) -> None:
        """Queue ``record`` for the writer; waits while the queue is full (never drops)."""
        item = self._item(record, on_commit)
        self.release_intents()  # an intent before anything appended after it
        await self._queue.put(item)
        self._appended += 1  # counted once queued: a put cancelled while waiting appended nothing

    def append_nowait(self, record: JournalRecord, *, on_commit: Callable[[], None] | None = None) -> None:
        """Queue ``record`` without waiting; raises :class:`JournalBusy` when the queue is full."""
        item = self._item(record, on_commit)
        self.release_intents()  # an intent before anything appended after it
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            raise JournalBusy(
                f"journal {self.where}: writer queue full ({self._capacity} records); await append() instead"
            ) from None
        self._appended += 1

    def _item(self, record: JournalRecord, on_commit: Callable[[], None] | None) -> _Item:
        if not self.run_id or self._closed:
            raise JournalClosed(f"journal {self.where} is {'closed' if self._closed else 'open for reading only'}")
        if not self._writer_running:
            raise JournalClosed(
                f"journal {self.where}: the writer is not running (start Journal.run_writer() in the owner's TaskGroup)"
            )
        return _Item(self._rows.statements(record), on_commit)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until everything appended so far is committed. Raises the writer's fault (a
        :class:`JournalError`) if a commit is failing, :class:`TimeoutError` after ``timeout``."""
        self.release_intents()
        target = self._appended
        if self._committed >= target:
            return
        if not self._writer_running:
            raise JournalClosed(f"journal {self.where}: {target - self._committed} records wait for a writer")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        try:
            await within(asyncio.shield(fut), timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove((target, fut))

    def _notify(self) -> None:
        for target, fut in list(self._waiters):
            if fut.done():
                continue
            if self._committed >= target:
                fut.set_result(None)
            elif self._fault is not None:
                fut.set_exception(copy.copy(self._fault))

    # ------------------------------------------------------------------------- the writer task

    def run_writer(self) -> Coroutine[Any, Any, None]:
        """The writer loop, as a coroutine for the owner's TaskGroup:
        ``tg.create_task(journal.run_writer())``; end it with :meth:`drain`. Appends are accepted
        from this call on (they queue until the task runs)."""
        if self._writer_running:
            raise RuntimeError("the journal writer is already running")
        self._writer_running = True
        self._writer_stopped = asyncio.Event()
        return self._writer_loop(self._writer_stopped)

    async def _writer_loop(self, stopped: asyncio.Event) -> None:
        try:
            stop = False
            while not stop:
                first = await self._queue.get()
                batch: list[_Item] = []
                if first is _STOP:
                    stop = True
                else:
                    batch.append(first)
                    stop = self._fill(batch)
                if batch and not stop and len(batch) <= self._inline_max:
                    # an inline commit holds the loop: let what is already due run first (a
                    # command's reply, the next order's send), then take what came meanwhile
                    await asyncio.sleep(0)
                    stop = self._fill(batch)
                if batch:
                    await self._commit(batch)
        finally:
            self._writer_running = False
            stopped.set()
            self._notify_closed()

    def _fill(self, batch: list[_Item]) -> bool:
        """Add what is queued to ``batch`` (up to the batch size); True when the stop mark came."""
        while len(batch) < self._max_batch:
            try:
                nxt = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return False
            if nxt is _STOP:
                return True
            batch.append(nxt)
        return False

    def _notify_closed(self) -> None:
        for target, fut in self._waiters:
            if not fut.done() and self._committed < target:
                fut.set_exception(JournalClosed(f"journal {self.where}: the writer stopped"))

    async def _commit(self, batch: list[_Item]) -> None:
        delay = 0.05
        groups = [item.stmts if item.intent is None else self._intent_stmts(item.intent) for item in batch]
        while True:
            try:
                if len(groups) <= self._inline_max:
                    dups = self._store.write_batch(groups)
                else:
                    dups = await asyncio.to_thread(self._store.write_batch, groups)
                break
            except JournalError as exc:
                self._write_errors += 1
                if self._fault is None or self._fault.line != exc.line:
                    log.error("%s", exc.line)
                self._fault = exc
                self._notify()
                await asyncio.sleep(delay)  # retry backoff for a failing disk/server, not a test wait
                delay = min(delay * 2, 2.0)
        if self._fault is not None:
            log.warning("journal %s: writes recovered", self.where)
        self._fault = None
        self._committed_batch(batch, dups)

    def _committed_batch(self, batch: list[_Item], dups: dict[str, int]) -> None:
        for name, n in dups.items():
            self._dups[name] = self._dups.get(name, 0) + n
        self._committed += len(batch)
        self._batches += 1
        ends = [item.log_end for item in batch if item.log_end]
        if ends and self._ilog is not None:
            self._ilog.mark_imported(ends[-1])  # these intents are in SQLite now
        for item in batch:
            if item.on_commit is not None:
                try:
                    item.on_commit()
                except Exception:
                    self._callback_errors += 1
                    log.exception("journal on_commit callback failed")
        self._notify()

    def _intent_stmts(self, intent: tuple[str, int, str, OrderRequest]) -> list[Stmt]:
        row = _intent_row(self.stream, self.run_id, *intent)
        return [Stmt(self._sql_intent_import, row, "intents")]

    async def drain(self, timeout: float | None = 10.0) -> None:
        """Stop the writer after it committed everything queued. Raises
        :class:`JournalWriteFailed` (naming how many records are not journaled) if it cannot
        within ``timeout``; the owner then cancels the writer task."""
        if not self._writer_running or self._writer_stopped is None:
            return
        stopped = self._writer_stopped
        self.release_intents()
        try:
            async with asyncio.timeout(timeout):
                await self._queue.put(_STOP)
                await stopped.wait()
        except TimeoutError:
            pending = self._appended - self._committed
            raise JournalWriteFailed(
                f"journal {self.where}: {pending} records not journaled after {timeout} s ({self._fault_line()})"
            ) from None

    @contextlib.asynccontextmanager
    async def running(self, *, drain_timeout: float | None = 10.0) -> AsyncIterator[Journal]:
        """Run the writer for the block's duration; on exit drain it (:meth:`drain`) and end the
        task. Errors of the block propagate unchanged."""
        task = asyncio.get_running_loop().create_task(self.run_writer(), name=f"journal-writer[{self.stream}]")
        try:
            yield self
        finally:
            try:
                await self.drain(drain_timeout)
            finally:
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _fault_line(self) -> str:
        return self._fault.line if self._fault is not None else "no write error"

    @property
    def fault(self) -> str:
        """The writer's unrecovered write error, "" while it commits (asked on every order: one
        attribute read, not the :attr:`stats` snapshot)."""
        fault = self._fault
        return fault.line if fault is not None else ""

    @property
    def stats(self) -> JournalStats:
        return JournalStats(
            intents=self._intents,
            intent_errors=self._intent_errors,
            appended=self._appended,
            committed=self._committed,
            batches=self._batches,
            queue_depth=self._queue.qsize(),
            queue_capacity=self._capacity,
            duplicate_fills=self._dups.get("fills", 0),
            duplicate_events=self._dups.get("events", 0),
            duplicate_funding=self._dups.get("funding", 0),
            write_errors=self._write_errors,
            callback_errors=self._callback_errors,
            fault=self._fault.line if self._fault is not None else "",
            intent_log=str(self._ilog.path) if self._ilog is not None else "",
            intent_log_fallback=self._ilog_fallback,
            intents_logged=self._logged,
            intents_recovered=self._recovered,
            intents_torn=self._torn,
            intents_corrupt=self._corrupt,
        )

    # ------------------------------------------------------------------------- restart reads

    def _own(self, stream: str | None) -> str:
        return self.stream if stream is None else stream

    def open_orders(self, stream: str | None = None) -> list[Order]:
        """Orders the venue last said are open (new, partially filled)."""
        return history.orders_with_status(self._store, self._own(stream), ("new", "partially_filled"))

    def unresolved_orders(self, stream: str | None = None) -> list[Order]:
        """PENDING and UNKNOWN orders, plus intents no venue answer was ever journaled for
        (returned as PENDING): after a restart each must be looked up at the venue."""
        own = self._own(stream)
        found = history.orders_with_status(self._store, own, ("pending", "unknown"))
        for client_id, ts_ns, blob in self._store.query(
            "SELECT i.client_id, i.ts_ns, i.request FROM order_intents i LEFT JOIN orders o "
            "ON o.stream = i.stream AND o.client_id = i.client_id WHERE i.stream = ? AND o.client_id IS NULL "
            "ORDER BY i.id",
            (own,),
        ):
            req = _REQUEST_DEC.decode(bytes(blob))
            ms = int(ts_ns) // 1_000_000
            found.append(Order.from_request(req, str(client_id), status=OrderStatus.PENDING, created_ts_ms=ms))
        return found

    def order(self, client_id: str, stream: str | None = None) -> Order | None:
        return history.order_by_client_id(self._store, self._own(stream), client_id)

    def intent(self, client_id: str, stream: str | None = None) -> OrderIntent | None:
        rows = self._store.query(
            "SELECT id, stream, run_id, client_id, ts_ns, origin, request FROM order_intents "
            "WHERE stream = ? AND client_id = ?",
            (self._own(stream), client_id),
        )
        if not rows:
            return None
        r = rows[0]
        return OrderIntent(
            id=int(r[0]),
            stream=str(r[1]),
            run_id=str(r[2]),
            client_id=str(r[3]),
            ts_ns=int(r[4]),
            origin=str(r[5]),
            request=_REQUEST_DEC.decode(bytes(r[6])),
        )

    def last_seq(self, stream: str | None = None) -> int:
        """The highest event sequence journaled (0 when none): a restarted runner continues after it."""
        rows = self._store.query("SELECT MAX(seq) FROM events WHERE stream = ?", (self._own(stream),))
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def events_after(self, seq: int, *, stream: str | None = None, limit: int = 10_000) -> list[JournaledEvent]:
        """Journaled events with sequence > ``seq`` in order: a subscriber's gap is replayed from here."""
        rows = self._store.query(
            "SELECT seq, topic, ts_ns, payload, reconciled FROM events WHERE stream = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (self._own(stream), seq, limit),
        )
        return [
            JournaledEvent(
                seq=int(r[0]),
                topic=bytes(r[1]),
                ts_ns=int(r[2]),
                event=codec.decode_event(bytes(r[3])),
                reconciled=bool(r[4]),
            )
            for r in rows
        ]

    def positions(self, stream: str | None = None) -> list[Position]:
        """Each instrument's last journaled position snapshot."""
        return history.latest_positions(self._store, self._own(stream))

    def balances(self, stream: str | None = None) -> list[BalanceRow]:
        """Each wallet asset's last journaled balance."""
        return history.latest_balances(self._store, self._own(stream))

    def pairs(self, strategy: str | None = None, *, include_closed: bool = False) -> list[PairState]:
        """The latest state of each pair (of ``strategy``), open ones only unless ``include_closed``."""
        return history.latest_pairs(self._store, self.stream if self.process else "", strategy, include_closed)

    def restart_state(self) -> RestartState:
        return RestartState(
            open_orders=tuple(self.open_orders()),
            unresolved=tuple(self.unresolved_orders()),
            last_seq=self.last_seq(),
            pairs=tuple(self.pairs()),
        )

    # ------------------------------------------------------------------------- history

    def streams(self) -> list[str]:
        """The processes that wrote to this journal (``role:name``), in order of first run."""
        rows = self._store.query("SELECT stream, MIN(started_ms) AS first FROM runs GROUP BY stream ORDER BY first")
        return [str(r[0]) for r in rows]

    def runs(self, f: HistoryFilter = ANY) -> list[Run]:
        return history.runs(self._store, f)

    def history_orders(self, f: HistoryFilter = ANY) -> list[OrderRow]:
        return history.orders(self._store, f)

    def history_fills(self, f: HistoryFilter = ANY) -> list[FillRow]:
        return history.fills(self._store, f)

    def history_funding(self, f: HistoryFilter = ANY) -> list[FundingRow]:
        return history.funding(self._store, f)

    def pnl_by_pair(self, f: HistoryFilter = ANY) -> list[PairPnlRow]:
        return history.pnl_by_pair(self._store, f)

    def pnl_by_day(self, f: HistoryFilter = ANY, *, source: str = "pairs") -> list[DayPnlRow]:
        """``source`` ``pairs`` (strategy journals) or ``venue`` (fills and funding, runner journals)."""
        if source == "pairs":
            return history.pnl_by_day_pairs(self._store, f)
        if source == "venue":
            return history.pnl_by_day_venue(self._store, f)
        raise InvalidRecord(f"pnl source {source!r}: use pairs or venue")

    def decisions(self, f: HistoryFilter = ANY) -> list[DecisionRow]:
        return history.decisions(self._store, f)

    # ------------------------------------------------------------------------- retention

    def prune(self, older_than_ms: int, *, stream: str | None = None) -> PruneReport:
        """Delete rows older than ``older_than_ms`` (epoch ms) — except what a restart needs:
        orders not final (and their intents and events), and the latest state of every open pair."""
        return history.prune(self._store, older_than_ms, stream)

    def prune_days(self, days: float, *, now_ms: int | None = None, stream: str | None = None) -> PruneReport:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        return self.prune(now - int(days * 86_400_000), stream=stream)

    def apply_retention(self, days: float | None = None, *, now_ms: int | None = None) -> PruneReport | None:
        """Prune by the retention setting: ``days``, else ``$TRADEBUS_JOURNAL_RETENTION_DAYS``;
        unset (the default) keeps everything and returns None."""
        if days is None:
            env = os.environ.get(RETENTION_ENV, "").strip()
            if not env:
                return None
            try:
                days = float(env)
            except ValueError:
                raise InvalidRecord(f"{RETENTION_ENV}={env!r} is not a number of days") from None
        if days <= 0:
            raise InvalidRecord(f"retention of {days:g} days: give a positive number of days")
        return self.prune_days(days, now_ms=now_ms)

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the filesystem (SQLite VACUUM; PostgreSQL VACUUM)."""
        self._store.vacuum()
