"""Market-data payloads: instruments, order book, tickers, trades, funding history, time (§5, §6)."""

from __future__ import annotations

import builtins

import msgspec

__all__ = [
    "PriceFilter",
    "LotSizeSpot",
    "LotSizeLinear",
    "LeverageFilter",
    "RiskParameters",
    "SpotInstrument",
    "LinearInstrument",
    "InstrumentsResult",
    "BookResult",
    "LinearTicker",
    "SpotTicker",
    "TickersResult",
    "FundingItem",
    "FundingResult",
    "TradeItem",
    "TradesResult",
    "TimeResult",
    "ListResult",
    "WalletResult",
]


class PriceFilter(msgspec.Struct, kw_only=True, omit_defaults=True):
    tickSize: str
    minPrice: str = ""
    maxPrice: str = ""


class LotSizeSpot(msgspec.Struct, kw_only=True):
    basePrecision: str
    quotePrecision: str
    minOrderQty: str
    maxOrderQty: str
    maxLimitOrderQty: str
    maxMarketOrderQty: str
    minOrderAmt: str
    maxOrderAmt: str


class LotSizeLinear(msgspec.Struct, kw_only=True):
    maxOrderQty: str
    maxMktOrderQty: str
    minOrderQty: str
    qtyStep: str
    postOnlyMaxOrderQty: str
    minNotionalValue: str


class LeverageFilter(msgspec.Struct, kw_only=True):
    minLeverage: str
    maxLeverage: str
    leverageStep: str


class RiskParameters(msgspec.Struct, kw_only=True):
    priceLimitRatioX: str
    priceLimitRatioY: str


class SpotInstrument(msgspec.Struct, kw_only=True):
    symbol: str
    baseCoin: str
    quoteCoin: str
    innovation: str
    status: str
    marginTrading: str
    stTag: str
    lotSizeFilter: LotSizeSpot
    priceFilter: PriceFilter
    riskParameters: RiskParameters


class LinearInstrument(msgspec.Struct, kw_only=True):
    symbol: str
    contractType: str
    status: str
    baseCoin: str
    quoteCoin: str
    launchTime: str
    deliveryTime: str
    deliveryFeeRate: str
    priceScale: str
    leverageFilter: LeverageFilter
    priceFilter: PriceFilter
    lotSizeFilter: LotSizeLinear
    unifiedMarginTrade: bool
    fundingInterval: int
    settleCoin: str
    copyTrading: str
    upperFundingRate: str
    lowerFundingRate: str
    isPreListing: bool
    preListingInfo: None
    riskParameters: RiskParameters
    displayName: str


class InstrumentsResult(msgspec.Struct, kw_only=True):
    category: str
    list: builtins.list[object]
    nextPageCursor: str


class BookResult(msgspec.Struct, kw_only=True):
    s: str
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    ts: int
    u: int
    seq: int
    cts: int


class LinearTicker(msgspec.Struct, kw_only=True):
    symbol: str
    lastPrice: str
    indexPrice: str
    markPrice: str
    prevPrice24h: str
    price24hPcnt: str
    highPrice24h: str
    lowPrice24h: str
    prevPrice1h: str
    openInterest: str
    openInterestValue: str
    turnover24h: str
    volume24h: str
    fundingRate: str
    nextFundingTime: str
    predictedDeliveryPrice: str
    basisRate: str
    deliveryFeeRate: str
    deliveryTime: str
    ask1Size: str
    bid1Price: str
    ask1Price: str
    bid1Size: str
    basis: str
    preOpenPrice: str
    preQty: str
    curPreListingPhase: str
    fundingIntervalHour: str
    fundingCap: str


class SpotTicker(msgspec.Struct, kw_only=True):
    symbol: str
    bid1Price: str
    bid1Size: str
    ask1Price: str
    ask1Size: str
    lastPrice: str
    prevPrice24h: str
    price24hPcnt: str
    highPrice24h: str
    lowPrice24h: str
    turnover24h: str
    volume24h: str
    usdIndexPrice: str


class TickersResult(msgspec.Struct, kw_only=True):
    category: str
    list: builtins.list[object]


class FundingItem(msgspec.Struct, kw_only=True):
    symbol: str
    fundingRate: str
    fundingRateTimestamp: str


class FundingResult(msgspec.Struct, kw_only=True):
    category: str
    list: builtins.list[FundingItem]


class TradeItem(msgspec.Struct, kw_only=True):
    execId: str
    symbol: str
    price: str
    size: str
    side: str
    time: str
    isBlockTrade: bool
    isRPITrade: bool
    seq: str


class TradesResult(msgspec.Struct, kw_only=True):
    category: str
    list: builtins.list[TradeItem]


class TimeResult(msgspec.Struct, kw_only=True):
    timeSecond: str
    timeNano: str


class ListResult(msgspec.Struct, kw_only=True):
    """A paginated list of one category: orders, executions, positions."""

    category: str
    list: builtins.list[object]
    nextPageCursor: str


class WalletResult(msgspec.Struct, kw_only=True):
    list: builtins.list[object]
