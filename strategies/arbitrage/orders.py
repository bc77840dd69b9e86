"""OrderTracker: the strategy's own orders, followed from execution events to a final state.

Fills arrive as ``exec`` events (live or paper) and are booked exactly once (the ledger dedupes
by trade id). A placement reply gives status only. When an order is final but events did not
bring all its fills (a lost event, a runner restart), the missing quantity is booked from the
order's cumulative average price, marked ``reconciled`` in its trade id, with the taker fee
estimated — never dropped, never double counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from strategy_client.model import Fill, Order, OrderStatus

from .execution import LegOrder

__all__ = ["TrackedOrder", "OrderTracker"]

ZERO = Decimal(0)


@dataclass(slots=True)
class TrackedOrder:
    position_id: str
    leg_order: LegOrder
    order: Order | None = None
    filled_qty: Decimal = ZERO  # booked in the ledger
    filled_notional: Decimal = ZERO
    reconciled_fills: int = 0
    error: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def client_id(self) -> str:
        return self.leg_order.request.client_id

    @property
    def final(self) -> bool:
        return self.order is not None and self.order.status.is_final

    @property
    def missing_qty(self) -> Decimal:
        """Filled at the venue but not yet booked."""
        return (self.order.filled_qty - self.filled_qty) if self.order is not None else ZERO


FillSink = Callable[[TrackedOrder, Fill], bool]


class OrderTracker:
    """``on_fill(tracked, fill) -> booked?`` books one fill (the engine's ledger + machine)."""

    def __init__(self, on_fill: FillSink) -> None:
        self.on_fill = on_fill
        self.orders: dict[str, TrackedOrder] = {}
        self.foreign_events = 0

    def track(self, position_id: str, leg_order: LegOrder) -> TrackedOrder:
        tracked = TrackedOrder(position_id=position_id, leg_order=leg_order)
        self.orders[tracked.client_id] = tracked
        return tracked

    def live(self) -> list[TrackedOrder]:
        return [t for t in self.orders.values() if not t.done.is_set()]

    def on_update(self, order: Order, fill: Fill | None) -> TrackedOrder | None:
        """An execution event (or a reply / query result when ``fill`` is None)."""
        tracked = self.orders.get(order.client_id)
        if tracked is None:
            self.foreign_events += 1
            return None
        if fill is not None and fill.qty > 0 and self.on_fill(tracked, fill):
            tracked.filled_qty += fill.qty
            tracked.filled_notional += fill.qty * fill.price
        prev = tracked.order
        if prev is None or _newer(order, prev):
            tracked.order = order
        self._maybe_done(tracked)
        return tracked

    def fail(self, tracked: TrackedOrder, reason: str, order: Order | None = None) -> None:
        """Refused before reaching the venue (or known never to have reached it)."""
        tracked.error = reason
        if order is not None:
            tracked.order = order
        elif tracked.order is None or not tracked.order.status.is_final:
            req = tracked.leg_order.request
            tracked.order = Order(
                key=req.key,
                client_id=req.client_id,
                venue_id="",
                side=req.side,
                type=req.type,
                tif=req.tif,
                price=req.price,
                qty=req.qty,
                status=OrderStatus.REJECTED,
                reject_reason=reason,
            )
        self._maybe_done(tracked)

    def book_missing(self, tracked: TrackedOrder, now_ms: int, fee_rate: Decimal, fee_asset: str) -> Decimal:
        """Book the fills a final order shows beyond the booked ones; returns the quantity booked."""
        order = tracked.order
        missing = tracked.missing_qty
        if order is None or not order.status.is_final or missing <= 0 or order.avg_price is None:
            return ZERO
        total_notional = order.avg_price * order.filled_qty
        price = (total_notional - tracked.filled_notional) / missing
        if price <= 0:
            price = order.avg_price
        tracked.reconciled_fills += 1
        fill = Fill(
            key=order.key,
            client_id=order.client_id,
            venue_id=order.venue_id,
            trade_id=f"{order.client_id}:reconciled:{tracked.reconciled_fills}",
            side=order.side,
            price=price,
            qty=missing,
            fee=missing * price * fee_rate,
            fee_asset=fee_asset,
            is_maker=False,
            ts_ms=now_ms,
        )
        self.on_update(order, fill)
        return missing

    def _maybe_done(self, tracked: TrackedOrder) -> None:
        if tracked.final and tracked.missing_qty <= 0:
            tracked.done.set()


def _newer(new: Order, old: Order) -> bool:
    """Order states only move forward: more filled, or final after open."""
    if old.status.is_final and not new.status.is_final:
        return False
    return new.filled_qty >= old.filled_qty
