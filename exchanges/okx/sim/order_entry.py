"""Placing, amending and canceling orders the way OKX does (reference §5, §7), for REST and
WebSocket.

``ordType`` → engine order: ``limit`` GTC, ``post_only``, ``ioc``, ``fok``, ``market`` and
(swaps) ``optimal_limit_ioc`` → MARKET. Swap ``sz`` is in contracts (``× ctVal`` → base);
a spot market buy is sized in quote currency unless ``tgtCcy=base_ccy`` (sell: base unless
``quote_ccy``). Refusals become item errors (``sCode``), except the two cases OKX accepts and
then cancels at once: a ``post_only`` that would take (``cancelSource`` 31) and a ``fok`` that
cannot fill completely (13) — those get an ``ordId`` and end ``canceled``. ``amend-order``:
``newSz`` (the new total, filled part included) and/or ``newPx`` of a live limit order, same
``ordId``; 51503 when it is no longer live.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from exchanges.sim.engine import RejectReason, SimOrder, SimReject
from strategy_client.model import OrderStatus, OrderType, Side, TimeInForce

from .api_errors import NOT_FOUND_AMEND, ItemError, from_reject, no_instrument, param_empty, param_error
from .core import OkxCore
from .instruments import OkxInstrument
from .numbers import num
from .orders import OrderMeta, ord_id
from .params import Args
from .payloads_trade import AmendResult, CancelResult, PlaceResult

__all__ = ["place", "amend", "cancel", "resolve_inst", "AutoCancelSink", "ORD_TYPES"]

_CL_ORD_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_TAG = re.compile(r"^[A-Za-z0-9]{0,16}$")
ORD_TYPES = ("market", "limit", "post_only", "fok", "ioc", "optimal_limit_ioc")
_TIF = {
    "limit": TimeInForce.GTC,
    "post_only": TimeInForce.POST_ONLY,
    "fok": TimeInForce.FOK,
    "ioc": TimeInForce.IOC,
}
_STP_MODES = ("", "cancel_maker", "cancel_taker", "cancel_both")

AutoCancelSink = Callable[[SimOrder], None]


def resolve_inst(core: OkxCore, args: Args, *, ws: bool) -> OkxInstrument:
    """The instrument of an order item: ``instId`` (REST) or ``instIdCode`` (WebSocket ops;
    OKX ignores ``instId`` there since March 2026)."""
    if ws:
        raw = args.text("instIdCode")
        if not raw:
            raise param_empty("instIdCode")
        if not raw.isdigit():
            raise param_error("instIdCode")
        inst = core.catalog.by_code(int(raw))
        if inst is None:
            raise no_instrument()
        return inst
    return core.inst(args.required("instId"))


def _client_id(args: Args) -> str:
    cid = args.text("clOrdId")
    if cid and not _CL_ORD_ID.match(cid):
        raise param_error("clOrdId")
    return cid


def _check_mode(inst: OkxInstrument, args: Args) -> str:
    td_mode = args.required("tdMode")
    if td_mode not in ("cash", "cross", "isolated", "spot_isolated"):
        raise param_error("tdMode")
    wanted = "cross" if inst.is_swap else "cash"
    if td_mode != wanted:
        # the simulated account trades spot for cash and swaps in cross margin only
        raise ItemError(51010, "You can't complete this request under your current account mode.")
    pos_side = args.text("posSide")
    if inst.is_swap:
        if pos_side not in ("", "net"):
            raise param_error("posSide")  # the account is in net mode
    elif pos_side:
        raise param_error("posSide")
    return td_mode


def _check_size(inst: OkxInstrument, sz: Decimal) -> None:
    if sz % inst.lot_sz != 0:
        raise ItemError(51121, "Order quantity must be a multiple of the lot size.")
    if sz < inst.min_sz:
        raise ItemError(51020, "Your order should meet or exceed the minimum order amount.")


def place(core: OkxCore, raw: dict[str, object], *, ws: bool, on_auto_cancel: AutoCancelSink) -> PlaceResult:
    """Place one order item; raises :class:`ItemError` when refused."""
    args = Args(raw)
    inst = resolve_inst(core, args, ws=ws)
    td_mode = _check_mode(inst, args)
    side_text = args.one_of("side", ("buy", "sell"))
    side = Side.BUY if side_text == "buy" else Side.SELL
    ord_type = args.one_of("ordType", ORD_TYPES)
    if ord_type == "optimal_limit_ioc" and not inst.is_swap:
        raise param_error("ordType")
    cl_ord_id = _client_id(args)
    tag = args.text("tag")
    if not _TAG.match(tag):
        raise param_error("tag")
    args.check(args.text("stpMode") in _STP_MODES, "stpMode")
    reduce_only = args.flag("reduceOnly")
    if reduce_only and not inst.is_swap:
        raise param_error("reduceOnly")
    sz = args.decimal("sz")
    assert sz is not None
    is_market = ord_type in ("market", "optimal_limit_ioc")
    price: Decimal | None = None
    if not is_market:
        price = args.decimal("px")
        assert price is not None
        if price % inst.tick_sz != 0:
            raise param_error("px")
    tgt_ccy = ""
    qty: Decimal | None = None
    quote_qty: Decimal | None = None
    if is_market and not inst.is_swap:
        tgt_ccy = args.text("tgtCcy") or ("quote_ccy" if side is Side.BUY else "base_ccy")
        if tgt_ccy not in ("base_ccy", "quote_ccy"):
            raise param_error("tgtCcy")
        if tgt_ccy == "quote_ccy":
            quote_qty = sz
        else:
            _check_size(inst, sz)
            qty = sz
    else:
        _check_size(inst, sz)
        qty = inst.to_base(sz)
    otype = OrderType.MARKET if is_market else OrderType.LIMIT
    tif = TimeInForce.GTC if is_market else _TIF[ord_type]
    meta = OrderMeta(ord_type=ord_type, td_mode=td_mode, tag=tag, tgt_ccy=tgt_ccy, cl_ord_id=cl_ord_id)
    now = core.now_ms()
    core.orders.pending_meta = meta  # claimed by the order's NEW event (renders see it at once)
    try:
        order = core.venue.place_order(
            core.account,
            inst.kind,
            inst.symbol,
            side,
            otype,
            tif,
            qty,
            price,
            cl_ord_id,
            reduce_only=reduce_only,
            quote_qty=quote_qty,
        )
    except SimReject as exc:
        core.orders.pending_meta = None
        auto_source = {RejectReason.POST_ONLY_WOULD_TAKE: "31", RejectReason.FOK_NOT_FILLABLE: "13"}.get(exc.reason)
        if auto_source is None or qty is None:
            raise _refusal(core, inst, exc, side, is_market) from None
        meta.cancel_source = auto_source
        auto = SimOrder(
            order_id=core.orders.new_auto_id(),
            client_order_id=cl_ord_id,
            account=core.account,
            kind=inst.kind,
            symbol=inst.symbol,
            side=side,
            type=otype,
            tif=tif,
            price=price,
            qty=qty,
            status=OrderStatus.CANCELED,
            reduce_only=reduce_only,
            created_ms=now,
            updated_ms=now,
        )
        core.orders.add_auto(auto, meta)
        on_auto_cancel(auto)
        return PlaceResult(
            clOrdId=cl_ord_id, ordId=ord_id(auto.order_id), tag=tag, ts=str(now), sCode="0", sMsg="Order placed"
        )
    core.orders.pending_meta = None
    core.orders.set_meta(order.order_id, meta)
    return PlaceResult(
        clOrdId=cl_ord_id, ordId=ord_id(order.order_id), tag=tag, ts=str(now), sCode="0", sMsg="Order placed"
    )


def _refusal(core: OkxCore, inst: OkxInstrument, exc: SimReject, side: Side, is_market: bool) -> ItemError:
    spec = core.venue.spec(inst.kind, inst.symbol)
    ref = core.venue.reference_price(inst.kind, inst.symbol)
    max_buy = (ref * spec.percent_price_up).quantize(inst.tick_sz)
    min_sell = (ref * spec.percent_price_down).quantize(inst.tick_sz)
    spend = inst.quote if (side is Side.BUY or inst.is_swap) else inst.base
    return from_reject(
        exc, settle=inst.quote, spend=spend, max_buy=num(max_buy), min_sell=num(min_sell), is_market=is_market
    )


def cancel(core: OkxCore, raw: dict[str, object], *, ws: bool) -> tuple[CancelResult, SimOrder]:
    """Cancel one order item (``ordId`` preferred over ``clOrdId``); raises :class:`ItemError`."""
    args = Args(raw)
    inst = resolve_inst(core, args, ws=ws)
    oid, cid = args.text("ordId"), args.text("clOrdId")
    if not oid and not cid:
        raise param_empty("ordId")
    if cid and not _CL_ORD_ID.match(cid):
        raise param_error("clOrdId")
    try:
        order = core.find_order(inst, oid or None, cid or None)
        if not order.is_open:
            raise SimReject(RejectReason.UNKNOWN_ORDER, "order is final")
        canceled = core.venue.cancel_order(core.account, inst.kind, inst.symbol, order_id=order.order_id)
    except SimReject as exc:
        raise from_reject(exc, settle=inst.quote, spend=inst.quote, for_cancel=True) from None
    meta = core.orders.meta(canceled.order_id)
    if meta is not None:
        meta.cancel_source = "1"
    shown = meta.cl_ord_id if meta is not None else canceled.client_order_id
    return (
        CancelResult(clOrdId=shown, ordId=ord_id(canceled.order_id), ts=str(core.now_ms()), sCode="0", sMsg=""),
        canceled,
    )


def _amend_values(inst: OkxInstrument, args: Args) -> tuple[Decimal | None, Decimal | None]:
    """``newSz`` (in the instrument's units) → engine quantity, and ``newPx``; one is needed."""
    new_sz = args.decimal("newSz", required=False)
    new_px = args.decimal("newPx", required=False)
    if new_sz is None and new_px is None:
        raise param_empty("newSz")
    if new_sz is not None:
        _check_size(inst, new_sz)
    if new_px is not None and (new_px <= 0 or new_px % inst.tick_sz != 0):
        raise param_error("newPx")
    return (inst.to_base(new_sz) if new_sz is not None else None), new_px


def amend(core: OkxCore, raw: dict[str, object], *, ws: bool) -> AmendResult:
    """Amend one live limit order (``ordId`` preferred over ``clOrdId``); raises :class:`ItemError`."""
    args = Args(raw)
    inst = resolve_inst(core, args, ws=ws)
    oid, cid = args.text("ordId"), _client_id(args)
    if not oid and not cid:
        raise param_empty("ordId")
    req_id = args.text("reqId")
    qty, price = _amend_values(inst, args)
    try:
        order = core.find_order(inst, oid or None, cid or None)
    except SimReject:
        raise ItemError(*NOT_FOUND_AMEND) from None
    try:
        core.venue.amend_order(core.account, inst.kind, inst.symbol, order_id=order.order_id, qty=qty, price=price)
    except SimReject as exc:
        if exc.reason is RejectReason.UNKNOWN_ORDER:
            raise ItemError(*NOT_FOUND_AMEND) from None
        raise _refusal(core, inst, exc, order.side, False) from None
    meta = core.orders.meta(order.order_id)
    shown = meta.cl_ord_id if meta is not None else order.client_order_id
    return AmendResult(
        clOrdId=shown, ordId=ord_id(order.order_id), ts=str(core.now_ms()), reqId=req_id, sCode="0", sMsg=""
    )
