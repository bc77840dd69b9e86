"""Public market channels of the OKX venue, rendered from engine events and a 100 ms tick
(reference §6, §8).

``books``: on subscribe a ``snapshot`` (``prevSeqId`` -1; omitted with ``book_snapshot=False``,
the planned 2026 behaviour), then every 100 ms an ``update`` with the levels changed since the
last push (latest size per price, ``"0"`` = delete), ``prevSeqId`` = the ``seqId`` that
connection saw last, ``seqId`` = the engine's update id (the same id space as the REST book's
``seqId``), and the CRC32 ``checksum`` of the resulting top 25 levels (0 with
``book_checksum=False``). With no change for ``book_keepalive_s`` an update with empty sides and
``prevSeqId == seqId`` keeps the stream alive. ``books5`` (top 5, full, on change, 100 ms),
``bbo-tbt`` (top 1, on change), ``tickers`` (on change, 100 ms), ``trades`` (each match),
``mark-price`` (on change, at most every 200 ms, else every 10 s), ``index-tickers`` (on change,
else every minute), ``funding-rate`` (every ``funding_rate_push_s`` and after each
settlement). ``books-l2-tbt``/``books50-l2-tbt`` need a VIP tier: ``64003`` (``60011`` before
login).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from exchanges.okx.checksum import CHECKSUM_LEVELS, book_checksum
from exchanges.sim.engine import BookUpdated, FundingSettled, Level, MarkUpdated, MarkView, SimEvent, TradeExecuted
from strategy_client.model import MarketKind

from .connection import Channel, WsConn
from .core import OkxCore
from .instruments import OkxInstrument
from .market_stats import Stats24h
from .numbers import num
from .payloads_public import BookLevel, MarkPriceItem, TradeItem
from .public_rest import book_levels, funding_rate_item, index_item, ticker_item
from .ws_protocol import BookPush, Push, encode
from .ws_server import WsError, unknown_channel

__all__ = ["MarketChannels", "MARKET_CHANNELS"]

MARKET_CHANNELS = frozenset(
    {"books", "books5", "bbo-tbt", "tickers", "trades", "funding-rate", "mark-price", "index-tickers"}
)
_VIP_CHANNELS = frozenset({"books-l2-tbt", "books50-l2-tbt"})
_BOOK_DEPTH = 400
_MARK_MIN_S = 0.2
_MARK_IDLE_S = 10.0
_INDEX_IDLE_S = 60.0

Key = tuple[str, str]  # (channel, instId)


class _BookData(msgspec.Struct, kw_only=True):
    asks: list[BookLevel]
    bids: list[BookLevel]
    ts: str
    checksum: int
    prevSeqId: int
    seqId: int


class _TopData(msgspec.Struct, kw_only=True, omit_defaults=True):
    asks: list[BookLevel]
    bids: list[BookLevel]
    ts: str
    seqId: int
    instId: str = ""


@dataclass(slots=True)
class _BookSeries:
    """Changes of one book since its last ``books`` push."""

    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    last_id: int = 0
    pushed_id: int = 0
    pushed_at: float = 0.0

    @property
    def dirty(self) -> bool:
        return bool(self.bids or self.asks)


class MarketChannels:
    def __init__(self, core: OkxCore, stats: Stats24h) -> None:
        self._core = core
        self._stats = stats
        self._subs: dict[Key, dict[WsConn, dict[str, str]]] = {}
        self._by_conn: dict[WsConn, set[Key]] = {}
        self._books: dict[str, _BookSeries] = {}
        self._conn_seq: dict[tuple[WsConn, str], int] = {}
        self._last_sent: dict[Key, object] = {}
        self._last_at: dict[Key, float] = {}
        self._marks: dict[str, MarkView] = {}

    # -- subscriptions (ChannelHandler) -------------------------------------------------------

    def handles(self, channel: str, socket: Channel) -> bool:
        return socket == "public" and (channel in MARKET_CHANNELS or channel in _VIP_CHANNELS)

    def _resolve(self, conn: WsConn, arg: dict[str, str]) -> tuple[Key, OkxInstrument]:
        channel, inst_id = arg.get("channel", ""), arg.get("instId", "")
        if channel in _VIP_CHANNELS:
            if not conn.logged_in:
                raise WsError(60011, "Please log in")
            raise WsError(64003, "Your trading fee tier doesn't meet the requirement to access this channel")
        if not inst_id:
            raise WsError(60013, "Invalid args")
        inst = self._core.catalog.by_id(inst_id)
        if inst is None:
            raise unknown_channel(arg)
        if channel in ("funding-rate", "mark-price") and not inst.is_swap:
            raise unknown_channel(arg)
        if channel == "index-tickers" and inst.is_swap:
            raise unknown_channel(arg)
        return (channel, inst_id), inst

    def subscribe(self, conn: WsConn, arg: dict[str, str]) -> dict[str, str]:
        key, _ = self._resolve(conn, arg)
        shown = {"channel": key[0], "instId": key[1]}
        self._subs.setdefault(key, {})[conn] = shown
        self._by_conn.setdefault(conn, set()).add(key)
        return shown

    def after_ack(self, conn: WsConn, arg: dict[str, str]) -> None:
        """The first push of a new subscription (none for ``trades``)."""
        key = (arg["channel"], arg["instId"])
        inst = self._core.catalog.by_id(key[1])
        if inst is None:
            return
        channel = key[0]
        if channel == "books":
            self._series(inst)
            if self._core.options.book_snapshot:
                self._send_snapshot(conn, inst, arg)
            else:
                self._conn_seq[(conn, inst.inst_id)] = self._books[inst.inst_id].pushed_id
        elif channel in ("books5", "bbo-tbt"):
            conn.send_market(f"{channel}:{inst.inst_id}", encode(self._top_push(inst, arg, channel)), _host(inst))
        elif channel != "trades":
            data = self._snapshot_item(channel, inst)
            if data is not None:
                conn.send_market(f"{channel}:{inst.inst_id}", encode(Push(arg=arg, data=[data])), _host(inst))

    def unsubscribe(self, conn: WsConn, arg: dict[str, str]) -> dict[str, str]:
        channel, inst_id = arg.get("channel", ""), arg.get("instId", "")
        key = (channel, inst_id)
        listeners = self._subs.get(key)
        if listeners is None or conn not in listeners:
            raise unknown_channel(arg)
        del listeners[conn]
        if not listeners:
            del self._subs[key]
        self._by_conn.get(conn, set()).discard(key)
        self._conn_seq.pop((conn, inst_id), None)
        return {"channel": channel, "instId": inst_id}

    def drop(self, conn: WsConn) -> None:
        for key in self._by_conn.pop(conn, set()):
            listeners = self._subs.get(key)
            if listeners is not None:
                listeners.pop(conn, None)
                if not listeners:
                    del self._subs[key]
            self._conn_seq.pop((conn, key[1]), None)

    def names(self, conn: WsConn) -> list[str]:
        return sorted(f"{c}:{i}" for c, i in self._by_conn.get(conn, set()))

    # -- engine events ----------------------------------------------------------------------

    def on_event(self, ev: SimEvent) -> None:
        if isinstance(ev, BookUpdated):
            inst = self._core.catalog.by_key(ev.kind, ev.symbol)
            if inst is None:
                return
            if ("books", inst.inst_id) in self._subs:
                series = self._series(inst)
                for price, qty in ev.bids:
                    series.bids[price] = qty
                for price, qty in ev.asks:
                    series.asks[price] = qty
                series.last_id = ev.update_id
            if ("bbo-tbt", inst.inst_id) in self._subs:
                self._push_top(inst, "bbo-tbt")
        elif isinstance(ev, TradeExecuted):
            inst = self._core.catalog.by_key(ev.kind, ev.symbol)
            if inst is not None and ("trades", inst.inst_id) in self._subs:
                t = ev.trade
                item = TradeItem(
                    instId=inst.inst_id,
                    tradeId=str(t.trade_id),
                    px=num(t.price),
                    sz=num(inst.to_venue(t.qty)),
                    side="sell" if t.buyer_is_maker else "buy",
                    ts=str(t.ts_ms),
                )
                self._publish(("trades", inst.inst_id), inst, [item])
        elif isinstance(ev, MarkUpdated):
            self._marks[ev.symbol] = ev.mark
        elif isinstance(ev, FundingSettled):
            inst = self._core.catalog.by_key(MarketKind.PERP, ev.symbol)
            if inst is not None and ("funding-rate", inst.inst_id) in self._subs:
                self._push_item(("funding-rate", inst.inst_id), inst)

    # -- periodic ---------------------------------------------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        opts = self._core.options
        for key in list(self._subs):
            channel, inst_id = key
            inst = self._core.catalog.by_id(inst_id)
            if inst is None:
                continue
            if channel == "books":
                self._tick_books(inst, now, opts.book_keepalive_s)
            elif channel == "books5":
                self._push_top(inst, "books5")
            elif channel == "tickers":
                item = ticker_item(self._core, self._stats, inst)
                state = (item.last, item.bidPx, item.bidSz, item.askPx, item.askSz)
                if self._last_sent.get(key) != state:
                    self._last_sent[key] = state
                    self._publish(key, inst, [item])
            elif channel == "mark-price":
                mark = self._mark(inst)
                changed = self._last_sent.get(key) != mark.mark
                since = now - self._last_at.get(key, 0.0)
                if (changed and since >= _MARK_MIN_S) or since >= _MARK_IDLE_S:
                    self._last_sent[key] = mark.mark
                    self._last_at[key] = now
                    self._publish(key, inst, [self._mark_item(inst, mark)])
            elif channel == "index-tickers":
                item_i = index_item(self._core, self._stats, inst)
                since = now - self._last_at.get(key, 0.0)
                if self._last_sent.get(key) != item_i.idxPx or since >= _INDEX_IDLE_S:
                    self._last_sent[key] = item_i.idxPx
                    self._last_at[key] = now
                    self._publish(key, inst, [item_i])
            elif channel == "funding-rate" and now - self._last_at.get(key, 0.0) >= opts.funding_rate_push_s:
                self._push_item(key, inst)

    def _tick_books(self, inst: OkxInstrument, now: float, keepalive_s: float) -> None:
        series = self._series(inst)
        if series.dirty:
            bids = sorted(series.bids.items(), reverse=True)
            asks = sorted(series.asks.items())
            series.bids, series.asks = {}, {}
            self._push_update(inst, series, book_levels(inst, bids), book_levels(inst, asks))
        elif now - series.pushed_at >= keepalive_s:
            self._push_update(inst, series, [], [])

    def _push_update(
        self, inst: OkxInstrument, series: _BookSeries, bids: list[BookLevel], asks: list[BookLevel]
    ) -> None:
        core = self._core
        book = core.venue.book(inst.kind, inst.symbol, CHECKSUM_LEVELS)
        seq = book.update_id
        checksum = self._checksum(inst, book.bids, book.asks)
        ts = str(book.ts_ms)
        keepalive = not bids and not asks
        last_pushed = series.pushed_id
        series.pushed_id = seq
        series.pushed_at = time.monotonic()
        frames: dict[tuple[int, str], bytes] = {}
        for conn, arg in list(self._subs.get(("books", inst.inst_id), {}).items()):
            prev = self._conn_seq.get((conn, inst.inst_id))
            if prev is None:
                prev = seq if keepalive else last_pushed
            if not keepalive and prev >= seq:
                continue  # its snapshot already holds these changes
            prev_shown = seq if keepalive else prev
            cache_key = (prev_shown, arg["instId"])
            frame = frames.get(cache_key)
            if frame is None:
                data = _BookData(asks=asks, bids=bids, ts=ts, checksum=checksum, prevSeqId=prev_shown, seqId=seq)
                frame = frames[cache_key] = encode(BookPush(arg=arg, action="update", data=[data]))
            self._conn_seq[(conn, inst.inst_id)] = seq
            conn.send_market(f"books:{inst.inst_id}", frame, _host(inst))

    def _send_snapshot(self, conn: WsConn, inst: OkxInstrument, arg: dict[str, str]) -> None:
        book = self._core.venue.book(inst.kind, inst.symbol, _BOOK_DEPTH)
        data = _BookData(
            asks=book_levels(inst, book.asks),
            bids=book_levels(inst, book.bids),
            ts=str(book.ts_ms),
            checksum=self._checksum(inst, book.bids[:CHECKSUM_LEVELS], book.asks[:CHECKSUM_LEVELS]),
            prevSeqId=-1,
            seqId=book.update_id,
        )
        self._conn_seq[(conn, inst.inst_id)] = book.update_id
        conn.send_market(
            f"books:{inst.inst_id}", encode(BookPush(arg=arg, action="snapshot", data=[data])), _host(inst)
        )

    def _checksum(self, inst: OkxInstrument, bids: list[Level], asks: list[Level]) -> int:
        if not self._core.options.book_checksum:
            return 0
        b = [(lv[0], lv[1]) for lv in book_levels(inst, bids[:CHECKSUM_LEVELS])]
        a = [(lv[0], lv[1]) for lv in book_levels(inst, asks[:CHECKSUM_LEVELS])]
        return book_checksum(b, a)

    def _top_push(self, inst: OkxInstrument, arg: dict[str, str], channel: str) -> BookPush | Push:
        depth = 5 if channel == "books5" else 1
        book = self._core.venue.book(inst.kind, inst.symbol, depth)
        data = _TopData(
            asks=book_levels(inst, book.asks),
            bids=book_levels(inst, book.bids),
            ts=str(book.ts_ms),
            seqId=book.update_id,
            instId=inst.inst_id if channel == "books5" else "",
        )
        return Push(arg=arg, data=[data])

    def _push_top(self, inst: OkxInstrument, channel: str) -> None:
        key = (channel, inst.inst_id)
        depth = 5 if channel == "books5" else 1
        book = self._core.venue.book(inst.kind, inst.symbol, depth)
        state = (tuple(book.bids), tuple(book.asks))
        if self._last_sent.get(key) == state:
            return
        self._last_sent[key] = state
        for conn, arg in list(self._subs.get(key, {}).items()):
            conn.send_market(f"{channel}:{inst.inst_id}", encode(self._top_push(inst, arg, channel)), _host(inst))

    # -- helpers ------------------------------------------------------------------------------

    def _series(self, inst: OkxInstrument) -> _BookSeries:
        series = self._books.get(inst.inst_id)
        if series is None:
            update_id = self._core.venue.book(inst.kind, inst.symbol, 1).update_id
            series = self._books[inst.inst_id] = _BookSeries(
                last_id=update_id, pushed_id=update_id, pushed_at=time.monotonic()
            )
        return series

    def _mark(self, inst: OkxInstrument) -> MarkView:
        mark = self._marks.get(inst.symbol)
        if mark is None:
            mark = self._marks[inst.symbol] = self._core.venue.mark(inst.symbol)
        return mark

    def _mark_item(self, inst: OkxInstrument, mark: MarkView) -> MarkPriceItem:
        return MarkPriceItem(instType="SWAP", instId=inst.inst_id, markPx=num(mark.mark), ts=str(mark.ts_ms))

    def _snapshot_item(self, channel: str, inst: OkxInstrument) -> object | None:
        core = self._core
        if channel == "tickers":
            return ticker_item(core, self._stats, inst)
        if channel == "mark-price":
            return self._mark_item(inst, self._mark(inst))
        if channel == "index-tickers":
            return index_item(core, self._stats, inst)
        if channel == "funding-rate":
            return funding_rate_item(core, inst, core.venue.mark(inst.symbol))
        return None

    def _push_item(self, key: Key, inst: OkxInstrument) -> None:
        item = self._snapshot_item(key[0], inst)
        if item is not None:
            self._last_at[key] = time.monotonic()
            self._publish(key, inst, [item])

    def _publish(self, key: Key, inst: OkxInstrument, data: list[object]) -> None:
        frames: dict[str, bytes] = {}
        for conn, arg in list(self._subs.get(key, {}).items()):
            cache = arg["instId"]
            frame = frames.get(cache)
            if frame is None:
                frame = frames[cache] = encode(Push(arg=arg, data=data))
            conn.send_market(f"{key[0]}:{key[1]}", frame, _host(inst))


def _host(inst: OkxInstrument) -> str:
    return "futures" if inst.is_swap else "spot"
