"""What a subscriber delivers, which topics a filter selects, and the consumer queue.

Items (``EventItem``):

* :class:`Received` — one event off the wire, with its topic, per-topic sequence number, the
  runner's send time and our receive time;
* :class:`Gap` — events of one topic were lost (``reason="gap"``: the sequence jumped; ``"reset"``:
  it went backwards, the runner restarted), with the state fetched to repair it (``snapshot``);
* :class:`Snapshot` — state fetched over the command socket: on subscribe (``"initial"``), after
  a reconnect (``"reconnect"``), or inside a :class:`Gap`. A field left ``None`` was not part of
  it; an empty tuple means "fetched, and there is none" (no open orders, flat).

Queue policy (:class:`EventQueue`, bounded): when full, the oldest *market-data* item (book,
funding rate) is dropped and counted — a strategy wants the newest book, not a backlog. Orders,
positions, account, status, gaps and snapshots are never dropped: the subscriber waits for room
instead, ZeroMQ buffers meanwhile and, past its high-water mark, drops — which the sequence
numbers reveal as a gap, repaired from a snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable

import msgspec

from .aio import within
from .coerce import KeyLike, as_key
from .errors import InvalidRequest
from .model import AccountSnapshot, Exchange, FundingRate, InstrumentKey, Order, OrderBook, Position
from .wire import Event, TopicKind, topic, topic_prefix
from .wire.topics import INSTRUMENT_TOPICS

__all__ = [
    "Received",
    "Gap",
    "Snapshot",
    "EventItem",
    "EventFilter",
    "EventQueue",
    "KindLike",
    "as_kinds",
]


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    runner: str
    exchange: Exchange
    reason: str  # initial | reconnect | gap | reset
    books: tuple[OrderBook, ...] | None = None
    orders: tuple[Order, ...] | None = None  # open orders
    positions: tuple[Position, ...] | None = None
    funding: tuple[FundingRate, ...] | None = None
    account: AccountSnapshot | None = None
    error: str = ""  # some part could not be fetched: why (the parts that were fetched are set)
    ts_ns: int = 0


class Received(msgspec.Struct, frozen=True, kw_only=True):
    runner: str
    topic: str
    kind: TopicKind
    exchange: Exchange
    key: InstrumentKey | None
    seq: int
    sent_ns: int  # the runner's clock at publish
    recv_ns: int  # ours at receive
    event: Event
    jseq: int = 0  # journaled events (exec, pos, acct, funding payments): the runner's journal sequence


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    runner: str
    topic: str
    kind: TopicKind
    exchange: Exchange
    key: InstrumentKey | None
    expected: int  # the sequence number we were waiting for
    received: int  # the one that arrived
    reason: str  # gap | reset
    snapshot: Snapshot | None = None
    error: str = ""
    ts_ns: int = 0

    @property
    def lost(self) -> int:
        """Events known lost (0 for a reset: the runner restarted, the count is unknown)."""
        return max(0, self.received - self.expected) if self.reason == "gap" else 0


EventItem = Received | Gap | Snapshot

_ALIASES: dict[str, TopicKind] = {
    "ob": TopicKind.BOOK,
    "book": TopicKind.BOOK,
    "books": TopicKind.BOOK,
    "exec": TopicKind.EXECUTION,
    "execution": TopicKind.EXECUTION,
    "executions": TopicKind.EXECUTION,
    "order": TopicKind.EXECUTION,
    "orders": TopicKind.EXECUTION,
    "pos": TopicKind.POSITION,
    "position": TopicKind.POSITION,
    "positions": TopicKind.POSITION,
    "fund": TopicKind.FUNDING,
    "funding": TopicKind.FUNDING,
    "acct": TopicKind.ACCOUNT,
    "account": TopicKind.ACCOUNT,
    "status": TopicKind.STATUS,
    "risk": TopicKind.RISK,
    "trade": TopicKind.TRADE,
    "trades": TopicKind.TRADE,
    "tick": TopicKind.TICKER,
    "ticker": TopicKind.TICKER,
    "tickers": TopicKind.TICKER,
    "bar": TopicKind.BAR,
    "bars": TopicKind.BAR,
}

KindLike = TopicKind | str
#: What a filter by instruments alone selects (the trade, tick and bar topics are asked for by kind)
_KEY_KINDS = frozenset({TopicKind.BOOK, TopicKind.EXECUTION, TopicKind.POSITION, TopicKind.FUNDING})


def as_kinds(kinds: KindLike | Iterable[KindLike] | None) -> frozenset[TopicKind] | None:
    """``None`` (all kinds), one kind or several; strings may be topic prefixes or plain words."""
    if kinds is None:
        return None
    items = [kinds] if isinstance(kinds, str | TopicKind) else list(kinds)
    out: set[TopicKind] = set()
    for k in items:
        if isinstance(k, TopicKind):
            out.add(k)
        elif isinstance(k, str) and k.lower() in _ALIASES:
            out.add(_ALIASES[k.lower()])
        else:
            raise InvalidRequest(f"kinds: unknown event kind {k!r} (known: {', '.join(sorted(_ALIASES))})")
    return frozenset(out)


class EventFilter(msgspec.Struct, frozen=True):
    """Which topics to receive: ``kinds`` (None = all) × ``keys`` (None = every instrument).

    With keys given and no kinds, only the instrument kinds (book, exec, pos, funding) are
    selected; account and status topics, and the market-data kinds a runner publishes only when
    configured to (trade, tick, bar), come only when their kind is asked for.
    """

    kinds: frozenset[TopicKind] | None = None
    keys: frozenset[InstrumentKey] | None = None

    @classmethod
    def of(
        cls, kinds: KindLike | Iterable[KindLike] | None = None, keys: KeyLike | Iterable[KeyLike] | None = None
    ) -> EventFilter:
        if keys is None:
            key_set = None
        else:
            items = [keys] if isinstance(keys, str | InstrumentKey) else list(keys)
            key_set = frozenset(as_key(k, "keys") for k in items)
        return cls(as_kinds(kinds), key_set)

    def effective_kinds(self) -> frozenset[TopicKind]:
        if self.kinds is not None:
            return self.kinds
        return _KEY_KINDS if self.keys is not None else frozenset(TopicKind)

    def keys_of(self, exchange: Exchange) -> list[InstrumentKey] | None:
        return None if self.keys is None else sorted(k for k in self.keys if k.exchange is exchange)

    def exchanges(self) -> frozenset[Exchange] | None:
        return None if self.keys is None else frozenset(k.exchange for k in self.keys)

    def prefixes(self, exchange: Exchange) -> list[bytes]:
        """ZeroMQ subscriptions for one runner of ``exchange`` (empty: nothing of it is wanted)."""
        keys = self.keys_of(exchange)
        out: list[bytes] = []
        for kind in sorted(self.effective_kinds()):
            if kind in INSTRUMENT_TOPICS and keys is not None:
                out.extend(topic(kind, exchange, k) for k in keys)
            else:
                out.append(topic_prefix(kind, exchange))
        return out

    def wants(self, kind: TopicKind, key: InstrumentKey | None) -> bool:
        if kind not in self.effective_kinds():
            return False
        return self.keys is None or key is None or key in self.keys


_DROPPABLE = (TopicKind.BOOK, TopicKind.FUNDING)


def _droppable(item: EventItem) -> bool:
    return type(item) is Received and item.kind in _DROPPABLE


class EventQueue:
    """Bounded FIFO of :data:`EventItem` with the overflow policy in the module doc."""

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize <= 0:
            raise ValueError("maxsize must be > 0")
        self.maxsize = maxsize
        self._items: deque[EventItem] = deque()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._space: asyncio.Event | None = None
        self._closed = False
        self.dropped = 0
        self.put_count = 0
        self.waits = 0

    @property
    def depth(self) -> int:
        return len(self._items)

    def put_nowait(self, item: EventItem) -> bool:
        """Add ``item`` (or drop market data by the policy); False when the queue is full of
        items that are never dropped and ``item`` is one too: then wait with :meth:`put`."""
        if len(self._items) >= self.maxsize and not self._make_room():
            if _droppable(item):  # nothing older to drop: the newcomer goes
                self.dropped += 1
                return True
            return False
        self._items.append(item)
        self.put_count += 1
        self._wake_getter()
        return True

    async def put(self, item: EventItem) -> None:
        while not self.put_nowait(item):
            if self._closed:
                return
            self.waits += 1
            if self._space is None:
                self._space = asyncio.Event()
            self._space.clear()
            await self._space.wait()

    def _make_room(self) -> bool:
        for i, old in enumerate(self._items):
            if _droppable(old):
                del self._items[i]
                self.dropped += 1
                return True
        return False

    def _wake_getter(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def get_nowait(self) -> EventItem | None:
        if not self._items:
            return None
        item = self._items.popleft()
        if self._space is not None:
            self._space.set()
        return item

    async def get(self, timeout_s: float | None = None) -> EventItem | None:
        """The next item; ``None`` after ``timeout_s`` or once closed and empty."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            if self._closed:
                return None
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                if deadline is None:
                    await fut
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    try:
                        await within(fut, remaining)
                    except TimeoutError:
                        return None
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled() and self._items:
                    self._wake_getter()  # we were woken for an item we will not take: pass it on
                raise
            finally:
                if not fut.done():
                    fut.cancel()

    def close(self) -> None:
        """Wake every waiter; :meth:`get` returns what is left, then ``None``."""
        self._closed = True
        for fut in self._getters:
            if not fut.done():
                fut.set_result(None)
        self._getters.clear()
        if self._space is not None:
            self._space.set()

    @property
    def closed(self) -> bool:
        return self._closed
