"""Public REST endpoints (market data, instruments, funding, time) with OKX's rate-limit rules
(reference §4, §5, §8)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from exchanges.sim.engine import Level, MarkView
from strategy_client.model import MarketKind

from .api_errors import OkxApiError, param_empty, param_error
from .core import OkxCore
from .instruments import OkxInstrument
from .market_stats import Stats24h
from .numbers import num
from .payloads_public import (
    BookItem,
    BookLevel,
    CurrencyItem,
    FundingHistoryItem,
    FundingRateItem,
    IndexTickerItem,
    InstrumentItem,
    MarkPriceItem,
    PriceLimitItem,
    ServerTime,
    TickerItem,
    TradeItem,
)
from .rest import Call, Endpoint

__all__ = ["PublicRest", "book_levels", "funding_rate_item", "ticker_item", "index_item", "instrument_item"]

_V5 = "/api/v5"
_INST_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")
_RATE_QUANTUM = Decimal("0.00000001")
_NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum", "USDT": "Tether"}
_NETWORKS = {"BTC": "Bitcoin", "ETH": "ERC20", "USDT": "TRC20"}


def book_levels(inst: OkxInstrument, levels: list[Level]) -> list[BookLevel]:
    """Engine levels → ``[px, sz, "0", numOrders]`` in venue units."""
    return [(num(p), num(inst.to_venue(q)), "0", "1") for p, q in levels]


def instrument_item(inst: OkxInstrument) -> InstrumentItem:
    swap = inst.is_swap
    family = f"{inst.base}-{inst.quote}" if swap else ""
    return InstrumentItem(
        instType=inst.inst_type,
        instId=inst.inst_id,
        instIdCode=inst.inst_id_code,
        uly=family,
        instFamily=family,
        baseCcy="" if swap else inst.base,
        quoteCcy="" if swap else inst.quote,
        settleCcy=inst.quote if swap else "",
        ctVal=num(inst.ct_val) if swap else "",
        ctMult="1" if swap else "",
        ctValCcy=inst.base if swap else "",
        ctType="linear" if swap else "",
        listTime=str(inst.list_time_ms),
        contTdSwTime=str(inst.list_time_ms),
        lever=str(inst.max_lever),
        tickSz=num(inst.tick_sz),
        lotSz=num(inst.lot_sz),
        minSz=num(inst.min_sz),
        maxLmtSz=num(inst.max_lmt_sz),
        maxMktSz=num(inst.max_mkt_sz),
        maxMktAmt=num(inst.max_mkt_amt) if not swap else "",
        tradeQuoteCcyList=[] if swap else [inst.quote],
    )


def funding_rate_item(core: OkxCore, inst: OkxInstrument, mark: MarkView) -> FundingRateItem:
    history = core.venue.funding_history(inst.symbol, limit=1)
    settled = history[-1].rate if history else mark.funding_rate
    cap = core.venue.config.funding_rate_cap
    premium = (mark.mark - mark.index) / mark.index if mark.index else Decimal(0)
    return FundingRateItem(
        instType="SWAP",
        instId=inst.inst_id,
        method="current_period",
        formulaType="withRate",
        fundingRate=num(mark.funding_rate),
        nextFundingRate="",
        fundingTime=str(mark.next_funding_ms),
        nextFundingTime=str(mark.next_funding_ms + mark.funding_interval_ms),
        minFundingRate=num(-cap),
        maxFundingRate=num(cap),
        interestRate=num(mark.interest_rate),
        impactValue="20000",
        premium=num(premium.quantize(_RATE_QUANTUM, rounding=ROUND_HALF_EVEN)),
        settFundingRate=num(settled),
        settState="settled",
        ts=str(core.now_ms()),
    )


def ticker_item(core: OkxCore, stats: Stats24h, inst: OkxInstrument) -> TickerItem:
    book = core.venue.book(inst.kind, inst.symbol, 1)
    now = core.now_ms()
    ref = core.venue.reference_price(inst.kind, inst.symbol)
    s = stats.stats(inst.kind, inst.symbol, now, ref)
    bid = book.bids[0] if book.bids else (Decimal(0), Decimal(0))
    ask = book.asks[0] if book.asks else (Decimal(0), Decimal(0))
    if inst.is_swap:
        vol, vol_ccy = inst.to_venue(s.vol24h), s.vol24h  # swaps: contracts, and base currency
    else:
        vol, vol_ccy = s.vol24h, s.vol_quote24h  # spot: base, and quote currency
    return TickerItem(
        instType=inst.inst_type,
        instId=inst.inst_id,
        last=num(s.last),
        lastSz=num(inst.to_venue(s.last_qty)),
        askPx=num(ask[0]) if book.asks else "",
        askSz=num(inst.to_venue(ask[1])) if book.asks else "",
        bidPx=num(bid[0]) if book.bids else "",
        bidSz=num(inst.to_venue(bid[1])) if book.bids else "",
        open24h=num(s.open24h),
        high24h=num(s.high24h),
        low24h=num(s.low24h),
        volCcy24h=num(vol_ccy),
        vol24h=num(vol),
        ts=str(now),
        sodUtc0=num(s.sod_utc0),
        sodUtc8=num(s.sod_utc8),
    )


def index_item(core: OkxCore, stats: Stats24h, inst: OkxInstrument) -> IndexTickerItem:
    """``BTC-USDT`` index: the perp's index where there is one, else the spot fair price."""
    now = core.now_ms()
    swap = core.catalog.by_key(MarketKind.PERP, inst.symbol)
    if swap is not None:
        idx = core.venue.mark(swap.symbol).index
    else:
        idx = core.venue.reference_price(MarketKind.SPOT, inst.symbol)
    s = stats.stats(MarketKind.SPOT, inst.symbol, now, idx)
    return IndexTickerItem(
        instId=f"{inst.base}-{inst.quote}",
        idxPx=num(idx),
        high24h=num(max(s.high24h, idx)),
        low24h=num(min(s.low24h, idx)),
        open24h=num(s.open24h),
        sodUtc0=num(s.sod_utc0),
        sodUtc8=num(s.sod_utc8),
        ts=str(now),
    )


class PublicRest:
    def __init__(self, core: OkxCore, stats: Stats24h) -> None:
        self.core = core
        self.stats = stats

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("GET", f"{_V5}/public/time", False, "time", self.time),
            Endpoint("GET", f"{_V5}/system/status", False, "time", lambda c: []),
            Endpoint("GET", f"{_V5}/public/instruments", False, "instruments", self.instruments),
            Endpoint("GET", f"{_V5}/market/books", False, "books", self.books),
            Endpoint("GET", f"{_V5}/market/books-full", False, "books-full", self.books_full),
            Endpoint("GET", f"{_V5}/market/ticker", False, "ticker", self.ticker),
            Endpoint("GET", f"{_V5}/market/tickers", False, "tickers", self.tickers),
            Endpoint("GET", f"{_V5}/market/index-tickers", False, "index-tickers", self.index_tickers),
            Endpoint("GET", f"{_V5}/market/trades", False, "trades", self.trades),
            Endpoint("GET", f"{_V5}/public/mark-price", False, "mark-price", self.mark_price),
            Endpoint("GET", f"{_V5}/public/funding-rate", False, "funding-rate", self.funding_rate),
            Endpoint("GET", f"{_V5}/public/funding-rate-history", False, "funding-history", self.funding_history),
            Endpoint("GET", f"{_V5}/public/price-limit", False, "mark-price", self.price_limit),
            Endpoint("GET", f"{_V5}/asset/currencies", True, "currencies", self.currencies),
        ]

    # -- helpers ------------------------------------------------------------------------------

    def _inst_type(self, call: Call) -> str:
        inst_type = call.args().required("instType")
        if inst_type not in _INST_TYPES:
            raise param_error("instType")
        return inst_type

    def _inst(self, call: Call) -> OkxInstrument:
        return self.core.inst(call.args().required("instId"))

    def _swap(self, call: Call) -> OkxInstrument:
        inst = self._inst(call)
        if not inst.is_swap:
            raise OkxApiError(51000, "Parameter instId error", 400)
        return inst

    # -- endpoints ----------------------------------------------------------------------------

    def time(self, call: Call) -> list[object]:
        return [ServerTime(ts=str(call.now_ms))]

    def instruments(self, call: Call) -> list[object]:
        inst_type = self._inst_type(call)
        args = call.args()
        inst_id = args.text("instId")
        family = args.text("instFamily") or args.text("uly")
        out: list[object] = []
        for inst in self.core.catalog.all(inst_type):
            if inst_id and inst.inst_id != inst_id:
                continue
            if family and family != f"{inst.base}-{inst.quote}":
                continue
            out.append(instrument_item(inst))
        if inst_id and not out:
            raise OkxApiError(51001, "Instrument ID, code, or spread ID doesn't exist.", 400)
        return out

    def _book(self, call: Call, max_sz: int) -> list[object]:
        inst = self._inst(call)
        sz = call.args().integer("sz", 1, low=1, high=max_sz)
        book = self.core.venue.book(inst.kind, inst.symbol, sz)
        return [
            BookItem(
                asks=book_levels(inst, book.asks),
                bids=book_levels(inst, book.bids),
                ts=str(book.ts_ms),
                seqId=book.update_id,
            )
        ]

    def books(self, call: Call) -> list[object]:
        return self._book(call, 400)

    def books_full(self, call: Call) -> list[object]:
        return self._book(call, 5000)

    def ticker(self, call: Call) -> list[object]:
        return [ticker_item(self.core, self.stats, self._inst(call))]

    def tickers(self, call: Call) -> list[object]:
        inst_type = self._inst_type(call)
        return [ticker_item(self.core, self.stats, i) for i in self.core.catalog.all(inst_type)]

    def index_tickers(self, call: Call) -> list[object]:
        args = call.args()
        inst_id, quote = args.text("instId"), args.text("quoteCcy")
        if not inst_id and not quote:
            raise param_empty("quoteCcy")
        out: list[object] = []
        for inst in self.core.catalog.all("SPOT"):
            if inst_id and inst.inst_id != inst_id:
                continue
            if quote and inst.quote != quote:
                continue
            out.append(index_item(self.core, self.stats, inst))
        return out

    def trades(self, call: Call) -> list[object]:
        inst = self._inst(call)
        limit = call.args().integer("limit", 100, low=1, high=500)
        tape = self.core.venue.recent_trades(inst.kind, inst.symbol, limit)
        return [
            TradeItem(
                instId=inst.inst_id,
                tradeId=str(t.trade_id),
                px=num(t.price),
                sz=num(inst.to_venue(t.qty)),
                side="sell" if t.buyer_is_maker else "buy",
                ts=str(t.ts_ms),
            )
            for t in reversed(tape)
        ]

    def mark_price(self, call: Call) -> list[object]:
        # ``instType`` is documented as required; clients (ccxt) send only ``instId``, so it is
        # inferred from the instrument then
        inst_id = call.args().text("instId")
        inst_type = self._inst_type(call) if not inst_id else self.core.inst(inst_id).inst_type
        out: list[object] = []
        for inst in self.core.catalog.all(inst_type):
            if inst_id and inst.inst_id != inst_id:
                continue
            if not inst.is_swap:
                continue
            mark = self.core.venue.mark(inst.symbol)
            out.append(MarkPriceItem(instType="SWAP", instId=inst.inst_id, markPx=num(mark.mark), ts=str(mark.ts_ms)))
        return out

    def funding_rate(self, call: Call) -> list[object]:
        inst_id = call.args().required("instId")
        if inst_id == "ANY":
            swaps = self.core.catalog.swaps()
        else:
            swap = self.core.inst(inst_id)
            if not swap.is_swap:
                raise OkxApiError(51000, "Parameter instId error", 400)
            swaps = [swap]
        return [funding_rate_item(self.core, s, self.core.venue.mark(s.symbol)) for s in swaps]

    def funding_history(self, call: Call) -> list[object]:
        inst = self._swap(call)
        args = call.args()
        limit = args.integer("limit", 100, low=1, high=400)
        before = args.integer("before", 0, low=0, high=2**63 - 1)
        after = args.integer("after", 0, low=0, high=2**63 - 1)
        records = self.core.venue.funding_history(inst.symbol, limit=1_000_000)
        rows = [r for r in records if (not after or r.funding_ms < after) and (not before or r.funding_ms > before)]
        rows.reverse()  # newest first (ties, e.g. an extra settlement, keep settlement order)
        rows.sort(key=lambda r: r.funding_ms, reverse=True)
        if before and not after:
            rows = rows[-limit:]  # the records just after ``before``, still newest first
        return [
            FundingHistoryItem(
                instType="SWAP",
                instId=inst.inst_id,
                formulaType="withRate",
                fundingRate=num(r.rate),
                realizedRate=num(r.rate),
                fundingTime=str(r.funding_ms),
                method="current_period",
            )
            for r in rows[:limit]
        ]

    def price_limit(self, call: Call) -> list[object]:
        inst = self._inst(call)
        spec = self.core.venue.spec(inst.kind, inst.symbol)
        ref = self.core.venue.reference_price(inst.kind, inst.symbol)
        return [
            PriceLimitItem(
                instType=inst.inst_type,
                instId=inst.inst_id,
                buyLmt=num((ref * spec.percent_price_up).quantize(inst.tick_sz)),
                sellLmt=num((ref * spec.percent_price_down).quantize(inst.tick_sz)),
                ts=str(call.now_ms),
            )
        ]

    def currencies(self, call: Call) -> list[object]:
        wanted = {c for c in call.args().text("ccy").split(",") if c}
        assets = sorted({i.base for i in self.core.catalog.all()} | {i.quote for i in self.core.catalog.all()})
        return [
            CurrencyItem(
                ccy=a,
                name=_NAMES.get(a, a),
                chain=f"{a}-{_NETWORKS.get(a, a)}",
                minWd="0.0001" if a != "USDT" else "1",
                maxWd="10000000",
                wdTickSz="8" if a != "USDT" else "6",
                fee="0.0001" if a != "USDT" else "1",
                minFee="0.0001" if a != "USDT" else "1",
                maxFee="0.0002" if a != "USDT" else "2",
            )
            for a in assets
            if not wanted or a in wanted
        ]
