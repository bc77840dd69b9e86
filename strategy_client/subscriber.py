"""ZmqEventSubscriber: one SUB socket on one runner's PUB, delivering typed items.

* **Filters** become ZeroMQ prefix subscriptions (:class:`EventFilter`): only the wanted
  topics cross the network.
* **Sequence numbers** are checked per topic (:class:`SeqTracker`). A jump is a :class:`Gap`
  (``reason="gap"``), a step back a runner restart (``"reset"``); either way the topic's state is
  fetched over the command socket — the book with its sequence number (older events are then
  dropped as stale), the open orders for ``exec``, the position for ``pos``, the rate for
  ``fund``, the account for ``acct`` — and delivered in the :class:`Gap` before the event that
  revealed it, so the consumer can reconcile.
* **Late subscriber**: on start (and after every reconnect) a :class:`Snapshot` of the state the
  filter covers is delivered (``snapshot=True``, the default).
* **Restarts**: the socket's monitor notices the connection drop; ZeroMQ reconnects to the same
  endpoint by itself, :meth:`retarget` moves to new ports; both end in a ``"reconnect"`` snapshot.

Reading runs in one owned task, woken by the event loop's reader callback on the socket's file
descriptor; it hands items to an :class:`EventQueue` (its own, or one shared by several
subscribers: :class:`~strategy_client.subscription.Subscription` merges runners that way). While
that task sleeps with nothing to do, the callback reads and delivers what arrives itself — the
usual case, one event at a time — instead of waking the task for it, which costs a turn of the
event loop (tens of µs on a busy 2-core machine) between the event's arrival and the consumer;
an event that has to wait (a gap to repair, a full queue) is handed to the task, which carries on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import zmq

from .aio import within
from .connection import ConnectionMonitor, fd_of, readable, recv_frames
from .core_api import CoreApi
from .errors import CoreApiError, NotFound, RunnerUnavailable
from .events import EventFilter, EventItem, EventQueue, Gap, Received, Snapshot
from .gap_report import reporter_for
from .model import Exchange, FundingRate, InstrumentKey, MarketKind, OrderBook
from .sequence import SeqTracker, Verdict
from .wire import ParsedTopic, TopicKind, decode_event, decode_header, parse_topic, topic

if TYPE_CHECKING:
    from .security import CurveClient

__all__ = ["ZmqEventSubscriber"]

log = logging.getLogger("strategy_client.subscriber")

_BATCH = 512


class ZmqEventSubscriber:
    """Async iterator of :data:`~strategy_client.events.EventItem` from one runner."""

    def __init__(
        self,
        endpoint: str,
        *,
        runner: str,
        exchange: Exchange,
        filter: EventFilter | None = None,
        api: CoreApi | None = None,
        sink: EventQueue | None = None,
        snapshot: bool = True,
        resync: bool = True,
        context: zmq.Context[Any] | None = None,
        rcvhwm: int = 100_000,
        connect_timeout_s: float = 2.0,
        resync_timeout_s: float = 3.0,
        curve: CurveClient | None = None,
        client_kind: str = "client",
    ) -> None:
        """``curve``: connect over CURVE with these keys (``strategy_client.security``).
        ``client_kind``: the label its lost events are counted under at the runner (``losses``)."""
        self.endpoint = endpoint
        self.curve = curve
        self.runner = runner
        self.exchange = exchange
        self.filter = filter or EventFilter()
        self.api = api
        self.snapshot = snapshot
        self.resync = resync
        self.rcvhwm = rcvhwm
        self.connect_timeout_s = connect_timeout_s
        self.resync_timeout_s = resync_timeout_s
        self._own_sink = sink is None
        self.sink = sink if sink is not None else EventQueue()
        self._ctx: zmq.Context[Any] = context or zmq.Context.instance()
        self._sock: zmq.Socket[bytes] | None = None
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitor: ConnectionMonitor | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._pending_snapshot: str | None = None
        self._idle = False  # the reader task sleeps on _wake with nothing left to read
        self._deferred: Awaitable[None] | None = None  # what the callback read but could not finish
        self._snapshotted = False
        # "hold": read nothing until the (re)connect snapshot is queued, so it comes first;
        # "drain": the connection dropped — deliver what it brought, then hold
        self._hold: str | None = "hold" if snapshot else None
        self._seq = SeqTracker()
        self._jseq: dict[bytes, int] = {}  # topic → the runner's journal sequence of the last event taken
        self._topics: dict[bytes, tuple[str, ParsedTopic]] = {}
        self._bad_logged: set[str] = set()
        # counters
        self.received = 0
        self.gaps = 0
        self.resets = 0
        self.stale = 0
        self.snapshots = 0
        self.resync_failures = 0
        self.bad_frames = 0
        self.unknown_events = 0
        self.taken_in_callback = 0  # events read and delivered by the reader callback (no task wake-up)
        # events lost (sequence holes), counted here and reported to the runner (gap_report.py)
        self.losses = reporter_for(api, exchange, runner=runner, client_kind=client_kind)
        self.replayed = 0  # events recovered from the runner's journal after a gap (no snapshot needed)

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def lost(self) -> int:
        """Events this subscriber did not receive, by the topics' sequence numbers."""
        return self.losses.lost

    @property
    def connected(self) -> bool:
        return self._monitor is not None and self._monitor.up

    def open(self) -> None:
        """Connect and start the reader task (returns at once; needs a running loop)."""
        if self._sock is None:
            loop = asyncio.get_running_loop()
            sock: zmq.Socket[bytes] = zmq.Socket(self._ctx, zmq.SUB)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, self.rcvhwm)
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            # a dead peer is found by TCP keepalive, not ZMTP heartbeats: with a heartbeat, a
            # subscriber whose receive queue stayed full past the timeout (a paused process) has
            # its connection killed and libzmq 4.3.5 aborts the process when it reads again
            # (assertion ``_input_stopped``, zeromq/libzmq#3937; tests/runner/test_pub_drops.py)
            sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
            sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, 2)
            sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, 1)
            sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, 3)
            if self.curve is not None:
                self.curve.apply(sock)
            for prefix in self.filter.prefixes(self.exchange):
                sock.setsockopt(zmq.SUBSCRIBE, prefix)
            self._loop = loop
            self._sock = sock
            self._monitor = ConnectionMonitor(sock, self.endpoint, self._on_state)
            sock.connect(self.endpoint)
            self._fd = fd_of(sock)
            loop.add_reader(self._fd, self._on_fd)
            self._task = loop.create_task(self._run(), name=f"zmq-sub:{self.runner}")

    @property
    def ready(self) -> bool:
        """Connected once and the initial snapshot (if any) queued."""
        return self._ready.is_set()

    async def start(self, *, wait: bool = True) -> bool:
        """:meth:`open`; with ``wait``, return once connected and the initial snapshot is
        queued (True), or after ``connect_timeout_s`` + ``resync_timeout_s`` (False: still trying)."""
        self.open()
        if not wait:
            return self._ready.is_set()
        return await self.wait_ready()

    async def wait_ready(self, timeout_s: float | None = None) -> bool:
        budget = timeout_s if timeout_s is not None else self.connect_timeout_s + self.resync_timeout_s
        try:
            await within(self._ready.wait(), budget)
        except TimeoutError:
            return False
        return True

    def retarget(self, endpoint: str, curve: CurveClient | None = None) -> None:
        """Follow a restarted runner to new ports (or a new server key ``curve``); a
        ``"reconnect"`` snapshot follows."""
        new_key = curve is not None and (self.curve is None or curve.server != self.curve.server)
        if endpoint == self.endpoint and not new_key:
            return
        if curve is not None:
            self.curve = curve
            if self._sock is not None:
                curve.apply(self._sock)  # used by the next connect
        old, self.endpoint = self.endpoint, endpoint
        if self._sock is None or self._monitor is None:
            return
        try:
            self._sock.disconnect(old)
        except zmq.ZMQError:
            pass
        self._monitor.retarget(endpoint)
        self._sock.connect(endpoint)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        deferred, self._deferred = self._deferred, None
        if asyncio.iscoroutine(deferred):
            deferred.close()  # read by the callback, never taken by the task: closing drops it
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        if self._sock is not None:
            if self._loop is not None:
                try:
                    self._loop.remove_reader(self._fd)
                except (RuntimeError, ValueError):
                    pass
            self._sock.close(linger=0)
            self._sock = None
        await self.losses.close()
        if self._own_sink:
            self.sink.close()

    async def __aenter__(self) -> ZmqEventSubscriber:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> ZmqEventSubscriber:
        return self

    async def __anext__(self) -> EventItem:
        item = await self.sink.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def get(self, timeout_s: float | None = None) -> EventItem | None:
        return await self.sink.get(timeout_s)

    # -- callbacks ------------------------------------------------------------------------
    def _on_fd(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            if not readable(sock):
                return
            if (
                self._idle
                and self._deferred is None
                and self._pending_snapshot is None
                and self._hold is None
                and self._read_now(sock)
            ):
                return  # all read and delivered here: the task sleeps on
        except zmq.ZMQError:
            return
        self._wake.set()

    def _read_now(self, sock: zmq.Socket[bytes]) -> bool:
        """Read and deliver in this callback what waits on the socket, up to a batch; True when
        it is drained. The first event that has to wait (its gap repaired, room in the queue)
        stops the read-out: it is left in ``_deferred`` for the task, which takes it first."""
        for _ in range(_BATCH):
            if not readable(sock):
                return True
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return True
            deferred = self._take(frames)
            if deferred is not None:
                self._deferred = deferred
                return False
            self.taken_in_callback += 1
        return False

    def _on_state(self, up: bool, reason: str) -> None:
        if not up:
            log.info("subscriber %s: %s at %s", self.runner, reason, self.endpoint)
            if self._hold is None:
                self._hold = "drain"
            return
        self._pending_snapshot = "reconnect" if self._snapshotted else "initial"
        self._wake.set()

    # -- the reader task -------------------------------------------------------------------
    async def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        while True:
            if self._deferred is not None:  # the callback's read-out stopped at an event that waits
                deferred, self._deferred = self._deferred, None
                await deferred
            if self._pending_snapshot is not None:
                await self._on_connected(self._pending_snapshot)
            n = 0
            while n < _BATCH and self._pending_snapshot is None and self._hold != "hold":
                if not readable(sock):  # asked, not raised: a zmq.Again per read-out costs more
                    if self._hold == "drain":
                        self._hold = "hold"
                    break
                try:
                    frames = recv_frames(sock)
                except zmq.Again:
                    break
                n += 1
                await self._handle(frames)
            if n == _BATCH or self._pending_snapshot is not None:
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            if self._hold != "hold" and readable(sock):
                continue
            self._idle = True
            try:
                await self._wake.wait()
            finally:
                self._idle = False

    async def _on_connected(self, reason: str) -> None:
        self._pending_snapshot = None
        if reason == "reconnect":
            self._seq.clear()  # a new publisher, or one that may have dropped events: start over
            self.losses.restart()
        if self.snapshot or reason == "reconnect":
            snap = await self._fetch(self.filter.effective_kinds(), self.filter.keys_of(self.exchange), reason)
            await self.sink.put(snap)
        self._snapshotted = True
        self._hold = None
        self._ready.set()

    async def _handle(self, frames: list[bytes]) -> None:
        deferred = self._take(frames)
        if deferred is not None:
            await deferred

    def _take(self, frames: list[bytes]) -> Awaitable[None] | None:
        """Check and deliver one event without waiting; what is left to wait for (a gap's repair,
        room in a full queue), not started yet, else None."""
        if len(frames) != 3:
            self._bad("frames", f"event of {len(frames)} frames, expected [topic, header, event]")
            return None
        raw_topic, raw_header, raw_event = frames
        parsed = self._topics.get(raw_topic)
        if parsed is None:
            try:
                parsed = (raw_topic.decode(), parse_topic(raw_topic))
            except (ValueError, UnicodeDecodeError) as exc:
                self._bad("topic", f"bad topic {raw_topic[:80]!r}: {exc}")
                return None
            self._topics[raw_topic] = parsed
        try:
            header = decode_header(raw_header)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._bad("header", f"undecodable header on {parsed[0]}: {exc}")
            return None
        self.losses.see(raw_topic, header.seq)
        verdict, expected = self._seq.check(raw_topic, header.seq)
        if verdict is Verdict.STALE:
            self.stale += 1
            return None
        try:
            event = decode_event(raw_event)
        except (msgspec.DecodeError, msgspec.ValidationError):
            # a newer runner's event type: ignored (docs/protocol.md), but its sequence counts
            self.unknown_events += 1
            rec: Received | None = None
        else:
            text, pt = parsed
            rec = Received(
                runner=self.runner,
                topic=text,
                kind=pt.kind,
                exchange=pt.exchange,
                key=pt.key,
                seq=header.seq,
                sent_ns=header.ts,
                recv_ns=time.time_ns(),
                event=event,
                jseq=header.jseq,
            )
            self.received += 1
        if verdict is Verdict.GAP or verdict is Verdict.RESET:
            return self._on_loss(raw_topic, parsed, verdict, expected, header.seq, rec, header.jseq)
        self._seq.accept(raw_topic, header.seq)
        if header.jseq:
            self._jseq[raw_topic] = header.jseq
        if rec is not None and not self.sink.put_nowait(rec):
            return self.sink.put(rec)
        return None

    async def _on_loss(
        self,
        raw_topic: bytes,
        parsed: tuple[str, ParsedTopic],
        verdict: Verdict,
        expected: int,
        seq: int,
        rec: Received | None,
        jseq: int = 0,
    ) -> None:
        text, pt = parsed
        if verdict is Verdict.GAP and jseq and await self._replay(raw_topic, parsed, expected, seq, jseq):
            self._seq.accept(raw_topic, seq)
            self._jseq[raw_topic] = jseq
            if rec is not None:
                await self.sink.put(rec)
            return
        self._jseq.pop(raw_topic, None)
        reason = "gap" if verdict is Verdict.GAP else "reset"
        if verdict is Verdict.GAP:
            self.gaps += 1
        else:
            self.resets += 1
        log.info("subscriber %s: %s on %s (expected %d, got %d); resyncing", self.runner, reason, text, expected, seq)
        snap: Snapshot | None = None
        if self.resync and self.api is not None:
            keys = [pt.key] if pt.key is not None else None
            if verdict is Verdict.RESET:  # a new publisher: its numbers start over
                self._seq.forget(raw_topic)
            snap = await self._fetch(frozenset({pt.kind}), keys, reason)
        gap = Gap(
            runner=self.runner,
            topic=text,
            kind=pt.kind,
            exchange=pt.exchange,
            key=pt.key,
            expected=expected,
            received=seq,
            reason=reason,
            snapshot=snap,
            error=snap.error if snap is not None else _no_resync(self.resync),
            ts_ns=time.time_ns(),
        )
        await self.sink.put(gap)
        if pt.kind is TopicKind.BOOK and snap is not None and snap.books is not None:
            last = self._seq.last(raw_topic)
            if last is not None and last >= seq:  # the snapshot is at least as new: drop the event
                self.stale += 1
                return
        self._seq.accept(raw_topic, seq)
        if rec is not None:
            await self.sink.put(rec)

    async def _replay(
        self, raw_topic: bytes, parsed: tuple[str, ParsedTopic], expected: int, seq: int, jseq: int
    ) -> bool:
        """A gap on a journaled topic (``exec``, ``pos``, ``acct``, funding payments): fetch the
        missed events from the runner's journal (``replay_events`` after the last ``jseq`` taken on
        the topic) and deliver them in order, with the sequence numbers they were published with.
        False (the caller falls back to a snapshot) unless exactly the missing events came back —
        e.g. a ``fund`` gap that also lost funding rates (market data, never journaled)."""
        after = self._jseq.get(raw_topic)
        replay = getattr(self.api, "replay_events", None)
        if after is None or replay is None or not self.resync:
            return False
        missing = seq - expected
        got: list[Any] = []
        try:
            while len(got) <= missing:
                rep = await replay(self.exchange, after, topic=raw_topic, timeout_s=self.resync_timeout_s)
                done = not rep.more
                for ev in rep.events:
                    if ev.jseq >= jseq:
                        done = True
                        break
                    if ev.topic == raw_topic:
                        got.append(ev)
                if done:
                    break
                after = rep.next_after
            events = [decode_event(ev.event) for ev in got]
        except (CoreApiError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.info("subscriber %s: replay on %s failed (%s); taking a snapshot", self.runner, parsed[0], exc)
            return False
        if len(events) != missing:
            log.info(
                "subscriber %s: replay on %s gave %d of %d missed events; taking a snapshot",
                self.runner,
                parsed[0],
                len(events),
                missing,
            )
            return False
        text, pt = parsed
        now = time.time_ns()
        for i, (ev, event) in enumerate(zip(got, events, strict=True)):
            await self.sink.put(
                Received(
                    runner=self.runner,
                    topic=text,
                    kind=pt.kind,
                    exchange=pt.exchange,
                    key=pt.key,
                    seq=expected + i,
                    sent_ns=ev.ts_ns,
                    recv_ns=now,
                    event=event,
                    jseq=ev.jseq,
                )
            )
        self.replayed += len(events)
        self.gaps += 1
        log.info("subscriber %s: gap on %s (%d events) replayed from the runner's journal", self.runner, text, missing)
        return True

    def _bad(self, kind: str, what: str) -> None:
        self.bad_frames += 1
        if kind not in self._bad_logged:
            self._bad_logged.add(kind)
            log.warning("subscriber %s: %s (first of its kind; counted in bad_frames)", self.runner, what)

    # -- snapshots -------------------------------------------------------------------------
    def _seeded_books(self, rep: Any, keys: list[InstrumentKey] | None) -> tuple[OrderBook, ...]:
        """The snapshot's books of ``keys`` (None: all), each topic seeded with the snapshot's
        sequence number; a book older than one already delivered is left out."""
        seqs = {ts.topic: ts.seq for ts in rep.seqs}
        kept = []
        for book in rep.books:
            if keys is not None and book.key not in keys:
                continue
            t = topic(TopicKind.BOOK, self.exchange, book.key)
            if self._seq.seed(t, seqs.get(t, 0)):
                kept.append(book)
        return tuple(kept)

    async def _fetch(
        self,
        kinds: frozenset[TopicKind],
        keys: list[InstrumentKey] | None,
        reason: str,
    ) -> Snapshot:
        """The state of ``kinds`` × ``keys`` (None: all) now. Book topics are seeded with the
        snapshot's sequence numbers; a book older than one already delivered is left out."""
        self.snapshots += 1
        if self.api is None:
            return Snapshot(
                runner=self.runner,
                exchange=self.exchange,
                reason=reason,
                error="no command client to fetch the state from",
                ts_ns=time.time_ns(),
            )
        api = self.api
        ex = self.exchange
        timeout = self.resync_timeout_s
        errors: list[str] = []
        parts: dict[str, Any] = {}

        deadline = time.monotonic() + timeout

        async def part(name: str, call: Any) -> None:
            # the events socket is back, so the runner is: its command socket may not have
            # noticed yet (ZeroMQ reconnects with a backoff) — retry "unavailable" until the deadline
            while True:
                try:
                    parts[name] = await call()
                    return
                except RunnerUnavailable as exc:
                    if time.monotonic() >= deadline:
                        errors.append(f"{name}: {type(exc).__name__}: {exc}")
                        return
                    await asyncio.sleep(0.05)
                except CoreApiError as exc:
                    errors.append(f"{name}: {type(exc).__name__}: {exc}")
                    return

        one = keys[0] if keys is not None and len(keys) == 1 else None
        calls: dict[str, Callable[[], Awaitable[Any]]] = {}
        if TopicKind.BOOK in kinds:
            calls["books"] = lambda: api.get_book_snapshot(tuple(keys) if keys else ex, timeout_s=timeout)
        if TopicKind.EXECUTION in kinds:
            calls["orders"] = lambda: api.get_open_orders(one if one is not None else ex, timeout_s=timeout)
        if TopicKind.POSITION in kinds:
            if one is not None:
                calls["position"] = lambda: api.get_position(one, timeout_s=timeout)
            else:
                calls["positions"] = lambda: api.get_all_positions(ex, timeout_s=timeout)
        if TopicKind.ACCOUNT in kinds:
            calls["account"] = lambda: api.get_account_snapshot(ex, timeout_s=timeout)
        if TopicKind.FUNDING in kinds:
            calls["funding"] = lambda: self._fetch_funding(keys, errors)
        await asyncio.gather(*(part(name, call) for name, call in calls.items()))

        books = self._seeded_books(parts["books"], keys) if "books" in parts else None
        orders = parts.get("orders")
        if orders is not None and keys is not None:
            orders = tuple(o for o in orders if o.key in keys)
        positions = parts.get("positions")
        if "position" in parts:
            positions = (parts["position"],) if parts["position"] is not None else ()
        elif positions is not None and keys is not None:
            positions = tuple(p for p in positions if p.key in keys)
        if errors:
            self.resync_failures += 1
            log.warning("subscriber %s: %s snapshot incomplete: %s", self.runner, reason, "; ".join(errors))
        return Snapshot(
            runner=self.runner,
            exchange=ex,
            reason=reason,
            books=books,
            orders=orders,
            positions=positions,
            funding=parts.get("funding"),
            account=parts.get("account"),
            error="; ".join(errors),
            ts_ns=time.time_ns(),
        )

    async def _fetch_funding(self, keys: list[InstrumentKey] | None, errors: list[str]) -> tuple[FundingRate, ...]:
        assert self.api is not None
        api = self.api
        timeout = self.resync_timeout_s
        if keys is None:
            insts = await api.get_all_instruments(self.exchange, kind=MarketKind.PERP, timeout_s=timeout)
            perps = [i.key for i in insts]
        else:
            perps = [k for k in keys if k.kind is MarketKind.PERP]

        async def one(key: InstrumentKey) -> FundingRate | None:
            try:
                return await api.get_funding_rate(key, timeout_s=timeout)
            except NotFound:  # no rate known yet: not an error
                return None
            except CoreApiError as exc:
                errors.append(f"funding {key}: {type(exc).__name__}: {exc}")
                return None

        rates = await asyncio.gather(*(one(k) for k in perps))
        return tuple(r for r in rates if r is not None)


def _no_resync(enabled: bool) -> str:
    return "no command client to fetch the state from" if enabled else "resync is off"
