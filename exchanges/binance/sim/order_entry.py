"""Order placement, cancel and query from Binance parameters (shared by REST and WS-API).

Validation follows Binance's order of errors: mandatory/enum parameters (-1102, -1115..-1117),
number syntax (-1100), precision (-1111), then filters — spot -1013 ``Filter failure: ...``,
futures the precise -4xxx codes — and finally the engine's own refusals (see ``api_errors``).
"""

from __future__ import annotations

import re
from decimal import Decimal

from exchanges.sim.engine import RejectReason, SimOrder, SimReject, SymbolSpec
from strategy_client.model import MarketKind, OrderType, Side, TimeInForce

from .api_errors import BinanceApiError, Product, from_reject, illegal_chars
from .core import BinanceCore
from .numbers import decimals_of
from .params import Params
from .vocab import SIDES

__all__ = [
    "SPOT_ORDER_PARAMS",
    "FUTURES_ORDER_PARAMS",
    "ID_PARAMS",
    "place_spot",
    "place_futures",
    "cancel_order",
    "modify_futures",
    "MODIFY_PARAMS",
    "query_order",
    "cancel_all",
]

SPOT_ORDER_PARAMS = frozenset(
    {
        "symbol",
        "side",
        "type",
        "timeInForce",
        "quantity",
        "quoteOrderQty",
        "price",
        "newClientOrderId",
        "strategyId",
        "strategyType",
        "stopPrice",
        "trailingDelta",
        "icebergQty",
        "newOrderRespType",
        "selfTradePreventionMode",
        "pegPriceType",
        "pegOffsetValue",
        "pegOffsetType",
    }
)
FUTURES_ORDER_PARAMS = frozenset(
    {
        "symbol",
        "side",
        "positionSide",
        "type",
        "timeInForce",
        "quantity",
        "reduceOnly",
        "price",
        "newClientOrderId",
        "stopPrice",
        "closePosition",
        "activationPrice",
        "callbackRate",
        "workingType",
        "priceProtect",
        "newOrderRespType",
        "priceMatch",
        "selfTradePreventionMode",
        "goodTillDate",
    }
)
ID_PARAMS = frozenset({"symbol", "orderId", "origClientOrderId"})
MODIFY_PARAMS = ID_PARAMS | {"side", "quantity", "price", "priceMatch", "origType"}

_SPOT_CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
_FUTURES_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_SPOT_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_FUTURES_TIF = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "GTX": TimeInForce.POST_ONLY,
}
_SPOT_UNSUPPORTED = {
    "STOP_LOSS": "Stop loss orders are not supported for this symbol.",
    "STOP_LOSS_LIMIT": "Stop loss limit orders are not supported for this symbol.",
    "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
    "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
}
_FUTURES_ALGO_TYPES = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})
_STP_MODES = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})


def _not_required(name: str) -> BinanceApiError:
    return BinanceApiError(-1106, f"Parameter '{name}' sent when not required.")


def _side(params: Params) -> Side:
    return SIDES[params.req_enum("side", SIDES, BinanceApiError(-1117, "Invalid side."))]


def _client_id(core: BinanceCore, product: Product, params: Params) -> str:
    cid = params.opt_str("newClientOrderId")
    if cid is None:
        return core.new_client_id(product)
    if product == "spot":
        if not _SPOT_CLIENT_ID.match(cid):
            raise illegal_chars("newClientOrderId", "^[a-zA-Z0-9-_]{1,36}$")
    elif not _FUTURES_CLIENT_ID.match(cid):
        raise BinanceApiError(-4015, "Client order id is not valid.")
    return cid


def _spot_precision(name: str, value: Decimal | None) -> None:
    if value is not None and decimals_of(value) > 8:
        raise BinanceApiError(-1111, f"Parameter '{name}' has too much precision.")


def _engine_place(
    core: BinanceCore,
    product: Product,
    spec: SymbolSpec,
    side: Side,
    otype: OrderType,
    tif: TimeInForce,
    qty: Decimal | None,
    price: Decimal | None,
    cid: str,
    *,
    reduce_only: bool = False,
    quote_qty: Decimal | None = None,
) -> SimOrder:
    kind = MarketKind.SPOT if product == "spot" else MarketKind.PERP
    try:
        return core.venue.place_order(
            core.account,
            kind,
            spec.symbol,
            side,
            otype,
            tif,
            qty,
            price,
            cid,
            reduce_only=reduce_only,
            quote_qty=quote_qty,
        )
    except SimReject as exc:
        raise from_reject(
            product,
            exc,
            is_market=otype is OrderType.MARKET,
            is_buy=side is Side.BUY,
            min_notional=spec.min_notional,
        ) from None


def place_spot(core: BinanceCore, params: Params) -> tuple[SimOrder, str]:
    """POST /api/v3/order (and WS-API ``order.place``): the order and the response type."""
    symbol = params.req_str("symbol")
    spec = core.spec("spot", symbol)
    side = _side(params)
    otype = params.req_str("type")
    if otype in _SPOT_UNSUPPORTED:
        raise BinanceApiError(-2010, _SPOT_UNSUPPORTED[otype])
    if otype not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
        raise BinanceApiError(-1116, "Invalid orderType.")
    for name in (
        "stopPrice",
        "trailingDelta",
        "icebergQty",
        "pegPriceType",
        "pegOffsetValue",
        "pegOffsetType",
    ):
        if params.raw(name) not in (None, ""):
            raise BinanceApiError(-1106, f"Parameter '{name}' sent when not required.")
    stp = params.opt_str("selfTradePreventionMode")
    if stp is not None and stp not in _STP_MODES:
        raise BinanceApiError(-1130, "Data sent for parameter 'selfTradePreventionMode' is not valid.")
    resp = params.opt_enum(
        "newOrderRespType",
        ("ACK", "RESULT", "FULL"),
        BinanceApiError(-1130, "Data sent for parameter 'newOrderRespType' is not valid."),
    )
    qty = params.opt_decimal("quantity")
    quote_qty = params.opt_decimal("quoteOrderQty")
    price = params.opt_decimal("price")
    _spot_precision("quantity", qty)
    _spot_precision("quoteOrderQty", quote_qty)
    _spot_precision("price", price)
    if otype == "MARKET":
        if params.raw("timeInForce") not in (None, ""):
            raise BinanceApiError(-1106, "Parameter 'timeInForce' sent when not required.")
        if price is not None:
            raise _not_required("price")
        if qty is None and quote_qty is None:
            raise BinanceApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
        if qty is not None and quote_qty is not None:
            raise _not_required("quoteOrderQty")
        otype_e, tif = OrderType.MARKET, TimeInForce.IOC
    else:
        if quote_qty is not None:
            raise _not_required("quoteOrderQty")
        if qty is None:
            raise BinanceApiError(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        if price is None:
            raise BinanceApiError(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
        if otype == "LIMIT_MAKER":
            if params.raw("timeInForce") not in (None, ""):
                raise BinanceApiError(-1106, "Parameter 'timeInForce' sent when not required.")
            otype_e, tif = OrderType.LIMIT, TimeInForce.POST_ONLY
        else:
            tif_text = params.req_enum("timeInForce", _SPOT_TIF, BinanceApiError(-1115, "Invalid timeInForce."))
            otype_e, tif = OrderType.LIMIT, _SPOT_TIF[tif_text]
    cid = _client_id(core, "spot", params)
    if resp is None:
        resp = "ACK" if otype == "LIMIT_MAKER" else "FULL"
    order = _engine_place(core, "spot", spec, side, otype_e, tif, qty, price, cid, quote_qty=quote_qty)
    return order, resp


def _futures_filters(spec: SymbolSpec, is_market: bool, qty: Decimal, price: Decimal | None) -> None:
    qty_places = decimals_of(spec.step_size)
    price_places = decimals_of(spec.tick_size)
    if decimals_of(qty) > qty_places or (price is not None and decimals_of(price) > price_places):
        raise BinanceApiError(-1111, "Precision is over the maximum defined for this asset.")
    if qty <= 0:
        raise BinanceApiError(-4003, "Quantity less than or equal to zero.")
    if qty < spec.min_qty:
        raise BinanceApiError(-4004, "Quantity less than min quantity.")
    max_qty = spec.market_max if is_market else spec.max_qty
    if max_qty > 0 and qty > max_qty:
        raise BinanceApiError(-4005, "Quantity greater than max quantity.")
    if spec.step_size > 0 and (qty - spec.min_qty) % spec.step_size != 0:
        raise BinanceApiError(-4023, "Qty not increased by step size.")
    if price is None:
        return
    if price <= 0:
        raise BinanceApiError(-4001, "Price less than 0.")
    if spec.min_price > 0 and price < spec.min_price:
        raise BinanceApiError(-4013, "Price less than min price.")
    if spec.max_price > 0 and price > spec.max_price:
        raise BinanceApiError(-4002, "Price greater than max price.")
    if spec.tick_size > 0 and (price - spec.min_price) % spec.tick_size != 0:
        raise BinanceApiError(-4014, "Price not increased by tick size.")


def place_futures(core: BinanceCore, params: Params) -> tuple[SimOrder, str]:
    """POST /fapi/v1/order (and WS-API ``order.place``): the order and the response type."""
    symbol = params.req_str("symbol")
    spec = core.spec("futures", symbol)
    side = _side(params)
    otype = params.req_str("type")
    if otype in _FUTURES_ALGO_TYPES:
        raise BinanceApiError(
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        )
    if otype not in ("LIMIT", "MARKET"):
        raise BinanceApiError(-1116, "Invalid orderType.")
    position_side = params.opt_str("positionSide") or "BOTH"
    if position_side not in ("BOTH", "LONG", "SHORT"):
        raise BinanceApiError(-4060, "Invalid position side.")
    if position_side != "BOTH":
        raise BinanceApiError(-4061, "Order's position side does not match user's setting.")
    if params.opt_bool("closePosition"):
        raise BinanceApiError(-1106, "Parameter 'closePosition' sent when not required.")
    for name in ("stopPrice", "activationPrice", "callbackRate"):
        if params.raw(name) not in (None, ""):
            raise BinanceApiError(-1106, f"Parameter '{name}' sent when not required.")
    price_match = params.opt_str("priceMatch")
    if price_match not in (None, "NONE"):
        raise BinanceApiError(-1106, "Parameter 'priceMatch' sent when not required.")
    stp = params.opt_str("selfTradePreventionMode")
    if stp is not None and stp not in _STP_MODES:
        raise BinanceApiError(-1130, "Data sent for parameter 'selfTradePreventionMode' is not valid.")
    resp = params.opt_enum("newOrderRespType", ("ACK", "RESULT"), BinanceApiError(-1136, "Invalid newOrderRespType."))
    reduce_only = bool(params.opt_bool("reduceOnly"))
    qty = params.req_decimal("quantity")
    price = params.opt_decimal("price")
    if otype == "MARKET":
        if price is not None:
            raise _not_required("price")
        otype_e, tif = OrderType.MARKET, TimeInForce.IOC
    else:
        if price is None:
            raise BinanceApiError(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
        tif_text = params.req_str("timeInForce")
        if tif_text not in _FUTURES_TIF:
            raise BinanceApiError(-1115, "Invalid timeInForce.")
        otype_e, tif = OrderType.LIMIT, _FUTURES_TIF[tif_text]
    _futures_filters(spec, otype == "MARKET", qty, price)
    cid = _client_id(core, "futures", params)
    order = _engine_place(core, "futures", spec, side, otype_e, tif, qty, price, cid, reduce_only=reduce_only)
    return order, resp or "ACK"


def _order_ref(params: Params) -> tuple[int | None, str | None]:
    order_id = params.opt_int("orderId")
    cid = params.opt_str("origClientOrderId")
    if order_id is None and cid is None:
        raise BinanceApiError(-1102, "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!")
    return order_id, cid


def cancel_order(core: BinanceCore, product: Product, params: Params) -> tuple[SimOrder, str]:
    """The canceled order and, for spot, the cancel's own client id (``newClientOrderId``)."""
    symbol = params.req_str("symbol")
    core.spec(product, symbol)
    order_id, cid = _order_ref(params)
    cancel_cid = params.opt_str("newClientOrderId") or core.new_client_id(product)
    kind = MarketKind.SPOT if product == "spot" else MarketKind.PERP
    target_id: int | None = None
    try:
        target = core.venue.get_order(core.account, kind, symbol, order_id, cid)
        if order_id is not None and cid is not None and target.client_order_id != cid:
            raise BinanceApiError(-2011, "Unknown order sent.")
        target_id = target.order_id
        core.remember_cancel_id(target_id, cancel_cid)
        order = core.venue.cancel_order(core.account, kind, symbol, target_id, None)
    except SimReject as exc:
        raise from_reject(product, exc, for_cancel=True) from None
    finally:
        if target_id is not None:
            core.pop_cancel_id(target_id)
    return order, cancel_cid


def modify_futures(core: BinanceCore, params: Params) -> SimOrder:
    """``PUT /fapi/v1/order`` / WS-API ``order.modify``: a LIMIT order's new ``quantity`` (total)
    and ``price``, both mandatory, same ``orderId``; -5027 when neither changes."""
    symbol = params.req_str("symbol")
    side = _side(params)
    if params.opt_str("priceMatch") is not None:
        raise BinanceApiError(-1106, "Parameter 'priceMatch' sent when not required.")
    qty = params.req_decimal("quantity")
    price = params.req_decimal("price")
    target = query_order(core, "futures", params)
    if target.side is not side:
        raise BinanceApiError(-1102, "Parameter 'side' does not match the order.")
    try:
        return core.venue.amend_order(
            core.account, MarketKind.PERP, symbol, order_id=target.order_id, qty=qty, price=price
        )
    except SimReject as exc:
        if exc.reason is RejectReason.INVALID_ORDER and target.is_open and target.type is OrderType.LIMIT:
            raise BinanceApiError(-5027, "No need to modify the order.") from None
        raise from_reject("futures", exc) from None


def query_order(core: BinanceCore, product: Product, params: Params) -> SimOrder:
    symbol = params.req_str("symbol")
    core.spec(product, symbol)
    order_id, cid = _order_ref(params)
    kind = MarketKind.SPOT if product == "spot" else MarketKind.PERP
    try:
        order = core.venue.get_order(core.account, kind, symbol, order_id, cid)
    except SimReject as exc:
        raise from_reject(product, exc) from None
    if order_id is not None and cid is not None and order.client_order_id != cid:
        raise BinanceApiError(-2013, "Order does not exist.")
    return order


def cancel_all(core: BinanceCore, product: Product, symbol: str) -> list[tuple[SimOrder, str]]:
    """Every open order of ``symbol`` canceled, each with its cancel client id (spot shows it)."""
    core.spec(product, symbol)
    kind = MarketKind.SPOT if product == "spot" else MarketKind.PERP
    ids = {o.order_id: core.new_client_id(product) for o in core.venue.open_orders(core.account, kind, symbol)}
    for order_id, cancel_cid in ids.items():
        core.remember_cancel_id(order_id, cancel_cid)
    try:
        canceled = core.venue.cancel_all(core.account, kind, symbol)
    except SimReject as exc:
        raise from_reject(product, exc, for_cancel=True) from None
    finally:
        for order_id in ids:
            core.pop_cancel_id(order_id)
    return [(o, ids.get(o.order_id, o.client_order_id)) for o in canceled]
