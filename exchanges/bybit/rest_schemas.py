"""msgspec Structs for Bybit v5 REST replies, with Bybit's own field names.

Every reply is the envelope ``{"retCode","retMsg","result","retExtInfo","time"}``;
:data:`HEAD_DECODER` reads the code first (a failed call's ``result`` is ``{}``), then the typed
``Envelope[T]`` decoder reads the result. Numbers inside ``result`` are strings and may be
``""`` (``avgPrice`` of an unfilled order, ``liqPrice`` of a flat position), so they are kept as
``str`` here and converted in ``parse.py``. Unknown fields are ignored.
"""

from __future__ import annotations

import builtins
from typing import Any, Generic, TypeVar, cast

import msgspec

__all__ = [
    "Head",
    "Envelope",
    "HEAD_DECODER",
    "TimeResult",
    "PriceFilter",
    "SpotLotSize",
    "LinearLotSize",
    "LeverageFilter",
    "SpotInstrument",
    "LinearInstrument",
    "SpotInstruments",
    "LinearInstruments",
    "Orderbook",
    "LinearTicker",
    "Tickers",
    "FundingItem",
    "FundingHistory",
    "OrderAck",
    "OrderItem",
    "OrderList",
    "WalletCoin",
    "WalletAccount",
    "WalletBalance",
    "PositionItem",
    "PositionList",
    "decoder",
]

T = TypeVar("T")


class Head(msgspec.Struct, kw_only=True):
    retCode: int
    retMsg: str = ""
    time: int = 0


HEAD_DECODER = msgspec.json.Decoder(Head)


class Envelope(msgspec.Struct, Generic[T], kw_only=True):
    retCode: int
    retMsg: str = ""
    result: T
    time: int = 0


class TimeResult(msgspec.Struct, kw_only=True):
    timeSecond: str
    timeNano: str = ""


class PriceFilter(msgspec.Struct, kw_only=True):
    tickSize: str
    minPrice: str = ""
    maxPrice: str = ""


class SpotLotSize(msgspec.Struct, kw_only=True):
    basePrecision: str
    minOrderQty: str
    maxOrderQty: str = ""
    maxLimitOrderQty: str = ""
    maxMarketOrderQty: str = ""
    minOrderAmt: str = ""
    quotePrecision: str = ""


class LinearLotSize(msgspec.Struct, kw_only=True):
    qtyStep: str
    minOrderQty: str
    maxOrderQty: str = ""
    maxMktOrderQty: str = ""
    minNotionalValue: str = ""


class LeverageFilter(msgspec.Struct, kw_only=True):
    maxLeverage: str = ""


class SpotInstrument(msgspec.Struct, kw_only=True):
    symbol: str
    baseCoin: str
    quoteCoin: str
    status: str
    lotSizeFilter: SpotLotSize
    priceFilter: PriceFilter


class LinearInstrument(msgspec.Struct, kw_only=True):
    symbol: str
    contractType: str
    status: str
    baseCoin: str
    quoteCoin: str
    settleCoin: str = ""
    lotSizeFilter: LinearLotSize
    priceFilter: PriceFilter
    leverageFilter: LeverageFilter = msgspec.field(default_factory=LeverageFilter)
    fundingInterval: int = 0  # minutes


class SpotInstruments(msgspec.Struct, kw_only=True):
    category: str = ""
    list: builtins.list[SpotInstrument]
    nextPageCursor: str = ""


class LinearInstruments(msgspec.Struct, kw_only=True):
    category: str = ""
    list: builtins.list[LinearInstrument]
    nextPageCursor: str = ""


class Orderbook(msgspec.Struct, kw_only=True):
    s: str
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    ts: int = 0
    u: int = 0
    seq: int = 0
    cts: int = 0


class LinearTicker(msgspec.Struct, kw_only=True):
    symbol: str
    markPrice: str = ""
    indexPrice: str = ""
    fundingRate: str = ""
    nextFundingTime: str = ""
    fundingIntervalHour: str = ""
    bid1Price: str = ""
    ask1Price: str = ""


class Tickers(msgspec.Struct, kw_only=True):
    category: str = ""
    list: builtins.list[LinearTicker]


class FundingItem(msgspec.Struct, kw_only=True):
    symbol: str
    fundingRate: str
    fundingRateTimestamp: str


class FundingHistory(msgspec.Struct, kw_only=True):
    category: str = ""
    list: builtins.list[FundingItem]


class OrderAck(msgspec.Struct, kw_only=True):
    orderId: str
    orderLinkId: str = ""


class OrderItem(msgspec.Struct, kw_only=True):
    orderId: str
    orderLinkId: str = ""
    symbol: str
    price: str = ""
    qty: str
    side: str
    orderStatus: str
    cancelType: str = ""
    rejectReason: str = ""
    avgPrice: str = ""
    leavesQty: str = ""
    cumExecQty: str = ""
    cumExecValue: str = ""
    timeInForce: str = ""
    orderType: str
    reduceOnly: bool = False
    positionIdx: int = 0
    createdTime: str = ""
    updatedTime: str = ""


class OrderList(msgspec.Struct, kw_only=True):
    category: str = ""
    list: builtins.list[OrderItem]
    nextPageCursor: str = ""


class WalletCoin(msgspec.Struct, kw_only=True):
    coin: str
    equity: str = ""
    walletBalance: str = ""
    locked: str = ""
    unrealisedPnl: str = ""
    totalOrderIM: str = ""
    totalPositionIM: str = ""
    totalPositionMM: str = ""


class WalletAccount(msgspec.Struct, kw_only=True):
    accountType: str
    totalEquity: str = ""
    totalAvailableBalance: str = ""
    coin: list[WalletCoin] = msgspec.field(default_factory=list)


class WalletBalance(msgspec.Struct, kw_only=True):
    list: builtins.list[WalletAccount]


class PositionItem(msgspec.Struct, kw_only=True):
    symbol: str
    side: str = ""
    size: str
    avgPrice: str = ""
    markPrice: str = ""
    leverage: str = ""
    unrealisedPnl: str = ""
    liqPrice: str = ""
    positionIdx: int = 0
    tradeMode: int = 0
    updatedTime: str = ""


class PositionList(msgspec.Struct, kw_only=True):
    category: str = ""
    list: builtins.list[PositionItem]
    nextPageCursor: str = ""


_DECODERS: dict[type, msgspec.json.Decoder[object]] = {}


def decoder(result: type[T]) -> msgspec.json.Decoder[Envelope[T]]:
    """The (cached) decoder of an envelope whose ``result`` is ``result``."""
    dec = _DECODERS.get(result)
    if dec is None:
        envelope: Any = Envelope  # parameterised at run time: a variable is not a type to mypy
        dec = _DECODERS[result] = msgspec.json.Decoder(envelope[result])
    return cast("msgspec.json.Decoder[Envelope[T]]", dec)
