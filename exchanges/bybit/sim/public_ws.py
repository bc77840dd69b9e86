"""Public streams ``/v5/public/spot`` and ``/v5/public/linear`` (reference §6).

**Order books** ``orderbook.{1,50,200,1000}.{symbol}``: one shared stream per (category,
symbol, depth). A subscriber first gets a ``snapshot`` of the stream's current state, then
``delta``s: the levels of the top ``depth`` that changed (size ``"0"`` = remove), ``u`` + 1 on
every push, ``seq`` the engine's book update id (it orders data across depths), ``cts`` the
engine time of the book. Depth 1 is snapshot-only and re-sent every ``depth1_resend_s`` when
unchanged (same ``u``). :meth:`PublicStreams.restart_books` replays Bybit's service restart:
every stream sends a new ``snapshot`` with ``u`` = 1.

**Tickers** ``tickers.{symbol}``: linear sends a ``snapshot`` then ``delta``s holding only the
fields that changed (``symbol`` always); spot sends snapshots only. Pushed every 100 ms when
something changed. **Trades** ``publicTrade.{symbol}``: every match.

Control: ``subscribe``/``unsubscribe`` (spot: at most ``spot_max_args`` args per request; at
most ``max_args_chars`` characters of topics per connection), ``ping`` → ``pong``. Errors are
``{"success": false, "ret_msg": ...}``; the connection stays open.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import msgspec
from aiohttp import web

from exchanges.sim.engine import BookUpdated, MarkUpdated, MarkView, SimEvent, TradeExecuted
from exchanges.sim.server import Periodic
from strategy_client.model import MarketKind

from .api_errors import Category
from .connection import WsConn
from .core import KIND_OF, BybitCore
from .registry import ConnRegistry
from .tape import Tape
from .tickers import linear_ticker, spot_ticker
from .topics import DEPTH_PERIOD_MS, Topic, TopicError, parse_topic
from .ws_messages import BadRequest, OpReply, decode_request
from .ws_serve import serve_ws

__all__ = ["PublicStreams"]

ZERO = Decimal(0)
Levels = dict[Decimal, Decimal]
_HOST: dict[Category, str] = {"spot": "spot", "linear": "futures"}


class BookData(msgspec.Struct, kw_only=True):
    s: str
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    u: int
    seq: int


class BookFrame(msgspec.Struct, kw_only=True):
    topic: str
    type: str
    ts: int
    data: BookData
    cts: int


class TickerFrame(msgspec.Struct, kw_only=True):
    topic: str
    type: str
    data: object
    cs: int
    ts: int


class TradeData(msgspec.Struct, kw_only=True):
    T: int
    s: str
    S: str
    v: str
    p: str
    L: str
    i: str
    BT: bool
    RPI: bool
    seq: int


class TradeFrame(msgspec.Struct, kw_only=True):
    topic: str
    type: str
    ts: int
    data: list[TradeData]


class _BookStream:
    """The state clients of one order-book topic hold: what was last pushed, and its ``u``."""

    __slots__ = ("topic", "category", "symbol", "depth", "bids", "asks", "u", "seq", "cts", "subs", "sent_at")

    def __init__(self, topic: Topic, category: Category, u: int) -> None:
        self.topic = topic.name
        self.category = category
        self.symbol = topic.symbol
        self.depth = topic.depth
        self.bids: Levels = {}
        self.asks: Levels = {}
        self.u = u
        self.seq = 0
        self.cts = 0
        self.subs: dict[WsConn, None] = {}
        self.sent_at = 0.0


class _TickerStream:
    __slots__ = ("topic", "category", "symbol", "fields", "subs")

    def __init__(self, topic: Topic, category: Category) -> None:
        self.topic = topic.name
        self.category = category
        self.symbol = topic.symbol
        self.fields: dict[str, str] = {}
        self.subs: dict[WsConn, None] = {}


def _diff(old: Levels, new: Levels) -> list[tuple[Decimal, Decimal]]:
    changes = [(p, q) for p, q in new.items() if old.get(p) != q]
    changes += [(p, ZERO) for p in old if p not in new]
    return changes


class PublicStreams:
    def __init__(self, core: BybitCore, tape: Tape, registry: ConnRegistry) -> None:
        self.core = core
        self.tape = tape
        self.registry = registry
        self._enc = msgspec.json.Encoder()
        self._books: dict[tuple[Category, str, int], _BookStream] = {}
        self._last_u: dict[tuple[Category, str, int], int] = {}
        self._tickers: dict[tuple[Category, str], _TickerStream] = {}
        self._trades: dict[tuple[Category, str], dict[WsConn, None]] = {}
        self._last_trade_price: dict[tuple[MarketKind, str], Decimal] = {}
        self._by_conn: dict[WsConn, dict[str, Topic]] = {}
        self._marks: dict[str, MarkView] = {}
        self._cs = 9_532_239_429
        self.pushed = 0

    # -- routes -----------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v5/public/spot", self._route("spot")),
            web.get("/v5/public/linear", self._route("linear")),
        ]

    def _route(self, category: Category) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, category)

        return handle

    def topics_of(self, conn: WsConn) -> list[str]:
        return list(self._by_conn.get(conn, {}))

    async def serve(self, request: web.Request, category: Category) -> web.StreamResponse:
        def opened(conn: WsConn) -> None:
            self._by_conn[conn] = {}

        return await serve_ws(
            request,
            self.core,
            self.registry,
            host=_HOST[category],
            role="streams",
            idle_timeout_s=self.core.options.public_idle_timeout_s,
            on_frame=lambda conn, raw: self._control(conn, category, raw),
            on_open=opened,
            on_close=self._drop,
        )

    # -- control ----------------------------------------------------------------------------

    def _reply(self, conn: WsConn, success: bool, msg: str, req_id: object, op: str) -> None:
        reply = OpReply(
            success=success,
            ret_msg=msg,
            conn_id=conn.conn_id,
            req_id="" if req_id is None else str(req_id),
            op=op,
        )
        conn.send_reply(self._enc.encode(reply))

    def _control(self, conn: WsConn, category: Category, raw: bytes) -> None:
        try:
            req = decode_request(raw)
        except BadRequest as err:
            self.core.bad.record(f"ws:public:{err.msg.split(':')[1] if ':' in err.msg else err.msg}", raw)
            self._reply(conn, False, err.msg, None, "")
            return
        if req.op == "ping":
            self._reply(conn, True, "pong", req.req_id, "ping")
            return
        if req.op not in ("subscribe", "unsubscribe"):
            self.core.bad.record("ws:public:invalid-op", raw)
            self._reply(conn, False, f"error:invalid op {req.op}", req.req_id, req.op)
            return
        names = [a for a in req.args if isinstance(a, str)]
        if len(names) != len(req.args) or not names:
            self.core.bad.record("ws:public:args", raw)
            self._reply(conn, False, "error:args must be a non-empty list of topics", req.req_id, req.op)
            return
        if category == "spot" and len(names) > self.core.options.spot_max_args:
            self.core.bad.record("ws:public:args-size", raw)
            self._reply(conn, False, f"args size >{self.core.options.spot_max_args}", req.req_id, req.op)
            return
        try:
            if req.op == "subscribe":
                topics = self._subscribe(conn, category, names)
            else:
                topics = []
                self._unsubscribe(conn, category, names)
        except TopicError as err:
            self.core.bad.record("ws:public:topic", raw)
            self._reply(conn, False, err.msg, req.req_id, req.op)
            return
        self._reply(conn, True, "subscribe" if category == "spot" and req.op == "subscribe" else "", req.req_id, req.op)
        for topic in topics:
            self._initial(conn, category, topic)

    def _subscribe(self, conn: WsConn, category: Category, names: list[str]) -> list[Topic]:
        symbols = set(self.core.specs[category])
        mine = self._by_conn.setdefault(conn, {})
        parsed: list[Topic] = []
        for name in names:
            if name in mine:
                raise TopicError(f"error:already subscribed,topic:{name}")
            parsed.append(parse_topic(name, symbols))
        chars = sum(len(n) for n in mine) + sum(len(n) for n in names)
        if chars > self.core.options.max_args_chars:
            raise TopicError(f"error:args length exceeds {self.core.options.max_args_chars} characters")
        for topic in parsed:
            mine[topic.name] = topic
            if topic.kind == "orderbook":
                key = (category, topic.symbol, topic.depth)
                stream = self._books.get(key)
                if stream is None:
                    stream = self._new_book(key, topic, category)
                stream.subs[conn] = None
            elif topic.kind == "tickers":
                tkey = (category, topic.symbol)
                ticker = self._tickers.get(tkey)
                if ticker is None:
                    ticker = self._tickers[tkey] = _TickerStream(topic, category)
                    ticker.fields = self._ticker_fields(category, topic.symbol)
                ticker.subs[conn] = None
            else:
                self._trades.setdefault((category, topic.symbol), {})[conn] = None
        return parsed

    def _unsubscribe(self, conn: WsConn, category: Category, names: list[str]) -> None:
        mine = self._by_conn.get(conn, {})
        for name in names:
            topic = mine.get(name)
            if topic is None:
                raise TopicError(f"error:not subscribed,topic:{name}")
        for name in names:
            self._remove(conn, category, mine.pop(name))

    def _remove(self, conn: WsConn, category: Category, topic: Topic) -> None:
        if topic.kind == "orderbook":
            key = (category, topic.symbol, topic.depth)
            stream = self._books.get(key)
            if stream is not None:
                stream.subs.pop(conn, None)
                if not stream.subs:
                    self._last_u[key] = stream.u
                    del self._books[key]
        elif topic.kind == "tickers":
            ticker = self._tickers.get((category, topic.symbol))
            if ticker is not None:
                ticker.subs.pop(conn, None)
                if not ticker.subs:
                    del self._tickers[(category, topic.symbol)]
        else:
            subs = self._trades.get((category, topic.symbol))
            if subs is not None:
                subs.pop(conn, None)
                if not subs:
                    del self._trades[(category, topic.symbol)]

    def _drop(self, conn: WsConn) -> None:
        category: Category = "spot" if conn.host == "spot" else "linear"
        for topic in list(self._by_conn.pop(conn, {}).values()):
            self._remove(conn, category, topic)

    # -- order books ------------------------------------------------------------------------

    def _levels(self, category: Category, symbol: str, depth: int) -> tuple[Levels, Levels, int, int]:
        book = self.core.venue.book(KIND_OF[category], symbol, depth)
        bids = dict(book.bids[:depth])
        asks = dict(book.asks[:depth])
        return bids, asks, book.update_id, book.ts_ms

    def _new_book(self, key: tuple[Category, str, int], topic: Topic, category: Category) -> _BookStream:
        bids, asks, update_id, ts = self._levels(category, topic.symbol, topic.depth)
        last = self._last_u.get(key)
        stream = _BookStream(topic, category, (last + 1) if last is not None else max(2, update_id))
        stream.bids, stream.asks, stream.seq, stream.cts = bids, asks, update_id, ts
        self._books[key] = stream
        return stream

    def _book_frame(
        self, stream: _BookStream, kind: str, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
    ) -> bytes:
        fmt = self.core.fmt(stream.category, stream.symbol)
        data = BookData(
            s=stream.symbol,
            b=[(fmt.price(p), fmt.qty(q)) for p, q in sorted(bids, reverse=True)],
            a=[(fmt.price(p), fmt.qty(q)) for p, q in sorted(asks)],
            u=stream.u,
            seq=stream.seq,
        )
        frame = BookFrame(topic=stream.topic, type=kind, ts=self.core.now_ms(), data=data, cts=stream.cts)
        return self._enc.encode(frame)

    def _snapshot(self, stream: _BookStream) -> bytes:
        return self._book_frame(stream, "snapshot", list(stream.bids.items()), list(stream.asks.items()))

    def _push_book(self, stream: _BookStream, frame: bytes) -> None:
        stream.sent_at = time.monotonic()
        self.pushed += 1
        for conn in list(stream.subs):
            conn.send_market(stream.topic, frame)

    def _tick_books(self, period_ms: int) -> None:
        resend_s = self.core.options.depth1_resend_s
        for stream in list(self._books.values()):
            if DEPTH_PERIOD_MS[stream.depth] != period_ms:
                continue
            bids, asks, update_id, ts = self._levels(stream.category, stream.symbol, stream.depth)
            db, da = _diff(stream.bids, bids), _diff(stream.asks, asks)
            if not db and not da:
                if stream.depth == 1 and time.monotonic() - stream.sent_at >= resend_s:
                    self._push_book(stream, self._snapshot(stream))
                continue
            stream.bids, stream.asks = bids, asks
            stream.u += 1
            stream.seq, stream.cts = update_id, ts
            frame = self._snapshot(stream) if stream.depth == 1 else self._book_frame(stream, "delta", db, da)
            self._push_book(stream, frame)

    def restart_books(self) -> int:
        """Bybit's service restart: every book stream starts over with a ``u`` = 1 snapshot."""
        sent = 0
        for stream in list(self._books.values()):
            stream.bids, stream.asks, stream.seq, stream.cts = self._levels(
                stream.category, stream.symbol, stream.depth
            )
            stream.u = 1
            frame = self._snapshot(stream)
            stream.sent_at = time.monotonic()
            for conn in list(stream.subs):
                conn.send_reply(frame)  # a control event: never dropped, never faulted
                sent += 1
        return sent

    # -- tickers ----------------------------------------------------------------------------

    def _ticker_fields(self, category: Category, symbol: str) -> dict[str, str]:
        if category == "spot":
            ticker = msgspec.to_builtins(spot_ticker(self.core, self.tape, symbol))
        else:
            ticker = msgspec.to_builtins(linear_ticker(self.core, self.tape, symbol, self._marks.get(symbol)))
        return {k: str(v) for k, v in ticker.items()}

    def _next_cs(self) -> int:
        self._cs += 1
        return self._cs

    def _ticker_frame(self, stream: _TickerStream, kind: str, data: dict[str, str]) -> bytes:
        return self._enc.encode(
            TickerFrame(topic=stream.topic, type=kind, data=data, cs=self._next_cs(), ts=self.core.now_ms())
        )

    def _tick_tickers(self) -> None:
        for stream in list(self._tickers.values()):
            fields = self._ticker_fields(stream.category, stream.symbol)
            changed = {k: v for k, v in fields.items() if stream.fields.get(k) != v}
            if not changed:
                continue
            stream.fields = fields
            if stream.category == "spot":
                frame = self._ticker_frame(stream, "snapshot", fields)
            else:
                frame = self._ticker_frame(stream, "delta", {"symbol": stream.symbol, **changed})
            self.pushed += 1
            for conn in list(stream.subs):
                conn.send_market(stream.topic, frame)

    # -- first frames after a subscribe -------------------------------------------------------

    def _initial(self, conn: WsConn, category: Category, topic: Topic) -> None:
        if topic.kind == "orderbook":
            stream = self._books.get((category, topic.symbol, topic.depth))
            if stream is not None:
                conn.send_reply(self._snapshot(stream))
        elif topic.kind == "tickers":
            ticker = self._tickers.get((category, topic.symbol))
            if ticker is not None:
                conn.send_reply(self._ticker_frame(ticker, "snapshot", ticker.fields))

    # -- engine events ----------------------------------------------------------------------

    def on_event(self, ev: SimEvent) -> None:
        if isinstance(ev, TradeExecuted):
            self._on_trade(ev)
        elif isinstance(ev, MarkUpdated):
            self._marks[ev.symbol] = ev.mark
        elif isinstance(ev, BookUpdated):
            return

    def _on_trade(self, ev: TradeExecuted) -> None:
        category: Category = "spot" if ev.kind is MarketKind.SPOT else "linear"
        t = ev.trade
        prev = self._last_trade_price.get((ev.kind, ev.symbol))
        self._last_trade_price[(ev.kind, ev.symbol)] = t.price
        subs = self._trades.get((category, ev.symbol))
        if not subs:
            return
        tick = "ZeroPlusTick" if prev is None or t.price == prev else "PlusTick" if t.price > prev else "MinusTick"
        fmt = self.core.fmt(category, ev.symbol)
        frame = self._enc.encode(
            TradeFrame(
                topic=f"publicTrade.{ev.symbol}",
                type="snapshot",
                ts=self.core.now_ms(),
                data=[
                    TradeData(
                        T=t.ts_ms,
                        s=ev.symbol,
                        S="Sell" if t.buyer_is_maker else "Buy",
                        v=fmt.qty(t.qty),
                        p=fmt.price(t.price),
                        L=tick,
                        i=self.core.exec_id(category, ev.symbol, t.trade_id, 0),
                        BT=False,
                        RPI=False,
                        seq=t.trade_id,
                    )
                ],
            )
        )
        for conn in list(subs):
            conn.send_market(f"publicTrade.{ev.symbol}", frame)

    # -- periodic ---------------------------------------------------------------------------

    def periodic(self) -> list[Periodic]:
        jobs = [
            Periodic(f"orderbook-{ms}ms", ms / 1000, self._book_ticker(ms))
            for ms in sorted(set(DEPTH_PERIOD_MS.values()))
        ]
        jobs.append(Periodic("tickers-100ms", 0.1, self._tick_tickers))
        return jobs

    def _book_ticker(self, period_ms: int) -> Callable[[], None]:
        def tick() -> None:
            self._tick_books(period_ms)

        return tick
