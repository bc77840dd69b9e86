"""Trade REST endpoints: place/cancel (single and batch), order queries, fills (reference §5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from exchanges.sim.engine import SimOrder, SimReject
from strategy_client.model import MarketKind

from .api_errors import ItemError, OkxApiError, from_reject, param_error
from .core import OkxCore
from .instruments import OkxInstrument
from .order_entry import AutoCancelSink, amend, cancel, place
from .orders import AUTO_BASE, ORD_BASE
from .params import Args
from .payloads_trade import AmendResult, CancelResult, PlaceResult
from .render import fill_item, ord_type_of, order_item, order_state
from .rest import Call, Endpoint, OpResult

__all__ = ["TradeRest", "place_items", "amend_items", "cancel_items", "MAX_BATCH"]

_V5 = "/api/v5/trade"
MAX_BATCH = 20
_STATES = ("live", "partially_filled", "filled", "canceled", "mmp_canceled")
_INST_TYPES = {"SPOT": MarketKind.SPOT, "SWAP": MarketKind.PERP}
_SEVEN_DAYS_MS = 7 * 86_400_000


def _place_error(raw: dict[str, object], err: ItemError, now: int) -> PlaceResult:
    return PlaceResult(
        clOrdId=str(raw.get("clOrdId") or ""),
        ordId="",
        tag=str(raw.get("tag") or ""),
        ts=str(now),
        sCode=str(err.code),
        sMsg=err.msg,
        subCode=err.sub_code,
    )


def _each(
    items: list[dict[str, object]],
    op: Callable[[dict[str, object]], object],
    refused: Callable[[dict[str, object], ItemError], object],
) -> OpResult:
    """``op`` on every item; a refused item gets ``refused``'s result in its place."""
    out: list[object] = []
    ok = 0
    for raw in items:
        try:
            out.append(op(raw))
            ok += 1
        except ItemError as err:
            out.append(refused(raw, err))
    return OpResult(out, ok)


def place_items(core: OkxCore, items: list[dict[str, object]], *, ws: bool, sink: AutoCancelSink) -> OpResult:
    return _each(
        items,
        lambda raw: place(core, raw, ws=ws, on_auto_cancel=sink),
        lambda raw, err: _place_error(raw, err, core.now_ms()),
    )


def amend_items(core: OkxCore, items: list[dict[str, object]], *, ws: bool) -> OpResult:
    def refused(raw: dict[str, object], err: ItemError) -> AmendResult:
        return AmendResult(
            clOrdId=str(raw.get("clOrdId") or ""),
            ordId=str(raw.get("ordId") or ""),
            ts=str(core.now_ms()),
            reqId=str(raw.get("reqId") or ""),
            sCode=str(err.code),
            sMsg=err.msg,
        )

    return _each(items, lambda raw: amend(core, raw, ws=ws), refused)


def cancel_items(core: OkxCore, items: list[dict[str, object]], *, ws: bool) -> OpResult:
    def refused(raw: dict[str, object], err: ItemError) -> CancelResult:
        return CancelResult(
            clOrdId=str(raw.get("clOrdId") or ""),
            ordId=str(raw.get("ordId") or ""),
            ts=str(core.now_ms()),
            sCode=str(err.code),
            sMsg=err.msg,
        )

    return _each(items, lambda raw: cancel(core, raw, ws=ws)[0], refused)


def _ord_num(order: SimOrder) -> int:
    return order.order_id if order.order_id >= AUTO_BASE else ORD_BASE + order.order_id


class TradeRest:
    def __init__(self, core: OkxCore, on_auto_cancel: AutoCancelSink) -> None:
        self.core = core
        self._sink = on_auto_cancel

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("POST", f"{_V5}/order", True, "order", self.place, per_inst=True, order_op=True, new_orders=True),
            Endpoint(
                "POST",
                f"{_V5}/batch-orders",
                True,
                "batch-orders",
                self.batch_place,
                per_inst=True,
                order_op=True,
                weight=_batch_weight,
                new_orders=True,
            ),
            Endpoint(
                "POST", f"{_V5}/amend-order", True, "amend", self.amend, per_inst=True, order_op=True, new_orders=True
            ),
            Endpoint(
                "POST",
                f"{_V5}/amend-batch-orders",
                True,
                "batch-amend",
                self.batch_amend,
                per_inst=True,
                order_op=True,
                weight=_batch_weight,
                new_orders=True,
            ),
            Endpoint("POST", f"{_V5}/cancel-order", True, "cancel", self.cancel, per_inst=True, order_op=True),
            Endpoint(
                "POST",
                f"{_V5}/cancel-batch-orders",
                True,
                "batch-cancel",
                self.batch_cancel,
                per_inst=True,
                order_op=True,
                weight=_batch_weight,
            ),
            Endpoint("GET", f"{_V5}/order", True, "order-query", self.get_order, per_inst=True),
            Endpoint("GET", f"{_V5}/orders-pending", True, "orders-pending", self.pending),
            Endpoint("GET", f"{_V5}/orders-history", True, "orders-history", self.history),
            Endpoint("GET", f"{_V5}/orders-history-archive", True, "orders-history", self.history),
            Endpoint("GET", f"{_V5}/fills", True, "fills", self.fills),
            Endpoint("GET", f"{_V5}/fills-history", True, "fills", self.fills),
        ]

    # -- order operations -------------------------------------------------------------------

    def place(self, call: Call) -> OpResult:
        args = call.args()
        return place_items(self.core, [dict(args.values)], ws=False, sink=self._sink)

    def batch_place(self, call: Call) -> OpResult:
        return place_items(self.core, call.items(MAX_BATCH), ws=False, sink=self._sink)

    def amend(self, call: Call) -> OpResult:
        return amend_items(self.core, [dict(call.args().values)], ws=False)

    def batch_amend(self, call: Call) -> OpResult:
        return amend_items(self.core, call.items(MAX_BATCH), ws=False)

    def cancel(self, call: Call) -> OpResult:
        args = call.args()
        return cancel_items(self.core, [dict(args.values)], ws=False)

    def batch_cancel(self, call: Call) -> OpResult:
        return cancel_items(self.core, call.items(MAX_BATCH), ws=False)

    # -- queries ----------------------------------------------------------------------------

    def get_order(self, call: Call) -> list[object]:
        args = call.args()
        inst = self.core.inst(args.required("instId"))
        oid, cid = args.text("ordId"), args.text("clOrdId")
        if not oid and not cid:
            raise OkxApiError(50014, "Parameter ordId can not be empty.", 400)
        try:
            order = self.core.find_order(inst, oid or None, cid or None)
        except SimReject as exc:
            err = from_reject(exc, settle=inst.quote, spend=inst.quote)
            raise OkxApiError(err.code, err.msg, 200) from None
        return [order_item(self.core, order)]

    def _scope(self, args: Args, *, type_required: bool) -> list[OkxInstrument]:
        inst_type = args.required("instType") if type_required else args.text("instType")
        if inst_type and inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise param_error("instType")
        inst_id = args.text("instId")
        insts = [i for i in self.core.catalog.all() if not inst_type or i.inst_type == inst_type]
        if inst_id:
            inst = self.core.inst(inst_id)
            insts = [i for i in insts if i is inst]
        return insts

    def _page(self, orders: list[SimOrder], args: Args, limit_max: int) -> list[object]:
        ord_type = args.text("ordType")
        state = args.text("state")
        if state and state not in _STATES:
            raise param_error("state")
        after = args.integer("after", 0, low=0, high=2**63 - 1)
        before = args.integer("before", 0, low=0, high=2**63 - 1)
        limit = args.integer("limit", 100, low=1, high=limit_max)
        rows = [
            o
            for o in orders
            if (not ord_type or ord_type_of(o, self.core.meta(o)) in ord_type.split(","))
            and (not state or order_state(o) == state)
            and (not after or _ord_num(o) < after)
            and (not before or _ord_num(o) > before)
        ]
        rows.sort(key=_ord_num, reverse=True)
        if before and not after:
            rows = rows[-limit:]
        return [order_item(self.core, o) for o in rows[:limit]]

    def pending(self, call: Call) -> list[object]:
        args = call.args()
        orders: list[SimOrder] = []
        for inst in self._scope(args, type_required=False):
            orders += self.core.venue.open_orders(self.core.account, inst.kind, inst.symbol)
        return self._page(orders, args, 100)

    def _final_orders(self, insts: Iterable[OkxInstrument], since_ms: int) -> list[SimOrder]:
        core = self.core
        out: list[SimOrder] = []
        for inst in insts:
            for oid in reversed(core.orders.history.get((inst.kind, inst.symbol), [])):
                order = core.orders.auto(oid) if oid >= AUTO_BASE else None
                if order is None and oid < AUTO_BASE:
                    try:
                        order = core.venue.get_order(core.account, inst.kind, inst.symbol, order_id=oid)
                    except SimReject:
                        continue
                if order is None:
                    continue
                if order.created_ms < since_ms:
                    break
                if not order.is_open:
                    out.append(order)
        return out

    def history(self, call: Call) -> list[object]:
        args = call.args()
        insts = self._scope(args, type_required=True)
        return self._page(self._final_orders(insts, call.now_ms - _SEVEN_DAYS_MS), args, 100)

    def fills(self, call: Call) -> list[object]:
        args = call.args()
        core = self.core
        insts = self._scope(args, type_required=False)
        want_ord = args.text("ordId")
        limit = args.integer("limit", 100, low=1, high=100)
        after = args.integer("after", 0, low=0, high=2**63 - 1)
        before = args.integer("before", 0, low=0, high=2**63 - 1)
        items = []
        for inst in insts:
            for fill in core.venue.trades(core.account, inst.kind, inst.symbol, limit=10_000):
                try:
                    order = core.venue.get_order(core.account, inst.kind, inst.symbol, order_id=fill.order_id)
                except SimReject:
                    continue
                item = fill_item(core, order, fill)
                if want_ord and item.ordId != want_ord:
                    continue
                bill = int(item.billId)
                if (after and bill >= after) or (before and bill <= before):
                    continue
                items.append(item)
        items.sort(key=lambda i: (int(i.ts), int(i.billId)), reverse=True)
        return list(items[:limit])


def _batch_weight(call: Call) -> int:
    return len(call.body) if isinstance(call.body, list) else 1
