"""Spot REST / WS-API result payloads (Binance's field names, order and types) and builders."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import SimFill, SimOrder
from strategy_client.model import OrderType, TimeInForce

from .numbers import spot
from .vocab import side_text, spot_price, spot_type_tif, status_text

__all__ = [
    "SpotFill",
    "SpotOrderAck",
    "SpotOrderResult",
    "SpotOrderFull",
    "SpotOrderQuery",
    "SpotCancel",
    "SpotBalance",
    "CommissionRates",
    "SpotAccount",
    "SpotMyTrade",
    "order_ack",
    "order_result",
    "order_full",
    "order_query",
    "order_cancel",
    "my_trade",
    "is_working",
]

STP_MODE = "EXPIRE_MAKER"


class SpotFill(msgspec.Struct, kw_only=True):
    price: str
    qty: str
    commission: str
    commissionAsset: str
    tradeId: int


class SpotOrderAck(msgspec.Struct, kw_only=True):
    symbol: str
    orderId: int
    orderListId: int
    clientOrderId: str
    transactTime: int


class SpotOrderResult(SpotOrderAck, kw_only=True):
    price: str
    origQty: str
    executedQty: str
    origQuoteOrderQty: str
    cummulativeQuoteQty: str
    status: str
    timeInForce: str
    type: str
    side: str
    workingTime: int
    selfTradePreventionMode: str


class SpotOrderFull(SpotOrderResult, kw_only=True):
    fills: list[SpotFill]


class SpotOrderQuery(msgspec.Struct, kw_only=True):
    symbol: str
    orderId: int
    orderListId: int
    clientOrderId: str
    price: str
    origQty: str
    executedQty: str
    cummulativeQuoteQty: str
    status: str
    timeInForce: str
    type: str
    side: str
    stopPrice: str
    icebergQty: str
    time: int
    updateTime: int
    isWorking: bool
    workingTime: int
    origQuoteOrderQty: str
    selfTradePreventionMode: str


class SpotCancel(msgspec.Struct, kw_only=True):
    symbol: str
    origClientOrderId: str
    orderId: int
    orderListId: int
    clientOrderId: str
    transactTime: int
    price: str
    origQty: str
    executedQty: str
    origQuoteOrderQty: str
    cummulativeQuoteQty: str
    status: str
    timeInForce: str
    type: str
    side: str
    selfTradePreventionMode: str


class SpotBalance(msgspec.Struct, kw_only=True):
    asset: str
    free: str
    locked: str


class CommissionRates(msgspec.Struct, kw_only=True):
    maker: str
    taker: str
    buyer: str
    seller: str


class SpotAccount(msgspec.Struct, kw_only=True):
    makerCommission: int
    takerCommission: int
    buyerCommission: int
    sellerCommission: int
    commissionRates: CommissionRates
    canTrade: bool
    canWithdraw: bool
    canDeposit: bool
    brokered: bool
    requireSelfTradePrevention: bool
    preventSor: bool
    updateTime: int
    accountType: str
    balances: list[SpotBalance]
    permissions: list[str]
    uid: int


class SpotMyTrade(msgspec.Struct, kw_only=True):
    symbol: str
    id: int
    orderId: int
    orderListId: int
    price: str
    qty: str
    quoteQty: str
    commission: str
    commissionAsset: str
    time: int
    isBuyer: bool
    isMaker: bool
    isBestMatch: bool


def is_working(order: SimOrder) -> bool:
    """On the book: open and resting (not a taker-only type)."""
    return order.is_open and order.type is OrderType.LIMIT and order.tif not in (TimeInForce.IOC, TimeInForce.FOK)


def _orig_qty(order: SimOrder) -> str:
    return spot(order.qty)


def _quote_qty(order: SimOrder) -> str:
    return spot(order.quote_qty if order.quote_qty is not None else Decimal(0))


def order_ack(order: SimOrder, transact_ms: int) -> SpotOrderAck:
    return SpotOrderAck(
        symbol=order.symbol,
        orderId=order.order_id,
        orderListId=-1,
        clientOrderId=order.client_order_id,
        transactTime=transact_ms,
    )


def order_result(order: SimOrder, transact_ms: int) -> SpotOrderResult:
    otype, tif = spot_type_tif(order)
    return SpotOrderResult(
        symbol=order.symbol,
        orderId=order.order_id,
        orderListId=-1,
        clientOrderId=order.client_order_id,
        transactTime=transact_ms,
        price=spot_price(order),
        origQty=_orig_qty(order),
        executedQty=spot(order.executed_qty),
        origQuoteOrderQty=_quote_qty(order),
        cummulativeQuoteQty=spot(order.cum_quote),
        status=status_text(order.status),
        timeInForce=tif,
        type=otype,
        side=side_text(order.side),
        workingTime=order.working_ms or order.created_ms,
        selfTradePreventionMode=STP_MODE,
    )


def _fill(fill: SimFill) -> SpotFill:
    return SpotFill(
        price=spot(fill.price),
        qty=spot(fill.qty),
        commission=spot(fill.fee),
        commissionAsset=fill.fee_asset,
        tradeId=fill.trade_id,
    )


def order_full(order: SimOrder, transact_ms: int) -> SpotOrderFull:
    r = order_result(order, transact_ms)
    return SpotOrderFull(
        symbol=r.symbol,
        orderId=r.orderId,
        orderListId=r.orderListId,
        clientOrderId=r.clientOrderId,
        transactTime=r.transactTime,
        price=r.price,
        origQty=r.origQty,
        executedQty=r.executedQty,
        origQuoteOrderQty=r.origQuoteOrderQty,
        cummulativeQuoteQty=r.cummulativeQuoteQty,
        status=r.status,
        timeInForce=r.timeInForce,
        type=r.type,
        side=r.side,
        workingTime=r.workingTime,
        selfTradePreventionMode=r.selfTradePreventionMode,
        fills=[_fill(f) for f in order.fills],
    )


def order_query(order: SimOrder) -> SpotOrderQuery:
    otype, tif = spot_type_tif(order)
    return SpotOrderQuery(
        symbol=order.symbol,
        orderId=order.order_id,
        orderListId=-1,
        clientOrderId=order.client_order_id,
        price=spot_price(order),
        origQty=_orig_qty(order),
        executedQty=spot(order.executed_qty),
        cummulativeQuoteQty=spot(order.cum_quote),
        status=status_text(order.status),
        timeInForce=tif,
        type=otype,
        side=side_text(order.side),
        stopPrice=spot(Decimal(0)),
        icebergQty=spot(Decimal(0)),
        time=order.created_ms,
        updateTime=order.updated_ms or order.created_ms,
        isWorking=is_working(order),
        workingTime=order.working_ms or order.created_ms,
        origQuoteOrderQty=_quote_qty(order),
        selfTradePreventionMode=STP_MODE,
    )


def order_cancel(order: SimOrder, cancel_client_id: str, transact_ms: int) -> SpotCancel:
    otype, tif = spot_type_tif(order)
    return SpotCancel(
        symbol=order.symbol,
        origClientOrderId=order.client_order_id,
        orderId=order.order_id,
        orderListId=-1,
        clientOrderId=cancel_client_id,
        transactTime=transact_ms,
        price=spot_price(order),
        origQty=_orig_qty(order),
        executedQty=spot(order.executed_qty),
        origQuoteOrderQty=_quote_qty(order),
        cummulativeQuoteQty=spot(order.cum_quote),
        status=status_text(order.status),
        timeInForce=tif,
        type=otype,
        side=side_text(order.side),
        selfTradePreventionMode=STP_MODE,
    )


def my_trade(fill: SimFill, order: SimOrder) -> SpotMyTrade:
    return SpotMyTrade(
        symbol=order.symbol,
        id=fill.trade_id,
        orderId=fill.order_id,
        orderListId=-1,
        price=spot(fill.price),
        qty=spot(fill.qty),
        quoteQty=spot(fill.quote_qty),
        commission=spot(fill.fee),
        commissionAsset=fill.fee_asset,
        time=fill.ts_ms,
        isBuyer=side_text(order.side) == "BUY",
        isMaker=fill.is_maker,
        isBestMatch=True,
    )
