"""Order placement, amend and cancel from Bybit parameters (``/v5/order/create``,
``/v5/order/amend``, ``/v5/order/cancel``).

Validation follows Bybit's rules (reference §5): mandatory fields and enums (10001), then the
instrument's filters with the category's codes — linear quantities are truncated to the step
(110017 when that leaves nothing), spot quantity/price decimals 170137/170134, minimums
170136/170140 and 110094 — and finally the engine's own refusals (``api_errors.from_reject``).

Bybit *accepts* a PostOnly order that would take and a FOK order that cannot fill completely
and cancels them at once (``rejectReason`` EC_PostOnlyWillTakeLiquidity / EC_NoEnoughQtyToFill);
the engine refuses such orders, so the dialect records them itself (``core.kill_on_entry``)
and reports them on the ``order`` topic through ``on_killed``.

Spot market orders: ``marketUnit`` ``quoteCoin`` (the default for a Buy) spends ``qty`` of the
quote coin; ``baseCoin`` (the default for a Sell) trades ``qty`` of the base coin.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from exchanges.sim.engine import RejectReason, SimOrder, SimReject, SymbolSpec
from strategy_client.model import OrderStatus, OrderType, Side, TimeInForce

from .api_errors import BybitApiError, Category, from_reject, order_not_exists, param_error
from .core import KIND_OF, BybitCore, parse_category
from .numbers import decimals_of
from .params import Params
from .payloads_trade import ORDER_TYPES, SIDES, TIFS, OrderAck
from .unified import with_pooled_funds

__all__ = ["OrderEntry", "KilledListener"]

ZERO = Decimal(0)
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_UNSUPPORTED = ("triggerPrice", "takeProfit", "stopLoss", "tpslMode", "slOrderType", "tpOrderType")
KilledListener = Callable[[Category, SimOrder], None]


def _killed_reason(reason: RejectReason) -> str | None:
    if reason is RejectReason.POST_ONLY_WOULD_TAKE:
        return "EC_PostOnlyWillTakeLiquidity"
    if reason is RejectReason.FOK_NOT_FILLABLE:
        return "EC_NoEnoughQtyToFill"
    return None


def _check_supported(params: Params, category: Category) -> None:
    """Refuse what this venue does not offer: conditional and TP/SL orders, order filters,
    hedge-mode positions, reduce-only or margin trading on spot."""
    for name in _UNSUPPORTED:
        if params.has(name) and params.raw(name) not in ("0", 0):
            raise param_error(f"params error: {name} is not supported by this venue")
    order_filter = params.opt_str("orderFilter")
    if order_filter not in (None, "Order"):
        raise param_error(f"params error: orderFilter {order_filter} is not supported by this venue")
    position_idx = params.opt_int("positionIdx") or 0
    if position_idx != 0:
        raise param_error("position idx not match position mode")
    if category == "spot":
        if params.opt_bool("reduceOnly"):
            raise param_error("params error: reduceOnly is not supported for spot")
        if params.opt_int("isLeverage") not in (None, 0):
            raise param_error("params error: margin trading (isLeverage=1) is not supported by this venue")


class OrderEntry:
    def __init__(self, core: BybitCore, on_killed: KilledListener | None = None) -> None:
        self.core = core
        self.on_killed = on_killed

    # -- validation -------------------------------------------------------------------------

    def _qty(self, category: Category, spec: SymbolSpec, qty: Decimal, *, quote: bool) -> Decimal:
        if qty <= 0:
            raise param_error("params error: qty must be greater than 0")
        if category == "linear":
            truncated = (qty / spec.step_size).to_integral_value(rounding=ROUND_DOWN) * spec.step_size
            if truncated <= 0:
                raise BybitApiError(110017, "orderQty will be truncated to zero.")
            if truncated < spec.min_qty:
                raise BybitApiError(10001, "The number of contracts exceeds minimum limit allowed")
            return truncated
        if quote:
            places = decimals_of(self.core.spot_extra(spec.symbol).quote_precision)
            if decimals_of(qty.normalize()) > places:
                raise BybitApiError(170137, "Order quantity has too many decimals.")
            if qty < spec.min_notional:
                raise BybitApiError(170140, "Order value exceeded lower limit.")
            return qty
        if qty % spec.step_size != 0:
            raise BybitApiError(170137, "Order quantity has too many decimals.")
        if qty < spec.min_qty:
            raise BybitApiError(170136, "Order quantity lower than the minimum.")
        return qty

    def _price(self, category: Category, spec: SymbolSpec, price: Decimal | None) -> Decimal:
        if price is None:
            raise param_error("params error: price is required for a Limit order")
        if price <= 0:
            raise param_error("params error: price must be greater than 0")
        if (price - spec.min_price) % spec.tick_size != 0:
            if category == "spot":
                raise BybitApiError(170134, "Order price has too many decimals.")
            raise BybitApiError(10001, f"Price invalid: must be a multiple of tickSize {spec.tick_size}")
        return price

    # -- place ------------------------------------------------------------------------------

    def _check_link_id(self, category: Category, link_id: str) -> None:
        """A well-formed orderLinkId not used before in ``category`` (spot and linear word it apart)."""
        if not _LINK_ID.match(link_id):
            raise param_error("params error: orderLinkId must be 1-36 chars of [A-Za-z0-9_-]")
        if self.core.link_id_used(category, link_id):
            if category == "spot":
                raise BybitApiError(170141, "Duplicate clientOrderId.")
            raise BybitApiError(110072, "OrderLinkedID is duplicate")

    def place(self, params: Params) -> OrderAck:
        core = self.core
        category = parse_category(params.opt_str("category"))
        symbol = params.req_str("symbol")
        spec = core.spec(category, symbol)
        side = params.req_enum("side", SIDES)
        otype = params.req_enum("orderType", ORDER_TYPES)
        qty = params.opt_decimal("qty")
        if qty is None:
            raise param_error("params error: qty is required")
        tif = params.opt_enum("timeInForce", TIFS) or TimeInForce.GTC
        _check_supported(params, category)
        reduce_only = bool(params.opt_bool("reduceOnly"))
        link_id = params.opt_str("orderLinkId") or ""
        if link_id:
            self._check_link_id(category, link_id)
        quote_qty: Decimal | None = None
        price: Decimal | None = None
        if otype is OrderType.MARKET:
            tif = TimeInForce.IOC
            unit = params.opt_str("marketUnit")
            if category == "spot":
                if unit not in (None, "baseCoin", "quoteCoin"):
                    raise param_error(f"params error: marketUnit invalid: {unit}")
                by_quote = unit == "quoteCoin" or (unit is None and side is Side.BUY)
                if by_quote:
                    quote_qty = self._qty(category, spec, qty, quote=True)
                else:
                    qty = self._qty(category, spec, qty, quote=False)
            else:
                qty = self._qty(category, spec, qty, quote=False)
        else:
            qty = self._qty(category, spec, qty, quote=False)
            price = self._price(category, spec, params.opt_decimal("price"))
        kind = KIND_OF[category]

        def attempt() -> SimOrder:
            return core.venue.place_order(
                core.account,
                kind,
                symbol,
                side,
                otype,
                tif,
                None if quote_qty is not None else qty,
                price,
                link_id,
                reduce_only=reduce_only,
                quote_qty=quote_qty,
            )

        pool_asset = spec.settle if category == "linear" else (spec.quote if side is Side.BUY else "")
        try:
            order = with_pooled_funds(core, kind, pool_asset, attempt) if pool_asset else attempt()
        except SimReject as exc:
            reason = _killed_reason(exc.reason)
            if reason is None:
                raise from_reject(category, exc) from None
            now = core.now_ms()
            order = core.kill_on_entry(
                SimOrder(
                    order_id=0,
                    client_order_id=link_id,
                    account=core.account,
                    kind=kind,
                    symbol=symbol,
                    side=side,
                    type=otype,
                    tif=tif,
                    price=price,
                    qty=qty,
                    status=OrderStatus.CANCELED,
                    reduce_only=reduce_only,
                    created_ms=now,
                    updated_ms=now,
                    working_ms=now,
                ),
                reason,
            )
            if self.on_killed is not None:
                self.on_killed(category, order)
        if link_id:
            core.remember_link_id(category, link_id)
        return OrderAck(orderId=core.order_id(category, order.order_id), orderLinkId=link_id)

    # -- lookups shared by cancel and queries ---------------------------------------------------

    def find(self, category: Category, symbol: str, params: Params) -> SimOrder:
        """The order named by ``orderId`` or ``orderLinkId`` (open or final); 110001/170213."""
        core = self.core
        kind = KIND_OF[category]
        order_id_text = params.opt_str("orderId")
        link_id = params.opt_str("orderLinkId")
        if order_id_text is None and link_id is None:
            raise param_error("params error: orderId or orderLinkId is required")
        engine_id = core.engine_id(category, order_id_text) if order_id_text is not None else None
        if order_id_text is not None and engine_id is None:
            raise order_not_exists(category)
        killed = core.find_killed(kind, symbol, engine_id, None if engine_id is not None else link_id)
        try:
            if engine_id is not None:
                order = core.venue.get_order(core.account, kind, symbol, order_id=engine_id)
            else:
                order = core.venue.get_order(core.account, kind, symbol, client_order_id=link_id)
        except SimReject as exc:
            if exc.reason is RejectReason.UNKNOWN_ORDER and killed is not None:
                return killed
            if exc.reason is RejectReason.UNKNOWN_ORDER:
                raise order_not_exists(category) from None
            raise from_reject(category, exc) from None
        if killed is not None and killed.created_ms > order.created_ms:
            return killed
        if link_id is not None and order.client_order_id != link_id:
            raise order_not_exists(category)
        return order

    # -- amend ------------------------------------------------------------------------------

    def amend(self, params: Params) -> OrderAck:
        """A resting Limit order's new total ``qty`` and/or ``price`` (the engine keeps the
        queue place on a size cut); 110001 when it is not open, 10001 when nothing changes."""
        core = self.core
        category = parse_category(params.opt_str("category"))
        symbol = params.req_str("symbol")
        spec = core.spec(category, symbol)
        for name in ("triggerPrice", "takeProfit", "stopLoss"):
            if params.has(name):
                raise param_error(f"params error: {name} is not supported by this venue")
        order = self.find(category, symbol, params)
        if not order.is_open:
            raise order_not_exists(category)
        qty = params.opt_decimal("qty")
        price = params.opt_decimal("price")
        if qty is None and price is None:
            raise param_error("params error: qty or price is required")
        new_qty = self._qty(category, spec, qty, quote=False) if qty is not None else None
        new_price = self._price(category, spec, price) if price is not None else None

        def attempt() -> SimOrder:
            return core.venue.amend_order(
                core.account, KIND_OF[category], symbol, order_id=order.order_id, qty=new_qty, price=new_price
            )

        pool_asset = spec.settle if category == "linear" else (spec.quote if order.side is Side.BUY else "")
        try:
            with_pooled_funds(core, KIND_OF[category], pool_asset, attempt) if pool_asset else attempt()
        except SimReject as exc:
            if exc.reason is RejectReason.UNKNOWN_ORDER:
                raise order_not_exists(category) from None
            if exc.reason is RejectReason.INVALID_ORDER:
                raise param_error(
                    "The order remains unchanged as the parameters entered match the existing ones."
                ) from None
            raise from_reject(category, exc) from None
        return OrderAck(orderId=core.order_id(category, order.order_id), orderLinkId=core.link_id_of(order))

    # -- cancel -----------------------------------------------------------------------------

    def cancel(self, params: Params) -> OrderAck:
        core = self.core
        category = parse_category(params.opt_str("category"))
        symbol = params.req_str("symbol")
        core.spec(category, symbol)
        order = self.find(category, symbol, params)
        if not order.is_open:
            raise order_not_exists(category)
        core.cancel_types[order.order_id] = "CancelByUser"
        try:
            core.venue.cancel_order(core.account, KIND_OF[category], symbol, order_id=order.order_id)
        except SimReject as exc:
            core.cancel_types.pop(order.order_id, None)
            if exc.reason is RejectReason.UNKNOWN_ORDER:
                raise order_not_exists(category) from None
            raise from_reject(category, exc) from None
        return OrderAck(orderId=core.order_id(category, order.order_id), orderLinkId=core.link_id_of(order))

    def cancel_all(self, params: Params) -> list[OrderAck]:
        core = self.core
        category = parse_category(params.opt_str("category"))
        kind = KIND_OF[category]
        symbol = params.opt_str("symbol")
        settle = params.opt_str("settleCoin")
        base = params.opt_str("baseCoin")
        if category == "linear" and symbol is None and settle is None and base is None:
            raise param_error("params error: symbol, baseCoin or settleCoin is required")
        if symbol is not None:
            core.spec(category, symbol)
        orders = [
            o
            for o in core.venue.open_orders(core.account, kind, symbol)
            if (settle is None or core.spec(category, o.symbol).settle == settle)
            and (base is None or core.spec(category, o.symbol).base == base)
        ]
        out: list[OrderAck] = []
        for order in orders:
            core.cancel_types[order.order_id] = "CancelByUser"
            try:
                core.venue.cancel_order(core.account, kind, order.symbol, order_id=order.order_id)
            except SimReject:
                core.cancel_types.pop(order.order_id, None)
                continue
            out.append(OrderAck(orderId=core.order_id(category, order.order_id), orderLinkId=core.link_id_of(order)))
        return out
