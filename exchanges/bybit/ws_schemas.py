"""msgspec Structs for Bybit v5 WebSocket pushes, with Bybit's own field names (§6, §7).

Public: ``orderbook.{depth}.{symbol}`` (``data`` with ``s``, ``b``, ``a``, ``u``, ``seq``),
``tickers.{symbol}`` (linear deltas carry only the changed fields, so every ticker field is
optional here). Private: ``{"id","topic","creationTime","data":[...]}`` whose ``data`` is
decoded by topic (``order``, ``execution``, ``position``, ``wallet``, plain or with a category
suffix). Numbers are strings and may be ``""``; ``parse`` converts them.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "TopicHead",
    "BookData",
    "BookMsg",
    "TickerData",
    "TickerMsg",
    "PrivatePush",
    "OrderWs",
    "ExecutionWs",
    "PositionWs",
    "WalletCoinWs",
    "WalletWs",
    "BOOK_DECODER",
    "TICKER_DECODER",
    "HEAD_DECODER",
    "PUSH_DECODER",
    "ORDERS_DECODER",
    "EXECUTIONS_DECODER",
    "POSITIONS_DECODER",
    "WALLETS_DECODER",
]


class TopicHead(msgspec.Struct, kw_only=True):
    topic: str = ""
    type: str = ""


class BookData(msgspec.Struct, kw_only=True):
    s: str
    b: list[tuple[str, str]] = msgspec.field(default_factory=list)
    a: list[tuple[str, str]] = msgspec.field(default_factory=list)
    u: int
    seq: int = 0


class BookMsg(msgspec.Struct, kw_only=True):
    topic: str
    type: str
    ts: int = 0
    data: BookData
    cts: int = 0


class TickerData(msgspec.Struct, kw_only=True):
    symbol: str
    markPrice: str | None = None
    indexPrice: str | None = None
    fundingRate: str | None = None
    nextFundingTime: str | None = None
    fundingIntervalHour: str | None = None
    bid1Price: str | None = None
    ask1Price: str | None = None


class TickerMsg(msgspec.Struct, kw_only=True):
    topic: str
    type: str
    data: TickerData
    ts: int = 0
    cs: int = 0


class PrivatePush(msgspec.Struct, kw_only=True):
    topic: str
    creationTime: int = 0
    id: str = ""
    data: msgspec.Raw


class OrderWs(msgspec.Struct, kw_only=True):
    category: str
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


class ExecutionWs(msgspec.Struct, kw_only=True):
    category: str
    symbol: str
    orderId: str = ""
    orderLinkId: str = ""
    side: str = ""
    orderPrice: str = ""
    orderQty: str = ""
    leavesQty: str = ""
    orderType: str = ""
    execFee: str = ""
    feeCurrency: str = ""
    execId: str
    execPrice: str = ""
    execQty: str = ""
    execType: str = ""
    execValue: str = ""
    execTime: str = ""
    isMaker: bool = False
    feeRate: str = ""
    closedSize: str = ""


class PositionWs(msgspec.Struct, kw_only=True):
    category: str = "linear"
    symbol: str
    side: str = ""
    size: str
    positionIdx: int = 0
    entryPrice: str = ""
    markPrice: str = ""
    leverage: str = ""
    unrealisedPnl: str = ""
    liqPrice: str = ""
    tradeMode: int = 0
    updatedTime: str = ""


class WalletCoinWs(msgspec.Struct, kw_only=True):
    coin: str
    equity: str = ""
    walletBalance: str = ""
    locked: str = ""
    unrealisedPnl: str = ""
    totalOrderIM: str = ""
    totalPositionIM: str = ""
    totalPositionMM: str = ""


class WalletWs(msgspec.Struct, kw_only=True):
    accountType: str = ""
    coin: list[WalletCoinWs] = msgspec.field(default_factory=list)


HEAD_DECODER = msgspec.json.Decoder(TopicHead)
BOOK_DECODER = msgspec.json.Decoder(BookMsg)
TICKER_DECODER = msgspec.json.Decoder(TickerMsg)
PUSH_DECODER = msgspec.json.Decoder(PrivatePush)
ORDERS_DECODER = msgspec.json.Decoder(list[OrderWs])
EXECUTIONS_DECODER = msgspec.json.Decoder(list[ExecutionWs])
POSITIONS_DECODER = msgspec.json.Decoder(list[PositionWs])
WALLETS_DECODER = msgspec.json.Decoder(list[WalletWs])
