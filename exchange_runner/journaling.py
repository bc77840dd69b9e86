"""The runner's journal as a transactional outbox (docs/journal.md, "The runner's journal").

* **Open at start** (:func:`open_runner_journal`): SQLite under the data directory by default,
  ``--journal postgresql://…`` for a server, ``--no-journal`` (config ``journal = "off"``) for none.
  Any fault at open — unreachable server, corrupt or locked file, full disk, a schema newer
  than this code — is one line (:class:`~exchange_runner.config.ConfigError`; the CLI exits 2).
* **The intent** (:meth:`RunnerJournal.write_intent`): the order actor makes it durable after
  the instrument, client-id and risk checks and before the order is tracked and sent — on the
  default SQLite journal into the memory-mapped intent log (no system call; the writer inserts
  it into SQLite), else committed synchronously (docs/journal.md, "The intent log"). A journal
  fault — the intent could not be made durable, or the writer cannot commit what the runner
  publishes — refuses the order with :class:`JournalRefused` (``unavailable``, retryable, reject
  code ``not_sent``): nothing was sent. A client id the journal already holds (this run's or
  an earlier one's) is refused before anything is written (:class:`ClientIdInUse`).
* **The writer waits for the order** (:meth:`RunnerJournal.release_intents`): an intent in the
  log is handed to the writer with the order's first answer (the journaled exec event releases
  it) or :data:`INTENT_HANDOFF_S` after the send, whichever is first — so the writer's SQLite
  commit (150–200 µs of CPU, cold) does not run while the order is on its way: measured with
  ``bench.py --journal-ab``, committing right after the send added ~150–250 µs p50 to
  tick-to-order on the development machine, against ~40 µs with the hand-off deferred; and the
  intent and the answer are then committed in one transaction. The log already holds the
  intent: a crash in between loses nothing (it is imported at the next open).
* **Publish after commit** (:class:`JournalingPublisher`): every ``exec``, ``pos`` and ``acct``
  event and every funding *payment* gets the next journal sequence (runner-wide, continued
  after ``last_seq()`` on restart), is appended to the writer and published on PUB from its
  ``on_commit`` (in append order), its header carrying ``jseq``. Books, funding rates, status
  and risk events are published at once and never wait for the journal.
* **Overflow policy**: when the writer's queue (10 000 records) is full, records wait in order
  in the publisher's overflow deque, fed to the writer by :meth:`JournalingPublisher.pump`
  (``await append``); nothing is dropped, and while anything waits there new records queue
  behind it (order kept). ``overflowed`` counts them.
* **Reconciled events**: the first event (other than UNKNOWN) of an order reloaded from the
  journal at start is marked ``reconciled`` — it is what the venue said happened while the
  runner was away. When it moves the filled quantity without trade data (a query by client id
  gives only the cumulative filled quantity), an ``OrderRecord`` of kind ``reconciled`` says so
  in ``order_events.detail``; no fill row is written and no trade id is made up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from time import perf_counter_ns

import zmq
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from strategy_client import __version__
from strategy_client.journal import (
    DuplicateIntent,
    EventRecord,
    Journal,
    JournalBusy,
    JournalError,
    JournalRecord,
    OrderRecord,
    ProcessInfo,
)
from strategy_client.model import Exchange, InstrumentKey, Order, OrderRequest, OrderStatus
from strategy_client.wire import (
    MAX_REPLAY_EVENTS,
    Event,
    EventsReply,
    FundingPaymentEvent,
    OrderEvent,
    OrderEventKind,
    ReplayedEvent,
    TopicKind,
    encode,
)

from .config import ConfigError, RunnerConfig
from .latency_ring import LatencyRing
from .publisher import Publisher
from .refusals import ClientIdInUse

__all__ = [
    "JOURNAL_OFF",
    "JournalRefused",
    "JournalingPublisher",
    "RunnerJournal",
    "open_runner_journal",
    "runner_stream",
]

#: ``--no-journal`` / ``journal = "off"``.
JOURNAL_OFF = "off"

_JOURNALED = frozenset({TopicKind.EXECUTION, TopicKind.POSITION, TopicKind.ACCOUNT})

#: A replay reply stops near this much payload (a reply frame stays well under 64 KB).
REPLAY_BYTES = 48 * 1024
#: Journal rows one replay call reads at most (a narrow ``topic`` over a long journal: ask again).
REPLAY_SCAN = 20_000
_SCAN_BATCH = 1000

INTENT_HANDOFF_S = 0.005  # the longest an intent waits in the log for its order's answer before the writer takes it

RECONCILED_FILL_DETAIL = (
    "filled quantity from the venue's order status after a restart; no trade data, so no fill (trade id) is recorded"
)


class JournalRefused(Exception):
    """The order's intent could not be journaled: it was not sent (``unavailable``)."""


def runner_stream(cfg: RunnerConfig) -> str:
    """The journal stream (``role:name``) of a runner: ``runner:<exchange>:<registration name>``."""
    return f"runner:{cfg.exchange.value}:{cfg.registration_name}"


def open_runner_journal(cfg: RunnerConfig) -> Journal | None:
    """The runner's journal (None with ``--no-journal``); a fault is one line (ConfigError)."""
    if cfg.journal == JOURNAL_OFF:
        return None
    process = ProcessInfo(
        role="runner",
        name=f"{cfg.exchange.value}:{cfg.registration_name}",
        version=__version__,
        exchange=cfg.exchange.value,
        account=cfg.registration_name,
    )
    try:
        return Journal.open(cfg.journal or None, process=process, data_dir=cfg.data_dir or None)
    except JournalError as exc:
        raise ConfigError(exc.line) from None


class JournalingPublisher(Publisher):
    """A :class:`Publisher` whose account-changing events are journaled before they go out."""

    def __init__(self, socket: zmq.Socket[bytes], exchange: Exchange, journal: Journal) -> None:
        super().__init__(socket, exchange)
        self.journal = journal
        self.jseq = journal.last_seq()  # the last sequence journaled: a restart continues after it
        self.restored: set[str] = set()  # client ids reloaded from the journal, not yet heard of
        self.journaled = 0
        self.overflowed = 0  # records that waited for room in the writer's queue
        self._overflow: deque[tuple[JournalRecord, Callable[[], None] | None]] = deque()
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    def publish(
        self, kind: TopicKind, event: Event, key: InstrumentKey | None = None, *, jseq: int = 0, body: bytes = b""
    ) -> None:
        if kind in _JOURNALED or isinstance(event, FundingPaymentEvent):
            self._journal(kind, event, key)
        else:
            super().publish(kind, event, key)

    def _journal(self, kind: TopicKind, event: Event, key: InstrumentKey | None) -> None:
        self.jseq += 1
        seq = self.jseq
        body = encode(event)
        reconciled = False
        note: OrderRecord | None = None
        if isinstance(event, OrderEvent) and self.restored and event.kind is not OrderEventKind.UNKNOWN:
            cid = event.order.client_id
            if cid in self.restored:
                self.restored.discard(cid)
                reconciled = True
                if event.fill is None and event.order.filled_qty > 0:
                    note = OrderRecord(
                        order=event.order, kind="reconciled", seq=seq, reconciled=True, detail=RECONCILED_FILL_DETAIL
                    )
        record = EventRecord(event=event, seq=seq, topic=self.topic_of(kind, key), reconciled=reconciled, payload=body)
        self._enqueue(record, partial(Publisher.publish, self, kind, event, key, jseq=seq, body=body))
        if note is not None:
            self._enqueue(note, None)
        self.journaled += 1

    def _enqueue(self, record: JournalRecord, on_commit: Callable[[], None] | None) -> None:
        if not self._overflow:
            try:
                self.journal.append_nowait(record, on_commit=on_commit)
                return
            except JournalBusy:
                pass
        self._overflow.append((record, on_commit))
        self.overflowed += 1
        self._empty.clear()
        self._wake.set()

    async def pump(self) -> None:
        """Feed the overflow to the writer in order (a task of the runner's TaskGroup)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._overflow:
                record, on_commit = self._overflow[0]
                await self.journal.append(record, on_commit=on_commit)
                self._overflow.popleft()
            self._empty.set()

    async def overflow_drained(self) -> None:
        """Wait until everything in the overflow deque is in the writer's queue (before a drain)."""
        await self._empty.wait()

    @property
    def overflow_depth(self) -> int:
        return len(self._overflow)


class RunnerJournal:
    """What the order actor needs from the journal: the intent, and whether orders may go."""

    def __init__(
        self, journal: Journal, publisher: JournalingPublisher, *, handoff_s: float = INTENT_HANDOFF_S
    ) -> None:
        self.journal = journal
        self.publisher = publisher
        self.refused = 0
        self.intent_ns = LatencyRing()  # wall time of each successful intent write, in the runner
        self.handoff_s = handoff_s
        self._handoff: asyncio.TimerHandle | None = None

    def write_intent(self, request: OrderRequest, origin: str = "") -> None:
        """Make ``request``'s intent durable, or raise :class:`JournalRefused` (do not send it).
        The intent is held from the writer until the next journaled event (the order's answer)
        or :attr:`handoff_s` after :meth:`release_intents` (called once the order is sent),
        whichever comes first."""
        fault = self.journal.fault
        if fault:
            self.refused += 1
            raise JournalRefused(f"not sent: the journal cannot record what this order would do: {fault}")
        t0 = perf_counter_ns()
        try:
            self.journal.write_intent(request, origin=origin, hold=True)
        except DuplicateIntent:
            raise ClientIdInUse(
                f"client id {request.client_id} was used before (its intent is journaled): use a new one"
            ) from None
        except JournalError as exc:
            self.refused += 1
            raise JournalRefused(f"not sent: its intent could not be journaled: {exc.line}") from None
        self.intent_ns.add(perf_counter_ns() - t0)  # what the intent added to this order's path

    def rehearse_intent(self, request: OrderRequest) -> None:
        """:meth:`write_intent` without the write (``exchange_runner/warmth.py``)."""
        if not self.journal.fault:
            self.journal.rehearse_intent(request)

    def release_intents(self) -> None:
        """After the order left: the writer takes its intent with the order's answer (the next
        journaled event releases it) or in :attr:`handoff_s`, whichever is first — not while the
        order is on its way (the module's docstring). ``handoff_s`` 0: at once."""
        if self.handoff_s <= 0:
            self.journal.release_intents()
        elif self._handoff is None:
            self._handoff = asyncio.get_running_loop().call_later(self.handoff_s, self._hand_off)

    def _hand_off(self) -> None:
        self._handoff = None
        self.journal.release_intents()

    def restart_orders(self) -> list[Order]:
        """Open, PENDING and UNKNOWN orders the journal holds (PENDING: an intent with no answer)."""
        state = self.journal.restart_state()
        seen: dict[str, Order] = {}
        for order in (*state.open_orders, *state.unresolved):
            seen.setdefault(order.client_id, order)
        orders = list(seen.values())
        self.publisher.restored.update(o.client_id for o in orders)
        return orders

    def replay(self, after_seq: int, prefix: bytes = b"", limit: int = MAX_REPLAY_EVENTS) -> EventsReply:
        """Journaled events after ``after_seq`` (on topics starting with ``prefix``), oldest first,
        each with the wire bytes it was published with; at most ``limit`` events or about
        :data:`REPLAY_BYTES` of payload, and at most :data:`REPLAY_SCAN` rows read per call
        (``more`` + ``next_after`` continue). Blocking: run it in a thread."""
        out: list[ReplayedEvent] = []
        size = 0
        cursor = after_seq
        scanned = 0
        more = False
        while True:
            batch = self.journal.events_after(cursor, limit=_SCAN_BATCH)
            for je in batch:
                scanned += 1
                if je.topic.startswith(prefix):
                    body = encode(je.event)  # the journaled payload, decoded and encoded again: the same bytes
                    out.append(ReplayedEvent(je.seq, je.topic, je.ts_ns, je.reconciled, body))
                    size += len(body) + len(je.topic) + 24
                cursor = je.seq
                if len(out) >= limit or size >= REPLAY_BYTES or scanned >= REPLAY_SCAN:
                    more = True
                    break
            if more or len(batch) < _SCAN_BATCH:
                break
        last = self.journal.last_seq()
        return EventsReply(events=tuple(out), more=more and cursor < last, next_after=cursor, last_seq=last)

    def metric_families(self) -> Iterator[Metric]:
        """The journal as Prometheus reads it at scrape time (exchange_runner/metrics.py)."""
        s = self.journal.stats
        intents = CounterMetricFamily("tradebus_journal_intents", "Order intents made durable before sending")
        intents.add_metric([], s.intents)
        yield intents
        refused = CounterMetricFamily(
            "tradebus_journal_refused", "Orders not sent because their intent could not be journaled"
        )
        refused.add_metric([], self.refused)
        yield refused
        committed = CounterMetricFamily("tradebus_journal_committed", "Records the journal's writer committed")
        committed.add_metric([], s.committed)
        yield committed
        depth = GaugeMetricFamily("tradebus_journal_queue_depth", "Records waiting for the journal's writer")
        depth.add_metric([], s.queue_depth + self.publisher.overflow_depth)
        yield depth
        fault = GaugeMetricFamily("tradebus_journal_fault", "1 while the journal refuses orders (a write failed)")
        fault.add_metric([], 1 if s.fault else 0)
        yield fault
        held = self.intent_ns.quantiles(INTENT_QUANTILES)
        if held:
            cost = GaugeMetricFamily(
                "tradebus_journal_intent_seconds",
                "Wall time the intent write added to each order in this runner (the last 1,024 orders)",
                labels=["quantile"],
            )
            for q, ns in held.items():
                cost.add_metric([str(q)], ns / 1e9)
            yield cost


INTENT_QUANTILES = (0.5, 0.9, 0.99)


def unresolved(order: Order) -> bool:
    return order.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN)
