"""Market-data streams of one host, rendered from engine events and periodic reads (§6).

Diff depth: every ``BookUpdated`` carries the changed levels and its ids; per (symbol,
speed) the changes are merged (latest quantity per price) and emitted each ``speed`` ms with
``U`` = first merged event's first id, ``u`` = last merged event's id and, on futures,
``pu`` = the id before ``U`` (= the previous emission's ``u``). A client following the book
sync procedure against ``GET depth`` (whose ``lastUpdateId`` is the engine's) stays in sync.

Partial depth (``<s>@depth5`` ...) renders the engine's book each ``speed`` ms. The bench
firehose (``firehose.py``, off unless switched on over ``/_sim/bench/firehose``) renders the
same book many times a second through :meth:`MarketStreams.firehose_frame`; while it is on, the
periodic partial frames pause (``partial_muted``). Each firehose frame takes a fresh update id
(``id_offset`` per symbol, added to the engine's id), so ids never go backwards, also after the
firehose stops; with the firehose never used the offset is 0 and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec

from exchanges.sim.engine import BookUpdated, Level, MarkUpdated, MarkView, SimEvent, TradeExecuted
from strategy_client.model import MarketKind

from .api_errors import Product
from .connection import WsConn
from .core import KIND_OF, BinanceCore
from .hub import StreamHub
from .numbers import fixed, money, spot
from .payloads_market import (
    FuturesAggTradeEvent,
    FuturesBookTickerEvent,
    FuturesDepthEvent,
    FuturesTradeEvent,
    Levels,
    MarkPriceEvent,
    SpotAggTradeEvent,
    SpotBookTickerEvent,
    SpotDepthEvent,
    SpotPartialDepthEvent,
    SpotTradeEvent,
)
from .stream_names import StreamKind
from .tickers import futures_ticker_event, mini_ticker_event, spot_ticker_event

__all__ = ["MarketStreams", "RenderedBook", "StreamKey"]

StreamKey = tuple[str, str, int, int]


class _Pending:
    """Diff-depth changes merged since the last emission of one (symbol, speed) series."""

    __slots__ = ("first_id", "prev_id", "last_id", "ts_ms", "bids", "asks")

    def __init__(self) -> None:
        self.first_id = 0
        self.prev_id = 0
        self.last_id = 0
        self.ts_ms = 0
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def add(self, ev: BookUpdated) -> None:
        if not self.first_id:
            self.first_id = ev.first_update_id
            self.prev_id = ev.prev_update_id
        self.last_id = ev.update_id
        self.ts_ms = ev.ts_ms
        for price, qty in ev.bids:
            self.bids[price] = qty
        for price, qty in ev.asks:
            self.asks[price] = qty

    @property
    def empty(self) -> bool:
        return not self.first_id


class RenderedBook(msgspec.Struct, frozen=True, gc=False):
    """One partial-depth book, its levels already in wire text (for the firehose)."""

    symbol: str
    bids: Levels
    asks: Levels
    update_id: int
    ts_ms: int


class MarketStreams:
    """Renders and publishes one product's market streams to its hub."""

    def __init__(self, product: Product, core: BinanceCore, hub: StreamHub) -> None:
        self.product = product
        self._kind = KIND_OF[product]
        self._core = core
        self._hub = hub
        self._enc = msgspec.json.Encoder()
        self._pending: dict[tuple[str, int], _Pending] = {}
        self._top: dict[str, tuple[Level | None, Level | None]] = {}
        self._partial_u: dict[tuple[str, int, int], int] = {}
        self._marks: dict[str, MarkView] = {}
        self.partial_muted = False
        self.id_offset: dict[str, int] = {}

    # -- formatting -------------------------------------------------------------------------

    def _levels(self, symbol: str, levels: list[Level] | list[tuple[Decimal, Decimal]]) -> Levels:
        if self.product == "spot":
            return [(spot(p), spot(q)) for p, q in levels]
        fmt = self._core.fmts.get(symbol)
        if fmt is None:
            return [(money(p), money(q)) for p, q in levels]
        return [(fmt.price(p) if p else "0", fmt.qty(q)) for p, q in levels]

    def _price(self, symbol: str, value: Decimal) -> str:
        if self.product == "spot":
            return spot(value)
        fmt = self._core.fmts.get(symbol)
        return fmt.price(value) if fmt is not None else money(value)

    def _qty(self, symbol: str, value: Decimal) -> str:
        if self.product == "spot":
            return spot(value)
        fmt = self._core.fmts.get(symbol)
        return fmt.qty(value) if fmt is not None else money(value)

    # -- engine events ----------------------------------------------------------------------

    def on_event(self, ev: SimEvent) -> None:
        if isinstance(ev, BookUpdated):
            if ev.kind is self._kind:
                self._on_book(ev)
        elif isinstance(ev, TradeExecuted):
            if ev.kind is self._kind:
                self._on_trade(ev)
        elif isinstance(ev, MarkUpdated) and self._kind is MarketKind.PERP:
            self._marks[ev.symbol] = ev.mark

    def _on_book(self, ev: BookUpdated) -> None:
        for key in self._hub.active("depth_diff"):
            if key[1] == ev.symbol:
                pending = self._pending.get((ev.symbol, key[3]))
                if pending is None:
                    pending = self._pending[(ev.symbol, key[3])] = _Pending()
                pending.add(ev)
        ticker_key = ("book_ticker", ev.symbol, 0, 0)
        if self._hub.has(ticker_key):
            book = self._core.venue.book(self._kind, ev.symbol, 1)
            top = (book.bids[0] if book.bids else None, book.asks[0] if book.asks else None)
            if top != self._top.get(ev.symbol):
                self._top[ev.symbol] = top
                self._hub.publish(ticker_key, self._book_ticker(ev.symbol, top, book.update_id, ev.ts_ms))

    def _book_ticker(self, symbol: str, top: tuple[Level | None, Level | None], update_id: int, ts_ms: int) -> bytes:
        bid, ask = top
        zero = (Decimal(0), Decimal(0))
        bp, bq = bid or zero
        ap, aq = ask or zero
        if self.product == "spot":
            return self._enc.encode(
                SpotBookTickerEvent(u=update_id, s=symbol, b=spot(bp), B=spot(bq), a=spot(ap), A=spot(aq))
            )
        return self._enc.encode(
            FuturesBookTickerEvent(
                e="bookTicker",
                u=update_id,
                s=symbol,
                b=self._price(symbol, bp),
                B=self._qty(symbol, bq),
                a=self._price(symbol, ap),
                A=self._qty(symbol, aq),
                T=ts_ms,
                E=self._core.now_ms(),
            )
        )

    def _on_trade(self, ev: TradeExecuted) -> None:
        t = ev.trade
        now = self._core.now_ms()
        agg_key = ("agg_trade", ev.symbol, 0, 0)
        if self._hub.has(agg_key):
            if self.product == "spot":
                data = self._enc.encode(
                    SpotAggTradeEvent(
                        e="aggTrade",
                        E=now,
                        s=ev.symbol,
                        a=t.trade_id,
                        p=spot(t.price),
                        q=spot(t.qty),
                        f=t.trade_id,
                        last_id=t.trade_id,
                        T=t.ts_ms,
                        m=t.buyer_is_maker,
                        M=True,
                    )
                )
            else:
                qty = self._qty(ev.symbol, t.qty)
                data = self._enc.encode(
                    FuturesAggTradeEvent(
                        e="aggTrade",
                        E=now,
                        s=ev.symbol,
                        a=t.trade_id,
                        p=self._price(ev.symbol, t.price),
                        q=qty,
                        nq=qty,
                        f=t.trade_id,
                        last_id=t.trade_id,
                        T=t.ts_ms,
                        m=t.buyer_is_maker,
                    )
                )
            self._hub.publish(agg_key, data)
        trade_key = ("trade", ev.symbol, 0, 0)
        if not self._hub.has(trade_key):
            return
        if self.product == "spot":
            trade: SpotTradeEvent | FuturesTradeEvent = SpotTradeEvent(
                e="trade",
                E=now,
                s=ev.symbol,
                t=t.trade_id,
                p=spot(t.price),
                q=spot(t.qty),
                T=t.ts_ms,
                m=t.buyer_is_maker,
                M=True,
            )
        else:
            trade = FuturesTradeEvent(
                e="trade",
                E=now,
                T=t.ts_ms,
                s=ev.symbol,
                t=t.trade_id,
                p=self._price(ev.symbol, t.price),
                q=self._qty(ev.symbol, t.qty),
                X="MARKET",
                m=t.buyer_is_maker,
            )
        self._hub.publish(trade_key, self._enc.encode(trade))

    # -- periodic ---------------------------------------------------------------------------

    def tick(self, speed_ms: int) -> None:
        """Emit every stream whose update speed is ``speed_ms``."""
        for kind, emit in self._periodic():
            for key in self._hub.active(kind):
                if key[3] == speed_ms:
                    emit(key)
        self._forget_unused()

    def _periodic(self) -> list[tuple[StreamKind, Callable[[StreamKey], None]]]:
        """The periodic stream kinds of this product and what emits each."""
        out: list[tuple[StreamKind, Callable[[StreamKey], None]]] = [
            ("depth_diff", self._emit_diff),
            ("depth_partial", self._emit_partial),
            ("ticker", self._emit_ticker),
            ("mini_ticker", self._emit_mini_ticker),
            ("ticker_all", self._emit_all_tickers),
            ("mini_ticker_all", self._emit_all_tickers),
        ]
        if self._kind is MarketKind.PERP:
            out += [("mark_price", self._emit_mark), ("mark_price_all", self._emit_mark_all)]
        return out

    def _emit_mini_ticker(self, key: StreamKey) -> None:
        if key[1] in self._core.specs[self.product]:
            self._hub.publish(key, self._enc.encode(mini_ticker_event(self._core, self.product, key[1])))

    def _forget_unused(self) -> None:
        for symbol, speed in list(self._pending):
            if not self._hub.has(("depth_diff", symbol, 0, speed)):
                del self._pending[(symbol, speed)]

    def _emit_ticker(self, key: tuple[str, str, int, int]) -> None:
        """``<symbol>@ticker``: the rolling 24 h window, sent every period while subscribed
        (``@miniTicker`` likewise, with fewer fields)."""
        symbol = key[1]
        if symbol not in self._core.specs[self.product]:
            return
        if self.product == "spot":
            data = self._enc.encode(spot_ticker_event(self._core, symbol))
        else:
            data = self._enc.encode(futures_ticker_event(self._core, symbol))
        self._hub.publish(key, data)

    def _emit_all_tickers(self, key: tuple[str, str, int, int]) -> None:
        """``!ticker@arr`` / ``!miniTicker@arr``: one array of every listed symbol's event, each
        period (Binance sends only the tickers that changed; the venue sends them all)."""
        symbols = sorted(self._core.specs[self.product])
        if key[0] == "mini_ticker_all":
            events: list[object] = [mini_ticker_event(self._core, self.product, s) for s in symbols]
        else:
            events = [futures_ticker_event(self._core, s) for s in symbols]
        self._hub.publish(key, self._enc.encode(events))

    def _emit_diff(self, key: tuple[str, str, int, int]) -> None:
        symbol, speed = key[1], key[3]
        pending = self._pending.get((symbol, speed))
        if pending is None or pending.empty:
            return
        self._pending[(symbol, speed)] = _Pending()
        bids = self._levels(symbol, sorted(pending.bids.items(), reverse=True))
        asks = self._levels(symbol, sorted(pending.asks.items()))
        now = self._core.now_ms()
        if self.product == "spot":
            data = self._enc.encode(
                SpotDepthEvent(e="depthUpdate", E=now, s=symbol, U=pending.first_id, u=pending.last_id, b=bids, a=asks)
            )
        else:
            data = self._enc.encode(
                FuturesDepthEvent(
                    e="depthUpdate",
                    E=now,
                    T=pending.ts_ms,
                    s=symbol,
                    U=pending.first_id,
                    u=pending.last_id,
                    pu=pending.prev_id,
                    b=bids,
                    a=asks,
                )
            )
        self._hub.publish(key, data)

    def _emit_partial(self, key: tuple[str, str, int, int]) -> None:
        symbol, levels, speed = key[1], key[2], key[3]
        if self.partial_muted or symbol not in self._core.specs[self.product]:
            return
        book = self._core.venue.book(self._kind, symbol, levels)
        update_id = book.update_id + self.id_offset.get(symbol, 0)
        bids = self._levels(symbol, book.bids[:levels])
        asks = self._levels(symbol, book.asks[:levels])
        if self.product == "spot":
            data = self._enc.encode(SpotPartialDepthEvent(lastUpdateId=update_id, bids=bids, asks=asks))
        else:
            prev = self._partial_u.get((symbol, levels, speed))
            if prev == update_id:
                return
            self._partial_u[(symbol, levels, speed)] = update_id
            first = update_id if prev is None else prev + 1
            data = self._enc.encode(
                FuturesDepthEvent(
                    e="depthUpdate",
                    E=self._core.now_ms(),
                    T=book.ts_ms,
                    s=symbol,
                    U=first,
                    u=update_id,
                    pu=first - 1,
                    b=bids,
                    a=asks,
                )
            )
        self._hub.publish(key, data)

    # -- firehose (bench knob) --------------------------------------------------------------

    def partial_keys(self) -> list[StreamKey]:
        """Partial-depth streams with a subscriber whose symbol this product lists."""
        specs = self._core.specs[self.product]
        return [k for k in self._hub.active("depth_partial") if k[1] in specs]

    def render_book(self, key: StreamKey, scale: Decimal | None = None) -> RenderedBook:
        """The engine's book for ``key`` in wire text; with ``scale`` every price is multiplied
        by it and rounded down to the tick (a synthetic move, for the firehose's trigger)."""
        symbol, levels = key[1], key[2]
        book = self._core.venue.book(self._kind, symbol, levels)
        bids, asks = book.bids[:levels], book.asks[:levels]
        if scale is not None:
            tick = self._core.specs[self.product][symbol].tick_size
            bids = [((p * scale // tick) * tick, q) for p, q in bids]
            asks = [((p * scale // tick) * tick, q) for p, q in asks]
        return RenderedBook(
            symbol=symbol,
            bids=self._levels(symbol, bids),
            asks=self._levels(symbol, asks),
            update_id=book.update_id,
            ts_ms=book.ts_ms,
        )

    def firehose_frame(self, key: StreamKey, book: RenderedBook, now_ms: int) -> tuple[bytes, int]:
        """One partial-depth frame of ``book`` under a fresh update id: ``(data, u)``."""
        symbol = book.symbol
        offset = self.id_offset.get(symbol, 0) + 1
        self.id_offset[symbol] = offset
        update_id = book.update_id + offset
        if self.product == "spot":
            return self._enc.encode(SpotPartialDepthEvent(lastUpdateId=update_id, bids=book.bids, asks=book.asks)), (
                update_id
            )
        series = (symbol, key[2], key[3])
        prev = self._partial_u.get(series, update_id - 1)
        self._partial_u[series] = update_id
        data = self._enc.encode(
            FuturesDepthEvent(
                e="depthUpdate",
                E=now_ms,
                T=book.ts_ms,
                s=symbol,
                U=prev + 1,
                u=update_id,
                pu=prev,
                b=book.bids,
                a=book.asks,
            )
        )
        return data, update_id

    def listeners(self, key: StreamKey) -> list[WsConn]:
        return self._hub.listeners(key)

    def publish(self, key: StreamKey, data: bytes) -> int:
        """Publish one frame of ``key``; returns how many connections × names it went to."""
        return self._hub.publish(key, data)

    def _mark_event(self, mark: MarkView, now: int) -> MarkPriceEvent:
        return MarkPriceEvent(
            e="markPriceUpdate",
            E=now,
            s=mark.symbol,
            p=fixed(mark.mark, 8),
            i=fixed(mark.index, 8),
            P=fixed(mark.estimated_settle, 8),
            r=fixed(mark.funding_rate, 8),
            T=mark.next_funding_ms,
        )

    def _latest_mark(self, symbol: str) -> MarkView | None:
        mark = self._marks.get(symbol)
        if mark is None and symbol in self._core.specs["futures"]:
            mark = self._marks[symbol] = self._core.venue.mark(symbol)
        return mark

    def _emit_mark(self, key: tuple[str, str, int, int]) -> None:
        mark = self._latest_mark(key[1])
        if mark is not None:
            self._hub.publish(key, self._enc.encode(self._mark_event(mark, self._core.now_ms())))

    def _emit_mark_all(self, key: tuple[str, str, int, int]) -> None:
        now = self._core.now_ms()
        events = [
            self._mark_event(m, now)
            for s in sorted(self._core.specs["futures"])
            if (m := self._latest_mark(s)) is not None
        ]
        self._hub.publish(key, self._enc.encode(events))
