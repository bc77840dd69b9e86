"""Binance REST (and WS-API ``result``) payloads as msgspec Structs, with Binance's field names.

Money fields are ``Decimal`` decoded from Binance's JSON strings; unknown fields are ignored so
additive API changes do not break decoding. Decoders are built once (module constants) and
reused. Order-book levels decode straight into :class:`strategy_client.model.BookLevel`
(an ``array_like`` Struct matching Binance's ``["price","qty"]`` pairs), which saves a copy on
the hottest path.

Symbol filters are one tolerant Struct keyed by ``filterType`` rather than a tagged union:
Binance adds filter types (``TRAILING_DELTA``, ``PERCENT_PRICE_BY_SIDE``, ``MAX_POSITION``...)
without notice, and a tagged union would refuse the whole exchangeInfo on an unknown tag.

A few fields Binance sends as an empty string when not applicable (``lastFundingRate`` and
``interestRate`` of delivery contracts, ``markPrice`` of old funding records) are typed ``str``
and converted in ``parse.py``; every other decimal is a ``Decimal`` here.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from strategy_client.model import BookLevel

__all__ = [
    "ErrorBody",
    "ServerTime",
    "RateLimit",
    "SymbolFilter",
    "SpotSymbol",
    "SpotExchangeInfo",
    "FuturesSymbol",
    "FuturesExchangeInfo",
    "Depth",
    "SpotFill",
    "SpotOrder",
    "FuturesOrder",
    "SpotBalance",
    "SpotAccount",
    "FuturesAsset",
    "FuturesAccountPosition",
    "FuturesAccount",
    "PositionRiskV2",
    "PositionRiskV3",
    "LeverageResponse",
    "PremiumIndex",
    "FundingRateHist",
    "FundingInfo",
    "Income",
    "ListenKey",
    "CodeMsg",
    "ERROR_DECODER",
    "SERVER_TIME_DECODER",
    "SPOT_EXCHANGE_INFO_DECODER",
    "FUTURES_EXCHANGE_INFO_DECODER",
    "DEPTH_DECODER",
    "SPOT_ORDER_DECODER",
    "SPOT_ORDERS_DECODER",
    "FUTURES_ORDER_DECODER",
    "FUTURES_ORDERS_DECODER",
    "SPOT_ACCOUNT_DECODER",
    "FUTURES_ACCOUNT_DECODER",
    "POSITION_RISK_V2_DECODER",
    "POSITION_RISK_V3_DECODER",
    "LEVERAGE_DECODER",
    "PREMIUM_INDEX_DECODER",
    "PREMIUM_INDEX_LIST_DECODER",
    "FUNDING_RATE_HIST_DECODER",
    "FUNDING_INFO_DECODER",
    "INCOME_DECODER",
    "LISTEN_KEY_DECODER",
    "CODE_MSG_DECODER",
]

ZERO = Decimal(0)


class ErrorBody(msgspec.Struct, frozen=True):
    """``{"code":-1121,"msg":"Invalid symbol."}``."""

    code: int | None = None
    msg: str = ""


class ServerTime(msgspec.Struct, frozen=True):
    serverTime: int


class RateLimit(msgspec.Struct, frozen=True):
    rateLimitType: str
    interval: str
    intervalNum: int
    limit: int


class SymbolFilter(msgspec.Struct, frozen=True):
    """Any entry of ``symbols[].filters[]``; the fields present depend on ``filterType``."""

    filterType: str
    # PRICE_FILTER
    minPrice: Decimal | None = None
    maxPrice: Decimal | None = None
    tickSize: Decimal | None = None
    # LOT_SIZE, MARKET_LOT_SIZE
    minQty: Decimal | None = None
    maxQty: Decimal | None = None
    stepSize: Decimal | None = None
    # spot NOTIONAL / MIN_NOTIONAL
    minNotional: Decimal | None = None
    maxNotional: Decimal | None = None
    applyMinToMarket: bool | None = None
    applyToMarket: bool | None = None
    avgPriceMins: int | None = None
    # futures MIN_NOTIONAL
    notional: Decimal | None = None
    # PERCENT_PRICE (futures: multiplierDecimal is a string such as "4")
    multiplierUp: Decimal | None = None
    multiplierDown: Decimal | None = None
    multiplierDecimal: Decimal | None = None
    # MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS
    limit: int | None = None
    maxNumOrders: int | None = None


class SpotSymbol(msgspec.Struct, frozen=True):
    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    baseAssetPrecision: int = 8
    quoteAssetPrecision: int = 8
    orderTypes: list[str] = []
    isSpotTradingAllowed: bool = True
    filters: list[SymbolFilter] = []


class SpotExchangeInfo(msgspec.Struct, frozen=True):
    symbols: list[SpotSymbol]
    timezone: str = "UTC"
    serverTime: int = 0
    rateLimits: list[RateLimit] = []


class FuturesSymbol(msgspec.Struct, frozen=True):
    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    marginAsset: str = ""
    pair: str = ""
    contractType: str = ""
    pricePrecision: int = 0
    quantityPrecision: int = 0
    orderTypes: list[str] = []
    timeInForce: list[str] = []
    filters: list[SymbolFilter] = []


class FuturesExchangeInfo(msgspec.Struct, frozen=True):
    symbols: list[FuturesSymbol]
    timezone: str = "UTC"
    serverTime: int = 0
    rateLimits: list[RateLimit] = []


class Depth(msgspec.Struct, frozen=True, gc=False):
    """Spot ``/api/v3/depth`` (also the spot ``@depth5`` stream) and futures ``/fapi/v1/depth``.

    Futures adds ``E`` (message output time) and ``T`` (transaction time).
    """

    lastUpdateId: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    E: int = 0
    T: int = 0


class SpotFill(msgspec.Struct, frozen=True):
    price: Decimal
    qty: Decimal
    commission: Decimal = ZERO
    commissionAsset: str = ""
    tradeId: int = -1


class SpotOrder(msgspec.Struct, frozen=True):
    """Spot order object: POST (ACK/RESULT/FULL), DELETE (adds ``origClientOrderId``) and GET.

    In a cancel response ``clientOrderId`` is the *cancel's* id and ``origClientOrderId`` the
    order's. Note Binance's spelling ``cummulativeQuoteQty``.
    """

    symbol: str
    orderId: int
    clientOrderId: str
    orderListId: int = -1
    origClientOrderId: str | None = None
    transactTime: int = 0
    price: Decimal = ZERO
    origQty: Decimal = ZERO
    executedQty: Decimal = ZERO
    cummulativeQuoteQty: Decimal = ZERO
    status: str = ""
    timeInForce: str = ""
    type: str = ""
    side: str = ""
    stopPrice: Decimal = ZERO
    workingTime: int = 0
    time: int = 0
    updateTime: int = 0
    isWorking: bool | None = None
    selfTradePreventionMode: str = ""
    fills: list[SpotFill] = []


class FuturesOrder(msgspec.Struct, frozen=True):
    """USD-M order object; ``avgPrice``/``cumQuote``/``time`` come only from GET (2026)."""

    orderId: int
    symbol: str
    clientOrderId: str
    status: str = ""
    price: Decimal = ZERO
    avgPrice: Decimal = ZERO
    origQty: Decimal = ZERO
    executedQty: Decimal = ZERO
    cumQty: Decimal = ZERO
    cumQuote: Decimal = ZERO
    timeInForce: str = ""
    type: str = ""
    origType: str = ""
    reduceOnly: bool = False
    closePosition: bool = False
    side: str = ""
    positionSide: str = "BOTH"
    stopPrice: Decimal = ZERO
    workingType: str = ""
    priceProtect: bool = False
    priceMatch: str = ""
    selfTradePreventionMode: str = ""
    goodTillDate: int = 0
    time: int = 0
    updateTime: int = 0


class SpotBalance(msgspec.Struct, frozen=True):
    asset: str
    free: Decimal
    locked: Decimal = ZERO


class SpotAccount(msgspec.Struct, frozen=True):
    balances: list[SpotBalance]
    canTrade: bool = True
    canWithdraw: bool = True
    canDeposit: bool = True
    accountType: str = "SPOT"
    updateTime: int = 0
    uid: int = 0
    permissions: list[str] = []


class FuturesAsset(msgspec.Struct, frozen=True):
    asset: str
    walletBalance: Decimal
    unrealizedProfit: Decimal = ZERO
    marginBalance: Decimal = ZERO
    maintMargin: Decimal = ZERO
    initialMargin: Decimal = ZERO
    positionInitialMargin: Decimal = ZERO
    openOrderInitialMargin: Decimal = ZERO
    crossWalletBalance: Decimal = ZERO
    crossUnPnl: Decimal = ZERO
    availableBalance: Decimal = ZERO
    maxWithdrawAmount: Decimal = ZERO
    updateTime: int = 0


class FuturesAccountPosition(msgspec.Struct, frozen=True):
    symbol: str
    positionAmt: Decimal
    positionSide: str = "BOTH"
    unrealizedProfit: Decimal = ZERO
    notional: Decimal = ZERO
    initialMargin: Decimal = ZERO
    maintMargin: Decimal = ZERO
    isolatedMargin: Decimal = ZERO
    isolatedWallet: Decimal = ZERO
    updateTime: int = 0


class FuturesAccount(msgspec.Struct, frozen=True):
    """``GET /fapi/v3/account``."""

    totalWalletBalance: Decimal = ZERO
    totalUnrealizedProfit: Decimal = ZERO
    totalMarginBalance: Decimal = ZERO
    totalInitialMargin: Decimal = ZERO
    totalMaintMargin: Decimal = ZERO
    availableBalance: Decimal = ZERO
    maxWithdrawAmount: Decimal = ZERO
    assets: list[FuturesAsset] = []
    positions: list[FuturesAccountPosition] = []


class PositionRiskV3(msgspec.Struct, frozen=True):
    """``GET /fapi/v3/positionRisk`` item: no leverage (that is v2 or symbolConfig)."""

    symbol: str
    positionAmt: Decimal
    positionSide: str = "BOTH"
    entryPrice: Decimal = ZERO
    breakEvenPrice: Decimal = ZERO
    markPrice: Decimal = ZERO
    unRealizedProfit: Decimal = ZERO
    liquidationPrice: Decimal = ZERO
    isolatedMargin: Decimal = ZERO
    notional: Decimal = ZERO
    marginAsset: str = ""
    initialMargin: Decimal = ZERO
    maintMargin: Decimal = ZERO
    adl: int = 0
    updateTime: int = 0


class PositionRiskV2(msgspec.Struct, frozen=True):
    """``GET /fapi/v2/positionRisk`` item: adds ``leverage`` (a string), ``marginType``..."""

    symbol: str
    positionAmt: Decimal
    positionSide: str = "BOTH"
    entryPrice: Decimal = ZERO
    breakEvenPrice: Decimal = ZERO
    markPrice: Decimal = ZERO
    unRealizedProfit: Decimal = ZERO
    liquidationPrice: Decimal = ZERO
    leverage: Decimal = ZERO
    maxNotionalValue: Decimal = ZERO
    marginType: str = "cross"
    isolatedMargin: Decimal = ZERO
    isAutoAddMargin: str = "false"
    notional: Decimal = ZERO
    isolatedWallet: Decimal = ZERO
    updateTime: int = 0


class LeverageResponse(msgspec.Struct, frozen=True):
    leverage: int
    symbol: str
    maxNotionalValue: Decimal = ZERO


class PremiumIndex(msgspec.Struct, frozen=True):
    symbol: str
    markPrice: Decimal
    indexPrice: Decimal = ZERO
    estimatedSettlePrice: Decimal = ZERO
    lastFundingRate: str = ""
    interestRate: str = ""
    nextFundingTime: int = 0
    time: int = 0


class FundingRateHist(msgspec.Struct, frozen=True):
    symbol: str
    fundingRate: Decimal
    fundingTime: int
    markPrice: str = ""


class FundingInfo(msgspec.Struct, frozen=True):
    symbol: str
    fundingIntervalHours: int = 8
    adjustedFundingRateCap: Decimal = ZERO
    adjustedFundingRateFloor: Decimal = ZERO
    disclaimer: bool = False


class Income(msgspec.Struct, frozen=True):
    symbol: str
    incomeType: str
    income: Decimal
    asset: str
    time: int
    info: str = ""
    tranId: int = 0
    tradeId: str | int = ""


class ListenKey(msgspec.Struct, frozen=True):
    listenKey: str


class CodeMsg(msgspec.Struct, frozen=True):
    """Futures success bodies such as ``{"code":200,"msg":"success"}``."""

    code: int = 200
    msg: str = ""


ERROR_DECODER = msgspec.json.Decoder(ErrorBody)
SERVER_TIME_DECODER = msgspec.json.Decoder(ServerTime)
SPOT_EXCHANGE_INFO_DECODER = msgspec.json.Decoder(SpotExchangeInfo)
FUTURES_EXCHANGE_INFO_DECODER = msgspec.json.Decoder(FuturesExchangeInfo)
DEPTH_DECODER = msgspec.json.Decoder(Depth)
SPOT_ORDER_DECODER = msgspec.json.Decoder(SpotOrder)
SPOT_ORDERS_DECODER = msgspec.json.Decoder(list[SpotOrder])
FUTURES_ORDER_DECODER = msgspec.json.Decoder(FuturesOrder)
FUTURES_ORDERS_DECODER = msgspec.json.Decoder(list[FuturesOrder])
SPOT_ACCOUNT_DECODER = msgspec.json.Decoder(SpotAccount)
FUTURES_ACCOUNT_DECODER = msgspec.json.Decoder(FuturesAccount)
POSITION_RISK_V2_DECODER = msgspec.json.Decoder(list[PositionRiskV2])
POSITION_RISK_V3_DECODER = msgspec.json.Decoder(list[PositionRiskV3])
LEVERAGE_DECODER = msgspec.json.Decoder(LeverageResponse)
PREMIUM_INDEX_DECODER = msgspec.json.Decoder(PremiumIndex)
PREMIUM_INDEX_LIST_DECODER = msgspec.json.Decoder(list[PremiumIndex])
FUNDING_RATE_HIST_DECODER = msgspec.json.Decoder(list[FundingRateHist])
FUNDING_INFO_DECODER = msgspec.json.Decoder(list[FundingInfo])
INCOME_DECODER = msgspec.json.Decoder(list[Income])
LISTEN_KEY_DECODER = msgspec.json.Decoder(ListenKey)
CODE_MSG_DECODER = msgspec.json.Decoder(CodeMsg)
