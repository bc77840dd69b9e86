"""Full-depth Binance books from ``<symbol>@depth@100ms`` + REST snapshots, pushed.

For every symbol a :class:`~exchanges.binance.depth_book.DiffBook` follows the diff stream under
Binance's documented procedure (the module doc there). The first event of a symbol — and every
desync (a gap in ``U``/``u``/``pu``, a snapshot older than the stream) and every reconnect of its
connection — starts a snapshot fetch (``GET depth``, ``snapshot_limit`` levels) in a task of its
own while the events are buffered; a failed or too-old snapshot is fetched again after
``retry_s`` (doubling to 10 s). Once synced, every event that changed the book hands its top
``levels`` a side to the sink as an :class:`OrderBook` (``sequence`` = the event's ``u``,
``venue_ts_ms`` = its event time ``E``). Counted: ``resyncs`` by instrument,
``snapshots`` fetched, bad frames in ``errors``.

Spot on ``{spot_ws}/stream``, USD-M on ``{futures_ws}/public/stream`` (the diff stream is a
``/public`` one, as the partial depth).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import msgspec
from loguru import logger

from exchanges.base import BookSink, StreamStatus
from exchanges.errors import ExchangeError
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderBook

from .depth_book import Desync, Diff, DiffBook
from .rest_schemas import Depth
from .tape import combined_streams
from .urls import BinanceUrls
from .ws import BinanceWs
from .ws_schemas import Combined, FuturesDepth, SpotDepthDiff

__all__ = ["BinanceDepthBooks", "SnapshotFetcher"]

SnapshotFetcher = Callable[[MarketKind, str, int], Awaitable[Depth]]

_spot = msgspec.json.Decoder(Combined[SpotDepthDiff]).decode
_futures = msgspec.json.Decoder(Combined[FuturesDepth]).decode


class _Sink:
    """The frames of one ``run``'s connections → the books; snapshots as tasks of ``spawn``."""

    def __init__(self, owner: BinanceDepthBooks, sink: BookSink, spawn: Callable[[InstrumentKey], None]) -> None:
        self._owner = owner
        self._sink = sink
        self._spawn = spawn
        self.books: dict[InstrumentKey, DiffBook] = {}
        self.fetching: set[InstrumentKey] = set()
        self.kinds: dict[str, MarketKind] = {}  # connection name → its market

    def status(self, status: StreamStatus) -> None:
        if not status.connected:  # the events in between are gone: every book of it starts over
            kind = self.kinds.get(status.stream)
            for key, book in self.books.items():
                if key.kind is kind:
                    book.reset()
        self._owner.on_status(status)

    def frame(self, frame: Frame) -> None:
        kind = self.kinds[frame.source]
        owner = self._owner
        try:
            if kind is MarketKind.SPOT:
                s = _spot(frame.data).data
                symbol, diff = s.s, Diff(s.U, s.u, 0, s.b, s.a, s.E)
            else:
                f = _futures(frame.data).data
                symbol, diff = f.s, Diff(f.U, f.u, f.pu, f.b, f.a, f.E)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            owner.errors.record(f"depth_diff:{kind.value}", frame.data, exc)
            return
        key = InstrumentKey(Exchange.BINANCE, symbol, kind)
        book = self.books.get(key)
        if book is None:
            return  # a symbol this run did not ask for
        try:
            changed = book.on_diff(diff)
        except Desync as exc:
            self.resync(key, book, exc)
            return
        if not book.synced and key not in self.fetching:
            self.fetching.add(key)
            self._spawn(key)
        if changed:
            self.emit(key, book, frame.recv_ns)

    def emit(self, key: InstrumentKey, book: DiffBook, recv_ns: int) -> None:
        bids, asks = book.top(self._owner.levels)
        self._sink(
            OrderBook(key=key, bids=bids, asks=asks, venue_ts_ms=book.ts_ms, local_ts_ns=recv_ns, sequence=book.last_id)
        )

    def resync(self, key: InstrumentKey, book: DiffBook, exc: Desync) -> None:
        owner = self._owner
        owner.resyncs[str(key)] += 1
        logger.warning("binance depth {}: {} — resynchronising from a snapshot", key, exc.reason)
        book.reset()


class BinanceDepthBooks:
    """Full-depth books of a set of instruments (see the module doc)."""

    def __init__(
        self,
        urls: BinanceUrls,
        fetch: SnapshotFetcher,
        *,
        on_status: Callable[[StreamStatus], None],
        levels: int = 20,
        snapshot_limit: int = 1000,
        retry_s: float = 0.25,
        ping_interval_s: float | None = 20.0,
    ) -> None:
        self._urls = urls
        self._fetch = fetch
        self.on_status = on_status
        self.levels = levels
        self.snapshot_limit = snapshot_limit
        self.retry_s = retry_s
        self._ping_interval_s = ping_interval_s
        self.errors = ErrorTally("binance:depth")
        self.resyncs: Counter[str] = Counter()
        self.snapshots = 0
        self._serial = 0

    async def run(self, keys: Sequence[InstrumentKey], sink: BookSink) -> None:
        """Keep the books of ``keys`` until cancelled, pushing each change into ``sink``."""
        async with asyncio.TaskGroup() as tg:

            def spawn(key: InstrumentKey) -> None:
                tg.create_task(self._sync(state, key), name=f"binance:depth:snapshot:{key}")

            state = _Sink(self, sink, spawn)
            for ws in self.connections(keys, state):
                tg.create_task(ws.run(), name=ws.name)

    def connections(self, keys: Sequence[InstrumentKey], state: _Sink) -> list[BinanceWs]:
        conns: list[BinanceWs] = []
        for kind, chunk, url in combined_streams(self._urls, keys, "depth@100ms", "public"):
            for key in chunk:
                state.books[key] = DiffBook(futures=kind is MarketKind.PERP)
            self._serial += 1
            name = f"binance:{kind.value}:depthdiff#{self._serial}"
            state.kinds[name] = kind
            conns.append(
                BinanceWs(
                    name,
                    url,
                    tally=self.errors,
                    sink=state,
                    idle_timeout_s=60.0,
                    ping_interval_s=self._ping_interval_s,
                )
            )
        return conns

    async def _sync(self, state: _Sink, key: InstrumentKey) -> None:
        """Fetch snapshots until the book is synced (or has started over without us)."""
        book = state.books[key]
        delay = self.retry_s
        try:
            while not book.synced:
                await asyncio.sleep(delay)  # let the stream buffer a few events first
                if not book.buffer:
                    continue  # nothing buffered (reset meanwhile): wait for the stream
                try:
                    snap = await self._fetch(key.kind, key.symbol, self.snapshot_limit)
                except (ExchangeError, TimeoutError) as exc:
                    logger.warning("binance depth {}: snapshot failed ({}); again in {:.2f}s", key, exc, delay)
                    delay = min(delay * 2, 10.0)
                    continue
                self.snapshots += 1
                try:
                    book.on_snapshot(snap.lastUpdateId, snap.bids, snap.asks)
                except Desync as exc:
                    state.resync(key, book, exc)
                    delay = min(delay * 2, 10.0)
                    continue
                state.emit(key, book, time.time_ns())
        finally:
            state.fetching.discard(key)
