"""Bybit public streams as async iterators of domain objects (§6).

- ``order_books(keys, levels)``: ``orderbook.50.{symbol}`` on ``/v5/public/spot`` and
  ``/v5/public/linear``; each topic feeds a :class:`~exchanges.bybit.book.LocalBook` (snapshot
  + deltas, ``u`` = 1 restarts, gaps and stale ``u`` detected) and a book is yielded whenever
  its top ``levels`` change. On a :class:`~exchanges.bybit.book.Desync` the book is dropped
  (nothing is yielded from it) and the topic is resubscribed for a fresh snapshot; counted in
  ``resyncs``.
- ``funding(keys)``: ``tickers.{symbol}`` on the linear stream; snapshot and deltas are merged
  (deltas carry only changed fields) and a :class:`FundingRate` is yielded when rate, next
  funding time or interval change, or at most every ``funding_every_s`` for the mark price.

Frames go through one bounded buffer per iterator with the market-data policy (oldest frames
dropped when the consumer falls behind — a book that then sees a gap resyncs). Connection
changes are reported to ``on_status``. Bad frames are counted by kind in ``errors`` and skipped.
``run_order_books(keys, sink)`` is the push mode the runner uses: no buffer and no iterator —
each frame is applied in the socket reader and a changed book handed to ``sink``; a resubscribe
runs as a task of its own. The iterator owns one supervisor task whose ``asyncio.TaskGroup``
owns every connection; closing the iterator cancels it and waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from exchanges.base import BookSink, StreamStatus
from exchanges.errors import MalformedPayload
from exchanges.transport.backoff import Backoff
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame, WsStats
from strategy_client.model import Exchange, FundingRate, InstrumentKey, MarketKind, OrderBook

from .book import Desync, LocalBook
from .parse import SymbolMap
from .urls import BybitUrls
from .ws import BybitWs
from .ws_parse import PayloadError, TickerState, levels
from .ws_schemas import BOOK_DECODER, TICKER_DECODER

__all__ = ["BybitMarketStreams", "StatusCallback", "BOOK_TOPIC_DEPTH"]

StatusCallback = Callable[[StreamStatus], None]
BOOK_TOPIC_DEPTH = 50
_SPOT_ARGS = 10  # Bybit spot: at most 10 args per subscribe request
_LINEAR_ARGS = 100
_RESYNC_PATIENCE_S = 5.0  # a snapshot asked for that has not come by then is asked for again


def _log_status(status: StreamStatus) -> None:
    logger.debug("{} connected={} {}", status.stream, status.connected, status.reason)


class BybitMarketStreams:
    """Public market data for Bybit spot and linear perpetuals (see the module doc)."""

    def __init__(
        self,
        urls: BybitUrls,
        symbols: SymbolMap | None = None,
        *,
        on_status: StatusCallback | None = None,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
        ping_interval_s: float = 20.0,
        pong_timeout_s: float = 10.0,
        strict_sequence: bool = True,
        funding_every_s: float = 1.0,
    ) -> None:
        self._urls = urls
        self._symbols = symbols or SymbolMap()
        self._on_status = on_status or _log_status
        self._queue_size = queue_size
        self._ws_options: dict[str, Any] = {
            "backoff": backoff,
            "ping_interval_s": ping_interval_s,
            "ping_timeout_s": pong_timeout_s,
        }
        self._strict = strict_sequence
        self._funding_every_s = funding_every_s
        self._funding_intervals: dict[str, int] = {}
        self.errors = ErrorTally("bybit:market")
        self.resyncs: dict[str, int] = {}
        self._resync_asked: dict[str, float] = {}
        self._seq_state: dict[tuple[MarketKind, str], tuple[int, int]] = {}
        self.restarts: dict[str, int] = {}  # by Bybit symbol: books whose u started over
        self._connections: dict[str, BybitWs] = {}
        self._serial = 0

    # -- introspection -------------------------------------------------------------------------

    def stats(self) -> dict[str, WsStats]:
        return {name: ws.stats for name, ws in self._connections.items()}

    def set_funding_intervals(self, intervals: Mapping[str, int]) -> None:
        """Funding interval in ms per Bybit symbol (``fundingInterval`` of instruments-info)."""
        self._funding_intervals.update(intervals)

    # -- planning ------------------------------------------------------------------------------

    def _split(self, keys: Sequence[InstrumentKey]) -> dict[MarketKind, list[InstrumentKey]]:
        if not keys:
            raise ValueError("no instrument keys given")
        out: dict[MarketKind, list[InstrumentKey]] = {}
        for key in dict.fromkeys(keys):
            if key.exchange is not Exchange.BYBIT:
                raise ValueError(f"{key} is not a Bybit instrument")
            out.setdefault(key.kind, []).append(key)
        return out

    def _connection(self, what: str, kind: MarketKind, topics: list[str], **where: Any) -> BybitWs:
        self._serial += 1
        spot = kind is MarketKind.SPOT
        name = f"bybit:{kind.value}:{what}#{self._serial}"
        url = self._urls.public_spot if spot else self._urls.public_linear
        ws = BybitWs(
            name,
            url,
            topics=topics,
            max_args=_SPOT_ARGS if spot else _LINEAR_ARGS,
            tally=self.errors,
            **where,
            **self._ws_options,
        )
        return ws

    # -- order books ---------------------------------------------------------------------------

    def order_books(self, keys: Sequence[InstrumentKey], levels: int = 5) -> AsyncGenerator[OrderBook, None]:
        return self._books(self._book_kinds(keys, levels), levels)

    async def run_order_books(self, keys: Sequence[InstrumentKey], sink: BookSink, levels: int = 5) -> None:
        """The books of :meth:`order_books`, pushed: each frame applied in the socket reader and
        a changed book handed to ``sink`` (no buffer, no iterator); runs until cancelled."""
        by_kind = self._book_kinds(keys, levels)
        conns: list[BybitWs] = []
        try:
            async with asyncio.TaskGroup() as tg:
                state = _BookState(self, levels, sink, lambda ws, topic: tg.create_task(ws.resubscribe([topic])))
                conns = self._book_connections(by_kind, state, sink=state)
                for ws in conns:
                    self._connections[ws.name] = ws
                    tg.create_task(ws.run(), name=ws.name)
        finally:
            for ws in conns:
                self._connections.pop(ws.name, None)

    def _book_kinds(self, keys: Sequence[InstrumentKey], levels: int) -> dict[MarketKind, list[InstrumentKey]]:
        if not 1 <= levels <= BOOK_TOPIC_DEPTH:
            raise ValueError(f"levels must be in 1..{BOOK_TOPIC_DEPTH}, not {levels}")
        return self._split(keys)

    def _book_connections(
        self, by_kind: dict[MarketKind, list[InstrumentKey]], state: _BookState, **where: Any
    ) -> list[BybitWs]:
        for kind, keys in by_kind.items():
            topics = [f"orderbook.{BOOK_TOPIC_DEPTH}.{self._symbols.native(k)}" for k in keys]
            ws = self._connection("books", kind, topics, **where)
            state.conns[ws.name] = (ws, kind)
        return [ws for ws, _ in state.conns.values()]

    async def _books(
        self, by_kind: dict[MarketKind, list[InstrumentKey]], depth: int
    ) -> AsyncGenerator[OrderBook, None]:
        buffer: BoundedBuffer[Frame | StreamStatus] = BoundedBuffer(self._queue_size, Overflow.DROP_OLDEST)
        out: list[OrderBook] = []
        resyncs: list[tuple[BybitWs, str]] = []
        state = _BookState(self, depth, out.append, lambda ws, topic: resyncs.append((ws, topic)))
        conns = self._book_connections(by_kind, state, buffer=buffer)
        async with self._running(conns, buffer):
            while True:
                item = await buffer.get()
                if isinstance(item, StreamStatus):
                    state.status(item)
                    continue
                state.frame(item)
                while resyncs:
                    ws, topic = resyncs.pop(0)
                    await ws.resubscribe([topic])
                while out:
                    yield out.pop(0)

    def _apply_book(
        self,
        frame: Frame,
        kind: MarketKind,
        books: dict[tuple[MarketKind, str], LocalBook],
        depth: int,
    ) -> OrderBook | str | None:
        """The book after ``frame``; a topic (str) to resubscribe for a snapshot; or None."""
        try:
            msg = BOOK_DECODER.decode(frame.data)
            bids = levels(msg.data.b, f"{msg.topic} bids")
            asks = levels(msg.data.a, f"{msg.topic} asks")
        except msgspec.DecodeError as exc:
            self.errors.record("orderbook:malformed", frame.data, exc)
            return None
        except (MalformedPayload, PayloadError) as exc:
            self.errors.record("orderbook:bad_number", frame.data, exc)
            return None
        native = msg.data.s
        book = books.setdefault((kind, native), LocalBook(BOOK_TOPIC_DEPTH, strict_sequence=self._strict))
        try:
            book.apply(msg.type, bids, asks, msg.data.u, seq=msg.data.seq, ts_ms=msg.ts or msg.cts)
        except Desync as exc:
            now = time.monotonic()
            asked = self._resync_asked.get(msg.topic)
            if exc.reason == "delta before snapshot" and asked is not None and now - asked < _RESYNC_PATIENCE_S:
                return None  # the snapshot asked for is on its way
            self._resync_asked[msg.topic] = now
            self.resyncs[msg.topic] = self.resyncs.get(msg.topic, 0) + 1
            logger.warning("{}: {} — resubscribing for a snapshot", msg.topic, exc.reason)
            return msg.topic
        self._resync_asked.pop(msg.topic, None)
        bid_levels, ask_levels = book.top(depth)
        return OrderBook(
            key=self._symbols.key(kind, native),
            bids=bid_levels,
            asks=ask_levels,
            venue_ts_ms=book.ts_ms,
            local_ts_ns=frame.recv_ns,
            sequence=self._sequence((kind, native), book.u or 0),
        )

    def _sequence(self, key: tuple[MarketKind, str], u: int) -> int:
        """``u`` made monotonic per instrument: after Bybit's restart (``u`` back to 1) the
        sequence continues from the last one yielded, so consumers never take it for stale."""
        offset, last = self._seq_state.get(key, (0, 0))
        if offset + u <= last:
            offset = last + 1 - u
            self.restarts[key[1]] = self.restarts.get(key[1], 0) + 1
        self._seq_state[key] = (offset, offset + u)
        return offset + u

    # -- funding -------------------------------------------------------------------------------

    def funding(self, keys: Sequence[InstrumentKey]) -> AsyncGenerator[FundingRate, None]:
        by_kind = self._split(keys)
        if MarketKind.SPOT in by_kind:
            raise ValueError(f"funding needs perpetuals, got spot keys {[str(k) for k in by_kind[MarketKind.SPOT]]}")
        return self._funding(by_kind[MarketKind.PERP])

    async def _funding(self, keys: list[InstrumentKey]) -> AsyncGenerator[FundingRate, None]:
        buffer: BoundedBuffer[Frame | StreamStatus] = BoundedBuffer(self._queue_size, Overflow.DROP_OLDEST)
        topics = [f"tickers.{self._symbols.native(k)}" for k in keys]
        ws = self._connection("tickers", MarketKind.PERP, topics, buffer=buffer)
        states: dict[str, TickerState] = {}
        sent: dict[str, tuple[Decimal, int, int, float]] = {}
        async with self._running([ws], buffer):
            while True:
                item = await buffer.get()
                if isinstance(item, StreamStatus):
                    if not item.connected:
                        states.clear()
                    self._on_status(item)
                    continue
                try:
                    msg = TICKER_DECODER.decode(item.data)
                except msgspec.DecodeError as exc:
                    self.errors.record("tickers:malformed", item.data, exc)
                    continue
                native = msg.data.symbol
                state = states.setdefault(native, TickerState())
                if msg.type == "delta" and not state.fields:
                    self.errors.record("tickers:delta_before_snapshot", item.data)
                    continue
                state.merge(msg.type, msg.data)
                key = self._symbols.key(MarketKind.PERP, native)
                try:
                    rate = state.funding(key, self._funding_intervals.get(native, 0), msg.ts)
                except (MalformedPayload, PayloadError) as exc:
                    self.errors.record("tickers:bad_number", item.data, exc)
                    continue
                if rate is None:
                    continue
                now = time.monotonic()
                prev = sent.get(native)
                marker = (rate.rate, rate.next_funding_ts_ms, rate.interval_ms)
                if prev is not None and prev[:3] == marker and now - prev[3] < self._funding_every_s:
                    continue
                sent[native] = (*marker, now)
                yield rate

    # -- the iterator machinery ----------------------------------------------------------------

    def _running(self, conns: list[BybitWs], buffer: BoundedBuffer[Frame | StreamStatus]) -> _Supervised:
        return _Supervised(self, conns, buffer)


class _BookState:
    """The local books of one ``order_books``/``run_order_books`` call: a frame in, a book out
    when its top changed (``emit``), a topic to resubscribe on a desync (``resubscribe``)."""

    def __init__(
        self,
        owner: BybitMarketStreams,
        depth: int,
        emit: Callable[[OrderBook], None],
        resubscribe: Callable[[BybitWs, str], object],
    ) -> None:
        self._owner = owner
        self._depth = depth
        self._emit = emit
        self._resubscribe = resubscribe
        self.conns: dict[str, tuple[BybitWs, MarketKind]] = {}
        self._books: dict[tuple[MarketKind, str], LocalBook] = {}
        self._last_top: dict[tuple[MarketKind, str], tuple[object, object]] = {}

    def status(self, status: StreamStatus) -> None:
        if not status.connected:  # a new connection starts every book with a snapshot
            kind = self.conns[status.stream][1]
            for (k, _), book in self._books.items():
                if k is kind:
                    book.reset()
        self._owner._on_status(status)

    def frame(self, frame: Frame) -> None:
        ws, kind = self.conns[frame.source]
        parsed = self._owner._apply_book(frame, kind, self._books, self._depth)
        if parsed is None:
            return
        if isinstance(parsed, str):
            self._resubscribe(ws, parsed)
            return
        top = (parsed.bids, parsed.asks)
        key = (kind, parsed.key.symbol)
        if self._last_top.get(key) == top:
            return
        self._last_top[key] = top
        self._emit(parsed)


class _Supervised:
    """``async with``: run the connections in a supervisor task; cancel and wait on exit."""

    def __init__(
        self, owner: BybitMarketStreams, conns: list[BybitWs], buffer: BoundedBuffer[Frame | StreamStatus]
    ) -> None:
        self._owner = owner
        self._conns = conns
        self._buffer = buffer
        self._task: asyncio.Task[None] | None = None

    async def _supervise(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for ws in self._conns:
                    tg.create_task(ws.run(), name=ws.name)
        except BaseException as exc:
            self._buffer.fail(exc if isinstance(exc, Exception) else RuntimeError(f"market stream stopped: {exc!r}"))
            raise

    async def __aenter__(self) -> None:
        for ws in self._conns:
            self._owner._connections[ws.name] = ws
        self._task = asyncio.create_task(self._supervise(), name="bybit:market:supervisor")

    async def __aexit__(self, *exc: object) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                logger.error("bybit market streams stopped: {!r}", task.exception())
        for ws in self._conns:
            self._owner._connections.pop(ws.name, None)
