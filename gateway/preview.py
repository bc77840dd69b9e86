"""``POST /api/v1/orders/preview``: what an order would become, and what the risk gate would say.

The order is fitted to the instrument's filters with the one rounding module
(:func:`strategy_client.model.fit_order`: quantity down, price away from crossing); the risk
verdict is the runner's own gate (:class:`exchange_runner.risk.RiskGate`) rebuilt from the
runner's ``get_risk_status`` (limits, trading state, positions, open quantities, references,
equity) and the book's touch, run on the fitted order. Nothing is sent. What the rebuilt gate
cannot know: the runner's order-rate windows (the throttles start empty) and a trip that happens
between the preview and the order.
"""

from __future__ import annotations

from decimal import Decimal

from exchange_runner.risk import MemoryInputs, OpenOrderTally, RiskGate, RiskRejected
from strategy_client import RunnerApi
from strategy_client.errors import CoreApiError
from strategy_client.model import (
    Instrument,
    Order,
    OrderRequest,
    OrderType,
    Side,
    TradingState,
    check_order,
    round_price,
    round_qty,
)
from strategy_client.wire.risk import RiskStatus

from .models import FilterChange, OrderTicket, Preview, RiskVerdict
from .processor import order_request

__all__ = ["preview_order", "fit", "verdict"]


def fit(inst: Instrument, req: OrderRequest, reference: Decimal | None) -> tuple[OrderRequest, list[FilterChange], str]:
    """The order on the instrument's grid (quantity down to the step, a limit price away from
    crossing), what changed, and every filter the fitted order still breaks ("" when none)."""
    qty = round_qty(inst, req.qty, req.type)
    price = req.price
    changes = []
    if qty != req.qty:
        changes.append(FilterChange(field="qty", asked=req.qty, fitted=qty, why=f"step {inst.step_size}, rounded down"))
    if req.type is OrderType.LIMIT and req.price is not None and req.price > 0:
        price = round_price(inst, req.side, req.price)
        if price != req.price:
            way = "down" if req.side is Side.BUY else "up"
            changes.append(
                FilterChange(field="price", asked=req.price, fitted=price, why=f"tick {inst.tick_size}, rounded {way}")
            )
    problems = check_order(inst, req.type, qty, price, reference_price=reference, reduce_only=req.reduce_only)
    if qty <= 0:
        return req, changes, "; ".join(problems) or "quantity rounds to 0"
    out = OrderRequest(
        key=req.key, side=req.side, type=req.type, qty=qty, price=price, tif=req.tif, reduce_only=req.reduce_only
    )
    return out, changes, "; ".join(problems)


def verdict(
    status: RiskStatus,
    req: OrderRequest,
    open_orders: tuple[Order, ...],
    bid: Decimal | None,
    ask: Decimal | None,
) -> RiskVerdict:
    """The runner's gate, rebuilt from its status, on ``req``."""
    tally = OpenOrderTally()
    for o in open_orders:
        tally.update(o)
    keys = [i.key for i in status.instruments] or [req.key]
    inputs = MemoryInputs(
        positions={i.key: i.position for i in status.instruments},
        references={i.key: i.reference_price for i in status.instruments if i.reference_price is not None},
        bids={req.key: bid} if bid is not None else {},
        asks={req.key: ask} if ask is not None else {},
        equity=status.equity,
    )
    gate = RiskGate(status.limits, status.exchange, keys, inputs, tally=tally)
    if status.state is not TradingState.ACTIVE:
        gate.set_state(status.state, status.state_reason, force=True)
    try:
        gate.check(req, "gateway-preview")
    except RiskRejected as exc:
        return RiskVerdict(ok=False, state=status.state, limit=str(exc.breach.limit), message=str(exc))
    return RiskVerdict(ok=True, state=status.state)


async def preview_order(api: RunnerApi, runner: str, ticket: OrderTicket, timeout_s: float) -> Preview:
    req = order_request(ticket)
    inst = await api.get_instrument(req.key, timeout_s=timeout_s)
    bid = ask = reference = None
    try:
        snap = await api.get_book_snapshot(req.key, timeout_s=timeout_s)
        if snap.books:
            book = snap.books[0]
            bid = book.bids[0].price if book.bids else None
            ask = book.asks[0].price if book.asks else None
        reference = (await api.get_reference_price(req.key, timeout_s=timeout_s)).price
    except CoreApiError:
        pass  # no book yet: no notional, the gate refuses priced limits by itself
    fitted, changes, problem = fit(inst, req, reference)
    price = fitted.price if fitted.type is OrderType.LIMIT else (ask if fitted.side is Side.BUY else bid)
    notional = fitted.qty * price if price is not None else None
    try:
        status = await api.get_risk_status(req.key.exchange, timeout_s=timeout_s)
        open_orders = await api.get_open_orders(req.key.exchange, timeout_s=timeout_s)
        risk = verdict(status, fitted, open_orders, bid, ask)
    except CoreApiError as exc:
        risk = RiskVerdict(ok=False, checked=False, message=f"risk status unavailable: {exc}")
    return Preview(
        runner=runner,
        order=fitted,
        changes=tuple(changes),
        valid=not problem,
        problem=problem,
        reference=reference,
        notional=notional,
        risk=risk,
    )
