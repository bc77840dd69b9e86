"""Binance public market streams as async iterators of domain objects.

Each iterator opens combined-stream connections (``/stream?streams=a/b/...``; streams are in
the URL, so a reconnect restores them) and merges them:

- ``order_books(keys, depth)``: ``<symbol>@depth{5,10,20}@100ms`` — spot on ``{spot_ws}/stream``,
  perps on ``{futures_ws}/public/stream``;
- ``book_tickers(keys)``: ``<symbol>@bookTicker`` on the same hosts;
- ``funding(keys)``: ``<symbol>@markPrice@1s`` on ``{futures_ws}/market/stream`` (perps only).

Frames go through one bounded buffer per iterator with the market-data policy: when the
consumer falls behind, the oldest frames are dropped (``dropped`` counter) — a newer snapshot
supersedes them. The iterator takes every frame queued at each wake-up and parses them in turn.
Connection changes are reported as :class:`~exchanges.base.StreamStatus` to
``on_status`` (the runner flags staleness with it). Bad frames are counted by kind in
``errors``, the first of each kind logged with a sample, and skipped.

``run_order_books(keys, sink)`` is the push mode the runner uses: no buffer and no iterator —
each depth frame is parsed in the socket reader and the book handed to ``sink`` (the price
actor's drop-oldest feed: the one queue a book crosses). Its books are
:class:`~strategy_client.model.TextBook` objects: the levels stay the venue's decimal text,
vouched for by :class:`~.ws_parse.DecimalTextCheck` (a frame with a level string that is not a
decimal number is counted as ``*_depth:decimal`` and dropped, as a bad frame always was); the
iterator (``order_books``) still yields Decimal :class:`OrderBook` objects.

The iterator owns one supervisor task whose ``asyncio.TaskGroup`` owns every connection
task; closing the iterator (``aclose()``, leaving ``async with aclosing(...)``, or garbage
collection) cancels the supervisor and waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import msgspec
from loguru import logger

from exchanges.base import BookSink, StreamStatus
from exchanges.transport.backoff import Backoff
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame, WsStats
from strategy_client.model import Exchange, FundingRate, InstrumentKey, MarketKind, OrderBook, TextBook

from .urls import BinanceUrls
from .ws import BinanceWs
from .ws_parse import (
    DEFAULT_FUNDING_INTERVAL_MS,
    DIGITS,
    DecimalTextCheck,
    FastFuturesDepthText,
    FastSpotDepthText,
    FuturesDepthText,
    PayloadError,
    SpotDepthText,
    key_of,
    parse_futures_book_ticker,
    parse_futures_depth,
    parse_mark_price,
    parse_spot_book_ticker,
    parse_spot_depth,
    symbol_from_stream,
)
from .ws_schemas import (
    Combined,
    FuturesBookTicker,
    FuturesDepth,
    MarkPriceUpdate,
    SpotBookTicker,
    SpotDepthPartial,
)

__all__ = ["BinanceMarketStreams", "StatusCallback", "DEPTHS"]

T = TypeVar("T")

StatusCallback = Callable[[StreamStatus], None]
DEPTHS = (5, 10, 20)
#: Streams per connection: Binance allows 1024; fewer keeps URLs short and a reconnect cheap.
STREAMS_PER_CONNECTION = 200


class _Data(msgspec.Struct, Generic[T], frozen=True, gc=False):
    """:class:`Combined` without the stream name (a futures frame names its symbol itself)."""

    data: T


_spot_depth = msgspec.json.Decoder(Combined[SpotDepthPartial]).decode
_futures_depth = msgspec.json.Decoder(Combined[FuturesDepth]).decode
_spot_ticker = msgspec.json.Decoder(Combined[SpotBookTicker]).decode
_futures_ticker = msgspec.json.Decoder(Combined[FuturesBookTicker]).decode
_mark_price = msgspec.json.Decoder(Combined[MarkPriceUpdate]).decode
_spot_depth_text = msgspec.json.Decoder(Combined[SpotDepthText]).decode
_futures_depth_text = msgspec.json.Decoder(_Data[FuturesDepthText]).decode
_spot_depth_fast = msgspec.json.Decoder(Combined[FastSpotDepthText]).decode
_futures_depth_fast = msgspec.json.Decoder(_Data[FastFuturesDepthText]).decode


def _log_status(status: StreamStatus) -> None:
    logger.debug("{} connected={} {}", status.stream, status.connected, status.reason)


@dataclass(frozen=True, slots=True)
class _ConnectionPlan(Generic[T]):
    """One connection to open: its stream name, URL and frame parser."""

    name: str
    url: str
    parse: Callable[[Frame], T | None]
    idle_watch: bool = True


class _Direct:
    """The push-mode sink of one connection: its parser, which hands each book on itself (one
    call per frame from the socket reader); statuses to ``on_status``."""

    __slots__ = ("frame", "status")

    def __init__(self, parse: Callable[[Frame], None], on_status: Callable[[StreamStatus], None]) -> None:
        self.frame = parse
        self.status = on_status


class BinanceMarketStreams:
    """Public market data for Binance spot and USD-M perps (see the module doc)."""

    def __init__(
        self,
        urls: BinanceUrls,
        *,
        on_status: StatusCallback | None = None,
        funding_intervals_ms: Mapping[str, int] | None = None,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
        ping_interval_s: float | None = 20.0,
        ping_timeout_s: float | None = 20.0,
        idle_timeout_s: float | None = 60.0,
        max_lifetime_s: float | None = 23.5 * 3600,
        update_speed_ms: int = 100,
    ) -> None:
        self._urls = urls
        self._on_status = on_status or _log_status
        self._funding_intervals_ms = dict(funding_intervals_ms or {})
        self._queue_size = queue_size
        self._ws_options: dict[str, Any] = {
            "backoff": backoff,
            "ping_interval_s": ping_interval_s,
            "ping_timeout_s": ping_timeout_s,
            "max_lifetime_s": max_lifetime_s,
        }
        self._idle_timeout_s = idle_timeout_s
        self._speed = f"@{update_speed_ms}ms" if update_speed_ms != 1000 else ""
        self.errors = ErrorTally("binance:market")
        self._connections: dict[str, BinanceWs] = {}
        self._buffers: list[BoundedBuffer[Frame | StreamStatus]] = []
        self._serial = 0
        self._dropped_closed = 0
        self.decimal_text = DecimalTextCheck()  # the push mode's check of the level text
        self._text_keys: dict[str, InstrumentKey] = {}  # the text parsers' keys (_text_key)

    # -- introspection -------------------------------------------------------------------------

    def stats(self) -> dict[str, WsStats]:
        """Counters of the live connections, by stream name."""
        return {name: ws.stats for name, ws in self._connections.items()}

    @property
    def dropped(self) -> int:
        """Frames dropped by the overflow policy (all iterators, open or closed)."""
        return self._dropped_closed + sum(b.dropped for b in self._buffers)

    def set_funding_interval(self, symbol: str, interval_ms: int) -> None:
        """Funding interval for one perp (from ``/fapi/v1/fundingInfo``; default 8 h)."""
        self._funding_intervals_ms[symbol.upper()] = interval_ms

    # -- public iterators ----------------------------------------------------------------------

    def order_books(self, keys: Sequence[InstrumentKey], depth: int = 5) -> AsyncGenerator[OrderBook, None]:
        return self._iterate(self._book_plans(keys, depth))

    async def run_order_books(self, keys: Sequence[InstrumentKey], sink: BookSink, depth: int = 5) -> None:
        """The books of :meth:`order_books`, pushed: each parsed in the socket reader and handed
        to ``sink`` (no buffer, no iterator); runs until cancelled."""
        await self._push(self._text_book_plans(keys, depth, sink))

    def _book_plans(self, keys: Sequence[InstrumentKey], depth: int) -> list[_ConnectionPlan[OrderBook]]:
        return self._depth_plans(keys, depth, self._parse_spot_depth, self._parse_futures_depth)

    def _text_book_plans(
        self, keys: Sequence[InstrumentKey], depth: int, emit: Callable[[TextBook], None]
    ) -> list[_ConnectionPlan[None]]:
        """The push mode's plans: each frame parsed into a :class:`TextBook` handed to ``emit``
        by the parser itself (a plan's ``parse`` returns nothing)."""
        return self._depth_plans(
            keys, depth, partial(self._text_spot_depth, emit), partial(self._text_futures_depth, emit)
        )

    def _depth_plans(
        self,
        keys: Sequence[InstrumentKey],
        depth: int,
        spot_parse: Callable[[Frame], T | None],
        perp_parse: Callable[[Frame], T | None],
    ) -> list[_ConnectionPlan[T]]:
        if depth not in DEPTHS:
            raise ValueError(f"depth must be one of {DEPTHS}, not {depth}")
        suffix = f"@depth{depth}{self._speed}"
        spot, perp = self._split(keys)
        plans = self._plans("depth", spot, suffix, self._urls.spot_ws + "/stream", spot_parse)
        plans += self._plans("depth", perp, suffix, self._urls.futures_ws + "/public/stream", perp_parse)
        return plans

    def book_tickers(self, keys: Sequence[InstrumentKey]) -> AsyncGenerator[OrderBook, None]:
        """Best bid/ask as one-level books. Sent only on change, so a quiet symbol is not
        taken for a dead connection (no idle watchdog here; pings still detect dead links)."""
        spot, perp = self._split(keys)
        spot_url, perp_url = self._urls.spot_ws + "/stream", self._urls.futures_ws + "/public/stream"
        plans: list[_ConnectionPlan[OrderBook]] = self._plans(
            "bookTicker", spot, "@bookTicker", spot_url, self._parse_spot_ticker, idle_watch=False
        )
        plans += self._plans("bookTicker", perp, "@bookTicker", perp_url, self._parse_futures_ticker, idle_watch=False)
        return self._iterate(plans)

    def funding(self, keys: Sequence[InstrumentKey]) -> AsyncGenerator[FundingRate, None]:
        spot, perp = self._split(keys)
        if spot:
            raise ValueError(f"funding needs perpetuals, got spot keys {[str(k) for k in spot]}")
        plans = self._plans(
            "markPrice", perp, "@markPrice@1s", self._urls.futures_ws + "/market/stream", self._parse_mark
        )
        return self._iterate(plans)

    # -- planning ------------------------------------------------------------------------------

    @staticmethod
    def _split(keys: Sequence[InstrumentKey]) -> tuple[list[InstrumentKey], list[InstrumentKey]]:
        if not keys:
            raise ValueError("no instrument keys given")
        spot: list[InstrumentKey] = []
        perp: list[InstrumentKey] = []
        for key in dict.fromkeys(keys):
            if key.exchange is not Exchange.BINANCE:
                raise ValueError(f"{key} is not a Binance instrument")
            (spot if key.kind is MarketKind.SPOT else perp).append(key)
        return spot, perp

    def _plans(
        self,
        what: str,
        keys: list[InstrumentKey],
        suffix: str,
        base: str,
        parse: Callable[[Frame], T | None],
        *,
        idle_watch: bool = True,
    ) -> list[_ConnectionPlan[T]]:
        plans: list[_ConnectionPlan[T]] = []
        kind = keys[0].kind.value if keys else ""
        for i in range(0, len(keys), STREAMS_PER_CONNECTION):
            chunk = keys[i : i + STREAMS_PER_CONNECTION]
            streams = "/".join(k.symbol.lower() + suffix for k in chunk)
            self._serial += 1
            plans.append(
                _ConnectionPlan(f"binance:{kind}:{what}#{self._serial}", f"{base}?streams={streams}", parse, idle_watch)
            )
        return plans

    # -- frame parsers (decode at the edge; bad frames counted and skipped) --------------------

    def _bad(self, frame: Frame, kind: str, exc: Exception) -> None:
        self.errors.record(kind, frame.data, exc)

    def _parse_spot_depth(self, frame: Frame) -> OrderBook | None:
        try:
            msg = _spot_depth(frame.data)
            return parse_spot_depth(msg.data, symbol_from_stream(msg.stream), frame.recv_ns)
        except msgspec.DecodeError as exc:
            self._bad(frame, "spot_depth", exc)
        except PayloadError as exc:
            self._bad(frame, f"spot_depth:{exc.kind}", exc)
        return None

    def _text_key(self, name: str, key: InstrumentKey) -> InstrumentKey:
        """Remember ``key`` under ``name`` (a spot stream name, a perp's symbol: the two never
        look alike) for the text parsers; at most 8192 kept, as ``key_of`` keeps."""
        if len(self._text_keys) < 8192:
            self._text_keys[name] = key
        return key

    def _text_spot_depth(self, emit: Callable[[TextBook], None], frame: Frame) -> None:
        data = frame.data
        try:
            try:
                msg: Combined[SpotDepthText] | Combined[FastSpotDepthText] = _spot_depth_fast(data)
                book = msg.data
                check = self.decimal_text  # (DecimalTextCheck.__call__, inline: the hot path)
                skeleton, name = data.translate(None, DIGITS), msg.stream
                ok = check.last.get(name) == skeleton or check.check(name, skeleton, data, (book.bids, book.asks))
            except msgspec.ValidationError:  # a 1-character level string, or a bad frame
                msg = _spot_depth_text(data)
                book = msg.data
                ok = self.decimal_text.strict(data, (book.bids, book.asks))
            if not ok:
                self._bad(frame, "spot_depth:decimal", ValueError("a level is not a decimal number"))
                return
            key = self._text_keys.get(msg.stream)
            if key is None:
                key = self._text_key(msg.stream, key_of(symbol_from_stream(msg.stream), MarketKind.SPOT))
        except msgspec.DecodeError as exc:
            self._bad(frame, "spot_depth", exc)
            return
        except PayloadError as exc:
            self._bad(frame, f"spot_depth:{exc.kind}", exc)
            return
        recv_ns = frame.recv_ns
        # spot partial depth has no event time: the venue time is our receive time
        emit(TextBook(key, book.bids, book.asks, recv_ns // 1_000_000, recv_ns, book.lastUpdateId))

    def _text_futures_depth(self, emit: Callable[[TextBook], None], frame: Frame) -> None:
        data = frame.data
        try:
            try:
                book: FuturesDepthText | FastFuturesDepthText = _futures_depth_fast(data).data
                check = self.decimal_text  # (DecimalTextCheck.__call__, inline: the hot path)
                skeleton, name = data.translate(None, DIGITS), book.s
                ok = check.last.get(name) == skeleton or check.check(name, skeleton, data, (book.b, book.a))
            except msgspec.ValidationError:  # a 1-character level string, or a bad frame
                book = _futures_depth_text(data).data
                ok = self.decimal_text.strict(data, (book.b, book.a))
        except msgspec.DecodeError as exc:
            self._bad(frame, "futures_depth", exc)
            return
        if not ok:
            self._bad(frame, "futures_depth:decimal", ValueError("a level is not a decimal number"))
            return
        key = self._text_keys.get(book.s)
        if key is None:
            key = self._text_key(book.s, key_of(book.s, MarketKind.PERP))
        emit(TextBook(key, book.b, book.a, book.E, frame.recv_ns, book.u))

    def _parse_futures_depth(self, frame: Frame) -> OrderBook | None:
        try:
            return parse_futures_depth(_futures_depth(frame.data).data, frame.recv_ns)
        except msgspec.DecodeError as exc:
            self._bad(frame, "futures_depth", exc)
        return None

    def _parse_spot_ticker(self, frame: Frame) -> OrderBook | None:
        try:
            return parse_spot_book_ticker(_spot_ticker(frame.data).data, frame.recv_ns)
        except msgspec.DecodeError as exc:
            self._bad(frame, "spot_book_ticker", exc)
        return None

    def _parse_futures_ticker(self, frame: Frame) -> OrderBook | None:
        try:
            return parse_futures_book_ticker(_futures_ticker(frame.data).data, frame.recv_ns)
        except msgspec.DecodeError as exc:
            self._bad(frame, "futures_book_ticker", exc)
        return None

    def _parse_mark(self, frame: Frame) -> FundingRate | None:
        try:
            msg = _mark_price(frame.data).data
            interval = self._funding_intervals_ms.get(msg.s, DEFAULT_FUNDING_INTERVAL_MS)
            return parse_mark_price(msg, interval)
        except msgspec.DecodeError as exc:
            self._bad(frame, "mark_price", exc)
        except PayloadError as exc:
            self._bad(frame, f"mark_price:{exc.kind}", exc)
        return None

    # -- the iterator --------------------------------------------------------------------------

    async def _supervise(self, conns: list[BinanceWs], buffer: BoundedBuffer[Frame | StreamStatus]) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for ws in conns:
                    tg.create_task(ws.run(), name=ws.name)
        except BaseException as exc:
            buffer.fail(exc if isinstance(exc, Exception) else RuntimeError(f"market stream stopped: {exc!r}"))
            raise

    def _connect(self, plans: list[_ConnectionPlan[T]], *, direct: bool = False, **where: Any) -> list[BinanceWs]:
        """``direct``: each connection's sink is its plan's (emitting) parser (:class:`_Direct`)."""
        conns = [
            BinanceWs(
                p.name,
                p.url,
                tally=self.errors,
                idle_timeout_s=self._idle_timeout_s if p.idle_watch else None,
                **({"sink": _Direct(p.parse, self._on_status)} if direct else {}),  # type: ignore[arg-type]
                **where,
                **self._ws_options,
            )
            for p in plans
        ]
        for ws in conns:
            self._connections[ws.name] = ws
        return conns

    async def _push(self, plans: list[_ConnectionPlan[None]]) -> None:
        """Run the connections of ``plans``, each frame handed to its plan's parser (which
        emits) straight from the socket reader."""
        async with asyncio.TaskGroup() as tg:
            for ws in self._connect(plans, direct=True):
                tg.create_task(ws.run(), name=ws.name)

    async def _iterate(self, plans: list[_ConnectionPlan[T]]) -> AsyncGenerator[T, None]:
        buffer: BoundedBuffer[Frame | StreamStatus] = BoundedBuffer(self._queue_size, Overflow.DROP_OLDEST)
        parsers = {p.name: p.parse for p in plans}
        conns = self._connect(plans, buffer=buffer)
        self._buffers.append(buffer)
        supervisor = asyncio.create_task(self._supervise(conns, buffer), name="binance:market:supervisor")
        try:
            while True:
                for item in await buffer.get_batch():
                    if isinstance(item, StreamStatus):
                        self._on_status(item)
                        continue
                    parsed = parsers[item.source](item)
                    if parsed is not None:
                        yield parsed
        finally:
            supervisor.cancel()
            await asyncio.wait({supervisor})
            if not supervisor.cancelled() and supervisor.exception() is not None:
                logger.error("binance market streams stopped: {!r}", supervisor.exception())
            for ws in conns:
                self._connections.pop(ws.name, None)
            self._buffers.remove(buffer)
            self._dropped_closed += buffer.dropped
