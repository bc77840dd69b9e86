"""Public market endpoints ``/v5/market/*`` (reference §5).

``instruments-info`` lists spot and linear with Bybit's filters (``inverse``/``option`` answer
an empty list: this venue has none); linear pages with ``limit``/``cursor``. ``orderbook``'s
``u``/``seq`` are the engine's update id for the book (so they increase with every change);
``funding/history`` is newest first and refuses ``startTime`` without ``endTime``.
"""

from __future__ import annotations

import time

from exchanges.sim.engine import SymbolSpec
from strategy_client.model import MarketKind

from .api_errors import BybitApiError, Category, missing, param_error
from .core import KIND_OF, BybitCore, parse_category
from .numbers import plain
from .payloads_market import (
    BookResult,
    FundingItem,
    FundingResult,
    InstrumentsResult,
    LeverageFilter,
    LinearInstrument,
    LotSizeLinear,
    LotSizeSpot,
    PriceFilter,
    RiskParameters,
    SpotInstrument,
    TickersResult,
    TimeResult,
    TradeItem,
    TradesResult,
)
from .rest import Call, Endpoint
from .specs import MAX_LEVERAGE
from .tape import Tape
from .tickers import funding_interval_minutes, linear_ticker, rate_text, spot_ticker

__all__ = ["MarketRest"]

_ANY_CATEGORY = ("spot", "linear", "inverse", "option")


def _limit(call: Call, default: int, lo: int, hi: int) -> int:
    value = call.params.opt_int("limit")
    if value is None:
        return default
    if not lo <= value <= hi:
        raise param_error(f"params error: limit must be in [{lo}, {hi}], got {value}")
    return value


class MarketRest:
    def __init__(self, core: BybitCore, tape: Tape) -> None:
        self.core = core
        self.tape = tape

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("GET", "/v5/market/time", False, self.server_time),
            Endpoint("GET", "/v5/market/instruments-info", False, self.instruments),
            Endpoint("GET", "/v5/market/orderbook", False, self.orderbook),
            Endpoint("GET", "/v5/market/tickers", False, self.tickers),
            Endpoint("GET", "/v5/market/funding/history", False, self.funding_history),
            Endpoint("GET", "/v5/market/recent-trade", False, self.recent_trades),
        ]

    # -- helpers ----------------------------------------------------------------------------

    def _symbol(self, call: Call, category: Category) -> str:
        symbol = call.params.req_str("symbol")
        self.core.spec(category, symbol)
        return symbol

    # -- endpoints --------------------------------------------------------------------------

    def server_time(self, call: Call) -> TimeResult:
        now_ns = call.now_ms * 1_000_000 + time.time_ns() % 1_000_000
        return TimeResult(timeSecond=str(call.now_ms // 1000), timeNano=str(now_ns))

    def instruments(self, call: Call) -> InstrumentsResult:
        text = call.params.opt_str("category")
        if text is None:
            raise missing("category")
        if text not in _ANY_CATEGORY:
            raise param_error(f"params error: category invalid: {text}")
        if text in ("inverse", "option"):
            return InstrumentsResult(category=text, list=[], nextPageCursor="")
        category = parse_category(text)
        specs = list(self.core.specs[category].values())
        symbol = call.params.opt_str("symbol")
        if symbol is not None:
            specs = [s for s in specs if s.symbol == symbol]
        base = call.params.opt_str("baseCoin")
        if base is not None:
            specs = [s for s in specs if s.base == base]
        status = call.params.opt_str("status")
        if status is not None and status != "Trading":
            specs = []
        if category == "spot":
            return InstrumentsResult(category="spot", list=[self._spot(s) for s in specs], nextPageCursor="")
        limit = _limit(call, 500, 1, 1000)
        cursor = call.params.opt_str("cursor")
        start = 0
        if cursor is not None:
            if not cursor.isdigit():
                raise param_error(f"params error: cursor invalid: {cursor}")
            start = int(cursor)
        page = specs[start : start + limit]
        nxt = str(start + limit) if start + limit < len(specs) else ""
        return InstrumentsResult(category="linear", list=[self._linear(s) for s in page], nextPageCursor=nxt)

    def _spot(self, spec: SymbolSpec) -> SpotInstrument:
        extra = self.core.spot_extra(spec.symbol)
        return SpotInstrument(
            symbol=spec.symbol,
            baseCoin=spec.base,
            quoteCoin=spec.quote,
            innovation="0",
            status="Trading",
            marginTrading="utaOnly",
            stTag="0",
            lotSizeFilter=LotSizeSpot(
                basePrecision=plain(spec.step_size),
                quotePrecision=plain(extra.quote_precision),
                minOrderQty=plain(spec.min_qty),
                maxOrderQty=plain(spec.max_qty),
                maxLimitOrderQty=plain(spec.max_qty),
                maxMarketOrderQty=plain(spec.market_max),
                minOrderAmt=plain(spec.min_notional),
                maxOrderAmt=plain(extra.max_order_amt),
            ),
            priceFilter=PriceFilter(tickSize=plain(spec.tick_size)),
            riskParameters=RiskParameters(priceLimitRatioX="0.05", priceLimitRatioY="0.05"),
        )

    def _linear(self, spec: SymbolSpec) -> LinearInstrument:
        fmt = self.core.fmt("linear", spec.symbol)
        cfg = self.core.venue.config
        max_lev = min(MAX_LEVERAGE, cfg.max_leverage)
        return LinearInstrument(
            symbol=spec.symbol,
            contractType="LinearPerpetual",
            status="Trading",
            baseCoin=spec.base,
            quoteCoin=spec.quote,
            launchTime="1585526400000",
            deliveryTime="0",
            deliveryFeeRate="",
            priceScale=str(fmt.price_places),
            leverageFilter=LeverageFilter(minLeverage="1", maxLeverage=f"{max_lev}.00", leverageStep="0.01"),
            priceFilter=PriceFilter(
                minPrice=fmt.price(spec.min_price or spec.tick_size),
                maxPrice=fmt.price(spec.max_price) if spec.max_price else "0",
                tickSize=fmt.price(spec.tick_size),
            ),
            lotSizeFilter=LotSizeLinear(
                maxOrderQty=fmt.qty(spec.max_qty),
                maxMktOrderQty=fmt.qty(spec.market_max),
                minOrderQty=fmt.qty(spec.min_qty),
                qtyStep=fmt.qty(spec.step_size),
                postOnlyMaxOrderQty=fmt.qty(spec.max_qty),
                minNotionalValue=plain(spec.min_notional),
            ),
            unifiedMarginTrade=True,
            fundingInterval=funding_interval_minutes(cfg.funding_interval_ms),
            settleCoin=spec.settle,
            copyTrading="both",
            upperFundingRate=rate_text(cfg.funding_rate_cap),
            lowerFundingRate=rate_text(-cfg.funding_rate_cap),
            isPreListing=False,
            preListingInfo=None,
            riskParameters=RiskParameters(priceLimitRatioX="0.05", priceLimitRatioY="0.05"),
            displayName="",
        )

    def orderbook(self, call: Call) -> BookResult:
        category = parse_category(call.params.opt_str("category"))
        symbol = self._symbol(call, category)
        default = 1 if category == "spot" else 25
        limit = _limit(call, default, 1, 200 if category == "spot" else 1000)
        fmt = self.core.fmt(category, symbol)
        book = self.core.venue.book(KIND_OF[category], symbol, limit)
        return BookResult(
            s=symbol,
            b=[(fmt.price(p), fmt.qty(q)) for p, q in book.bids[:limit]],
            a=[(fmt.price(p), fmt.qty(q)) for p, q in book.asks[:limit]],
            ts=call.now_ms,
            u=book.update_id,
            seq=book.update_id,
            cts=book.ts_ms,
        )

    def tickers(self, call: Call) -> TickersResult:
        category = parse_category(call.params.opt_str("category"))
        symbol = call.params.opt_str("symbol")
        symbols = sorted(self.core.specs[category]) if symbol is None else [symbol]
        if symbol is not None and symbol not in self.core.specs[category]:
            raise BybitApiError(10001, "Not supported symbols")
        if category == "spot":
            return TickersResult(category="spot", list=[spot_ticker(self.core, self.tape, s) for s in symbols])
        return TickersResult(category="linear", list=[linear_ticker(self.core, self.tape, s) for s in symbols])

    def funding_history(self, call: Call) -> FundingResult:
        category = parse_category(call.params.opt_str("category"), allow=("linear",))
        symbol = self._symbol(call, category)
        start = call.params.opt_int("startTime")
        end = call.params.opt_int("endTime")
        if start is not None and end is None:
            raise param_error("params error: endTime is required when startTime is passed")
        limit = _limit(call, 200, 1, 200)
        records = self.core.venue.funding_history(symbol, start, end, 1_000_000)
        newest = [r for _, r in sorted(enumerate(records), key=lambda ir: (ir[1].funding_ms, ir[0]), reverse=True)]
        newest = newest[:limit]
        return FundingResult(
            category="linear",
            list=[
                FundingItem(symbol=symbol, fundingRate=rate_text(r.rate), fundingRateTimestamp=str(r.funding_ms))
                for r in newest
            ],
        )

    def recent_trades(self, call: Call) -> TradesResult:
        category = parse_category(call.params.opt_str("category"))
        symbol = self._symbol(call, category)
        limit = _limit(call, 60 if category == "spot" else 500, 1, 60 if category == "spot" else 1000)
        kind: MarketKind = KIND_OF[category]
        fmt = self.core.fmt(category, symbol)
        trades = self.core.venue.recent_trades(kind, symbol, limit)
        return TradesResult(
            category=category,
            list=[
                TradeItem(
                    execId=self.core.exec_id(category, symbol, t.trade_id, 0),
                    symbol=symbol,
                    price=fmt.price(t.price),
                    size=fmt.qty(t.qty),
                    side="Sell" if t.buyer_is_maker else "Buy",
                    time=str(t.ts_ms),
                    isBlockTrade=False,
                    isRPITrade=False,
                    seq=str(t.trade_id),
                )
                for t in reversed(trades)
            ],
        )
