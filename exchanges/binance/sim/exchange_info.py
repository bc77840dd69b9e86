"""``exchangeInfo`` for spot and USD-M, with real-shaped filters and rate limits (§3.3, §4)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import SymbolSpec

from .numbers import decimals_of, fixed, plain, spot
from .ratelimit import RateLimiter

__all__ = ["spot_exchange_info", "futures_exchange_info", "SpotExchangeInfo", "FuturesExchangeInfo"]

_SPOT_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET"]
_FUTURES_ORDER_TYPES = ["LIMIT", "MARKET"]
_FUTURES_TIF = ["GTC", "IOC", "FOK", "GTX"]
_STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]


class RateLimitDef(msgspec.Struct, kw_only=True):
    rateLimitType: str
    interval: str
    intervalNum: int
    limit: int


class SpotSymbol(msgspec.Struct, kw_only=True):
    symbol: str
    status: str
    baseAsset: str
    baseAssetPrecision: int
    quoteAsset: str
    quotePrecision: int
    quoteAssetPrecision: int
    baseCommissionPrecision: int
    quoteCommissionPrecision: int
    orderTypes: list[str]
    icebergAllowed: bool
    ocoAllowed: bool
    otoAllowed: bool
    quoteOrderQtyMarketAllowed: bool
    allowTrailingStop: bool
    cancelReplaceAllowed: bool
    amendAllowed: bool
    isSpotTradingAllowed: bool
    isMarginTradingAllowed: bool
    filters: list[dict[str, object]]
    permissions: list[str]
    permissionSets: list[list[str]]
    defaultSelfTradePreventionMode: str
    allowedSelfTradePreventionModes: list[str]


class SpotExchangeInfo(msgspec.Struct, kw_only=True):
    timezone: str
    serverTime: int
    rateLimits: list[RateLimitDef]
    exchangeFilters: list[dict[str, object]]
    symbols: list[SpotSymbol]


class FuturesAsset(msgspec.Struct, kw_only=True):
    asset: str
    marginAvailable: bool
    autoAssetExchange: str


class FuturesSymbol(msgspec.Struct, kw_only=True):
    symbol: str
    pair: str
    contractType: str
    deliveryDate: int
    onboardDate: int
    status: str
    maintMarginPercent: str
    requiredMarginPercent: str
    baseAsset: str
    quoteAsset: str
    marginAsset: str
    pricePrecision: int
    quantityPrecision: int
    baseAssetPrecision: int
    quotePrecision: int
    underlyingType: str
    underlyingSubType: list[str]
    settlePlan: int
    triggerProtect: str
    liquidationFee: str
    marketTakeBound: str
    maxMoveOrderLimit: int
    filters: list[dict[str, object]]
    orderTypes: list[str]
    timeInForce: list[str]


class FuturesExchangeInfo(msgspec.Struct, kw_only=True):
    timezone: str
    serverTime: int
    futuresType: str
    rateLimits: list[RateLimitDef]
    exchangeFilters: list[dict[str, object]]
    assets: list[FuturesAsset]
    symbols: list[FuturesSymbol]


def _limits(limiter: RateLimiter) -> list[RateLimitDef]:
    out = [
        RateLimitDef(rateLimitType=b.kind, interval=b.interval, intervalNum=b.interval_num, limit=b.limit)
        for b in (limiter.weight, *limiter.orders)
    ]
    if limiter.product == "spot":
        out.append(RateLimitDef(rateLimitType="RAW_REQUESTS", interval="MINUTE", intervalNum=5, limit=61000))
    return out


def _spot_symbol(spec: SymbolSpec) -> SpotSymbol:
    filters: list[dict[str, object]] = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": spot(spec.min_price),
            "maxPrice": spot(spec.max_price),
            "tickSize": spot(spec.tick_size),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": spot(spec.min_qty),
            "maxQty": spot(spec.max_qty),
            "stepSize": spot(spec.step_size),
        },
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": spot(spec.min_qty),
            "maxQty": spot(spec.market_max),
            "stepSize": spot(spec.step_size),
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": spot(spec.min_notional),
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": spec.max_open_orders},
    ]
    if spec.percent_price_up > 0 and spec.percent_price_down > 0:
        filters.insert(
            2,
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": plain(spec.percent_price_up),
                "bidMultiplierDown": plain(spec.percent_price_down),
                "askMultiplierUp": plain(spec.percent_price_up),
                "askMultiplierDown": plain(spec.percent_price_down),
                "avgPriceMins": 5,
            },
        )
    return SpotSymbol(
        symbol=spec.symbol,
        status="TRADING",
        baseAsset=spec.base,
        baseAssetPrecision=8,
        quoteAsset=spec.quote,
        quotePrecision=8,
        quoteAssetPrecision=8,
        baseCommissionPrecision=8,
        quoteCommissionPrecision=8,
        orderTypes=list(_SPOT_ORDER_TYPES),
        icebergAllowed=False,
        ocoAllowed=False,
        otoAllowed=False,
        quoteOrderQtyMarketAllowed=True,
        allowTrailingStop=False,
        cancelReplaceAllowed=False,
        amendAllowed=False,
        isSpotTradingAllowed=True,
        isMarginTradingAllowed=False,
        filters=filters,
        permissions=[],
        permissionSets=[["SPOT"]],
        defaultSelfTradePreventionMode="EXPIRE_MAKER",
        allowedSelfTradePreventionModes=list(_STP_MODES),
    )


def spot_exchange_info(specs: list[SymbolSpec], limiter: RateLimiter, now_ms: int) -> SpotExchangeInfo:
    return SpotExchangeInfo(
        timezone="UTC",
        serverTime=now_ms,
        rateLimits=_limits(limiter),
        exchangeFilters=[],
        symbols=[_spot_symbol(s) for s in specs],
    )


def _futures_symbol(spec: SymbolSpec, maint_margin_rate: Decimal) -> FuturesSymbol:
    pp = decimals_of(spec.tick_size)
    qp = decimals_of(spec.step_size)
    filters: list[dict[str, object]] = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": fixed(spec.min_price, pp),
            "maxPrice": plain(spec.max_price),
            "tickSize": fixed(spec.tick_size, pp),
        },
        {
            "filterType": "LOT_SIZE",
            "maxQty": plain(spec.max_qty),
            "minQty": fixed(spec.min_qty, qp),
            "stepSize": fixed(spec.step_size, qp),
        },
        {
            "filterType": "MARKET_LOT_SIZE",
            "maxQty": plain(spec.market_max),
            "minQty": fixed(spec.min_qty, qp),
            "stepSize": fixed(spec.step_size, qp),
        },
        {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_open_orders},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
        {"filterType": "MIN_NOTIONAL", "notional": plain(spec.min_notional)},
    ]
    if spec.percent_price_up > 0 and spec.percent_price_down > 0:
        filters.append(
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": fixed(spec.percent_price_up, 4),
                "multiplierDown": fixed(spec.percent_price_down, 4),
                "multiplierDecimal": "4",
            }
        )
    return FuturesSymbol(
        symbol=spec.symbol,
        pair=spec.symbol,
        contractType="PERPETUAL",
        deliveryDate=4133404800000,
        onboardDate=1569398400000,
        status="TRADING",
        maintMarginPercent=fixed(maint_margin_rate * 100, 4),
        requiredMarginPercent=fixed(maint_margin_rate * 200, 4),
        baseAsset=spec.base,
        quoteAsset=spec.quote,
        marginAsset=spec.settle,
        pricePrecision=pp,
        quantityPrecision=qp,
        baseAssetPrecision=8,
        quotePrecision=8,
        underlyingType="COIN",
        underlyingSubType=[],
        settlePlan=0,
        triggerProtect="0.0500",
        liquidationFee="0.012500",
        marketTakeBound="0.05",
        maxMoveOrderLimit=10000,
        filters=filters,
        orderTypes=list(_FUTURES_ORDER_TYPES),
        timeInForce=list(_FUTURES_TIF),
    )


def futures_exchange_info(
    specs: list[SymbolSpec], limiter: RateLimiter, now_ms: int, maint_margin_rate: Decimal
) -> FuturesExchangeInfo:
    assets = sorted({s.settle for s in specs})
    return FuturesExchangeInfo(
        timezone="UTC",
        serverTime=now_ms,
        futuresType="U_MARGINED",
        rateLimits=_limits(limiter),
        exchangeFilters=[],
        assets=[FuturesAsset(asset=a, marginAvailable=True, autoAssetExchange="-10000") for a in assets],
        symbols=[_futures_symbol(s, maint_margin_rate) for s in specs],
    )
