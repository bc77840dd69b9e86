"""OrderTracker: the strategy's own orders, followed from execution events to a final state.

Fills arrive as ``exec`` events (live or paper) and are booked exactly once (the ledger dedupes
by trade id). A placement reply gives status only. When an order is final but events did not
bring all its fills (a lost event, a runner restart), the missing quantity is booked from the
order's cumulative average price, marked ``reconciled`` in its trade id, with the taker fee
estimated — never dropped, never double counted: a real fill event that arrives after such a
booking is booked only for what the venue's cumulative filled quantity shows beyond what is
already booked (``covered`` counts the rest).

An order's fate comes from the venue only (events, or the order as the runner reports it): a
status of ``pending``/``unknown`` keeps it open here; :meth:`OrderTracker.fail` is for orders
known never to have reached the venue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

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
    retryable: bool = True  # a failure that sending again (a new order) may fix
    refused: bool = False  # refused before or by the venue: nothing was placed, retrying will not help
    real_qty: Decimal = ZERO  # quantity of the fill events seen (not reconciled bookings)
    trade_ids: set[str] = field(default_factory=set)
    sent_mono: float = 0.0  # time.monotonic() at the send
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def failed(self) -> bool:
        """Final, nothing filled, and an error says why (refused, or never reached the venue)."""
        return self.done.is_set() and bool(self.error) and self.filled_qty <= 0

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
        self.covered = 0  # fill events already booked by a reconcile (not booked again)

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
        if fill is not None and fill.qty > 0:
            self._book(tracked, order, fill)
        prev = tracked.order
        if prev is None or _newer(order, prev):
            tracked.order = order
        self._maybe_done(tracked)
        return tracked

    def _book(self, tracked: TrackedOrder, order: Order, fill: Fill) -> None:
        if fill.trade_id and fill.trade_id in tracked.trade_ids:
            return  # a duplicate event: the ledger would refuse it too
        reconciled = ":reconciled:" in fill.trade_id
        if not reconciled:
            if fill.trade_id:
                tracked.trade_ids.add(fill.trade_id)
            # what the venue has filled up to and including this fill
            cumulative = max(order.filled_qty, tracked.real_qty + fill.qty)
            tracked.real_qty += fill.qty
            room = cumulative - tracked.filled_qty
            if room <= 0:
                self.covered += 1
                return  # already booked from the order's totals by a reconcile
            if room < fill.qty:  # partly booked by a reconcile: book the rest of this fill
                share = room / fill.qty
                fill = msgspec.structs.replace(fill, qty=room, fee=fill.fee * share, trade_id=f"{fill.trade_id}:rest")
                self.covered += 1
        if self.on_fill(tracked, fill):
            tracked.filled_qty += fill.qty
            tracked.filled_notional += fill.qty * fill.price

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

    def book_missing(
        self, tracked: TrackedOrder, now_ms: int, fee_rate: Decimal, fee_asset: str, *, fee_in_base: bool = False
    ) -> Decimal:
        """Book the fills a final order shows beyond the booked ones; returns the quantity booked.

        The fee is estimated at ``fee_rate``: of the quantity when ``fee_in_base`` (a buy whose
        fee comes out of the base received; ``fee_asset`` is then the base asset), else of the
        notional."""
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
            fee=missing * fee_rate if fee_in_base else missing * price * fee_rate,
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
