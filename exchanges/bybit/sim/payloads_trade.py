"""Order and execution payloads, as ``/v5/order/*``, ``/v5/execution/list`` and the private
``order`` / ``execution`` topics show them (reference §5, §7).

Vocabulary: ``Buy``/``Sell``, ``Limit``/``Market``, ``GTC``/``IOC``/``FOK``/``PostOnly``;
statuses ``New``, ``PartiallyFilled``, ``Filled``, ``Cancelled`` and, on spot only,
``PartiallyFilledCanceled``. An IOC/FOK/market remainder ends ``Cancelled`` (spot: with fills,
``PartiallyFilledCanceled``), as Bybit reports it; ``cancelType`` and ``rejectReason`` say why.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import SimFill, SimOrder
from strategy_client.model import OrderStatus, OrderType, Side, TimeInForce

from .api_errors import Category
from .core import BybitCore
from .numbers import money

__all__ = [
    "SIDE_TEXT",
    "SIDES",
    "ORDER_TYPES",
    "TIFS",
    "OrderItem",
    "ExecutionItem",
    "OrderAck",
    "order_item",
    "execution_item",
    "status_text",
    "tif_text",
]

ZERO = Decimal(0)
SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
SIDE_TEXT = {Side.BUY: "Buy", Side.SELL: "Sell"}
ORDER_TYPES = {"Limit": OrderType.LIMIT, "Market": OrderType.MARKET}
_TYPE_TEXT = {OrderType.LIMIT: "Limit", OrderType.MARKET: "Market"}
TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK, "PostOnly": TimeInForce.POST_ONLY}
_TIF_TEXT = {v: k for k, v in TIFS.items()}


class OrderAck(msgspec.Struct, kw_only=True):
    """``result`` of create / cancel: ids only (the state arrives on the ``order`` topic)."""

    orderId: str
    orderLinkId: str


class OrderItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One order; ``category`` is present on the private stream only (REST lists omit it)."""

    category: str = ""
    orderId: str
    orderLinkId: str
    blockTradeId: str
    symbol: str
    price: str
    qty: str
    side: str
    isLeverage: str
    positionIdx: int
    orderStatus: str
    createType: str
    cancelType: str
    rejectReason: str
    avgPrice: str
    leavesQty: str
    leavesValue: str
    cumExecQty: str
    cumExecValue: str
    cumExecFee: str
    cumFeeDetail: dict[str, str]
    feeCurrency: str
    timeInForce: str
    orderType: str
    stopOrderType: str
    orderIv: str
    marketUnit: str
    triggerPrice: str
    takeProfit: str
    stopLoss: str
    tpslMode: str | None = None  # absent on the private stream's spot orders, as Bybit documents
    ocoTriggerBy: str
    tpLimitPrice: str
    slLimitPrice: str
    tpTriggerBy: str
    slTriggerBy: str
    triggerDirection: int
    triggerBy: str
    lastPriceOnCreated: str
    reduceOnly: bool
    closeOnTrigger: bool
    placeType: str
    smpType: str
    smpGroup: int
    smpOrderId: str
    slippageToleranceType: str
    slippageTolerance: str
    createdTime: str
    updatedTime: str


class ExecutionItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One fill (``execType`` ``Trade``) or funding settlement (``Funding``)."""

    category: str = ""
    symbol: str
    orderId: str
    orderLinkId: str
    side: str
    orderPrice: str
    orderQty: str
    leavesQty: str
    createType: str
    orderType: str
    stopOrderType: str
    execFee: str
    feeCurrency: str
    execId: str
    execPrice: str
    execQty: str
    execType: str
    execValue: str
    execTime: str
    isMaker: bool
    feeRate: str
    tradeIv: str
    markIv: str
    markPrice: str
    indexPrice: str
    underlyingPrice: str
    blockTradeId: str
    closedSize: str
    seq: int
    extraFees: str


def status_text(order: SimOrder, category: Category) -> str:
    status = order.status
    if status is OrderStatus.NEW or status is OrderStatus.PENDING:
        return "New"
    if status is OrderStatus.PARTIALLY_FILLED:
        return "PartiallyFilled"
    if status is OrderStatus.FILLED:
        return "Filled"
    if status is OrderStatus.REJECTED:
        return "Rejected"
    # CANCELED and EXPIRED (IOC/market remainder, reduce-only, self-trade) are both "Cancelled"
    if category == "spot" and order.executed_qty > 0:
        return "PartiallyFilledCanceled"
    return "Cancelled"


def tif_text(order: SimOrder) -> str:
    if order.type is OrderType.MARKET:
        return "IOC"
    return _TIF_TEXT.get(order.tif, "GTC")


def _fee_asset(category: Category, order_side: Side, base: str, quote: str) -> str:
    """Spot fees are charged in the received coin; linear in the settle coin."""
    if category == "linear":
        return quote
    return base if order_side is Side.BUY else quote


def order_item(core: BybitCore, category: Category, order: SimOrder, *, with_category: bool = False) -> OrderItem:
    spec = core.spec(category, order.symbol)
    fmt = core.fmt(category, order.symbol)
    fee = sum((f.fee for f in order.fills), ZERO)
    fee_asset = _fee_asset(category, order.side, spec.base, spec.quote)
    leaves = order.remaining_qty if order.is_open else ZERO
    price = order.price or ZERO
    avg = order.avg_price
    return OrderItem(
        category=category if with_category else "",
        orderId=core.order_id(category, order.order_id),
        orderLinkId=core.link_id_of(order),
        blockTradeId="",
        symbol=order.symbol,
        price=fmt.price(price) if order.type is OrderType.LIMIT else "0",
        qty=fmt.qty(order.qty),
        side=SIDE_TEXT[order.side],
        isLeverage="0" if category == "spot" else "",
        positionIdx=0,
        orderStatus=status_text(order, category),
        createType="CreateByUser",
        cancelType=core.cancel_type(order)
        if not order.is_open and order.status is not OrderStatus.FILLED
        else "UNKNOWN",
        rejectReason=core.reject_reason(order),
        avgPrice=fmt.price(avg) if avg > 0 else ("" if category == "spot" else "0"),
        leavesQty=fmt.qty(leaves),
        leavesValue=money(leaves * price),
        cumExecQty=fmt.qty(order.executed_qty),
        cumExecValue=money(order.cum_quote),
        cumExecFee=money(fee),
        cumFeeDetail={fee_asset: money(fee)} if fee > 0 else {},
        feeCurrency=fee_asset if category == "spot" else "",
        timeInForce=tif_text(order),
        orderType=_TYPE_TEXT[order.type],
        stopOrderType="",
        orderIv="",
        marketUnit="baseCoin" if category == "spot" and order.type is OrderType.MARKET else "",
        triggerPrice="0",
        takeProfit="0",
        stopLoss="0",
        tpslMode=("" if not with_category else None) if category == "spot" else "UNKNOWN",
        ocoTriggerBy="",
        tpLimitPrice="0",
        slLimitPrice="0",
        tpTriggerBy="",
        slTriggerBy="",
        triggerDirection=0,
        triggerBy="",
        lastPriceOnCreated="",
        reduceOnly=order.reduce_only,
        closeOnTrigger=False,
        placeType="",
        smpType="None",
        smpGroup=0,
        smpOrderId="",
        slippageToleranceType="UNKNOWN",
        slippageTolerance="0",
        createdTime=str(order.created_ms),
        updatedTime=str(order.updated_ms),
    )


def execution_item(
    core: BybitCore,
    category: Category,
    order: SimOrder,
    fill: SimFill,
    leaves: Decimal,
    *,
    with_category: bool = False,
    mark: Decimal = ZERO,
    index: Decimal = ZERO,
) -> ExecutionItem:
    """``leaves`` is the order's open quantity right after ``fill`` (0 once it is final)."""
    spec = core.spec(category, order.symbol)
    fmt = core.fmt(category, order.symbol)
    rate = fill.fee / fill.quote_qty if fill.quote_qty > 0 and category == "linear" else ZERO
    if category == "spot" and fill.qty > 0:
        base_fee = fill.fee if order.side is Side.BUY else fill.fee / fill.price
        rate = base_fee / fill.qty
    return ExecutionItem(
        category=category if with_category else "",
        symbol=order.symbol,
        orderId=core.order_id(category, order.order_id),
        orderLinkId=core.link_id_of(order),
        side=SIDE_TEXT[order.side],
        orderPrice=fmt.price(order.price) if order.type is OrderType.LIMIT else "0",
        orderQty=fmt.qty(order.qty),
        leavesQty=fmt.qty(leaves),
        createType="CreateByUser",
        orderType=_TYPE_TEXT[order.type],
        stopOrderType="",
        execFee=money(fill.fee),
        feeCurrency=_fee_asset(category, order.side, spec.base, spec.quote),
        execId=core.exec_id(category, order.symbol, fill.trade_id, order.order_id),
        execPrice=fmt.price(fill.price),
        execQty=fmt.qty(fill.qty),
        execType="Trade",
        execValue=money(fill.quote_qty),
        execTime=str(fill.ts_ms),
        isMaker=fill.is_maker,
        feeRate=money(rate),
        tradeIv="",
        markIv="",
        markPrice=fmt.price(mark) if mark > 0 else "",
        indexPrice=fmt.price(index) if index > 0 else "",
        underlyingPrice="",
        blockTradeId="",
        closedSize=fmt.qty(ZERO),
        seq=core.next_seq(),
        extraFees="",
    )
