"""What the gate reads: a small read-only protocol the runner implements from its actors' state.

The gate never asks an actor anything (no awaits on the order path): the runner hands it an
object whose methods read state the runner's other actors already hold (positions, prices,
equity), synchronously, on the event loop thread the order actor runs on. Every method must be
cheap (a dict lookup) and must not allocate much; the gate calls two of them per instrument per
order when leverage or concentration is on.

Open orders are the order actor's own state, and the order actor owns the gate: they are not
read through the protocol but kept in the gate's :class:`OpenOrderTally` (``gate.tally``), which
the order actor updates in O(1) with every order state it stores. :class:`MemoryInputs` is a
complete implementation over plain dicts (tests, the benchmark); ``views.StateInputs`` is the
runner's, over its actors' state objects.

Realised PnL is not read but pushed (:meth:`RiskGate.record_realized`): each amount carries its
fill's time, so a fill lands in the trading day it happened in, exactly, even around the day
boundary.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from strategy_client.model import InstrumentKey, Order, OrderStatus, Side

__all__ = ["RiskInputs", "OpenOrderTally", "MemoryInputs"]

ZERO = Decimal(0)
_COUNTED = frozenset(
    {OrderStatus.PENDING, OrderStatus.UNKNOWN, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED},
)


class RiskInputs(Protocol):
    def position(self, key: InstrumentKey) -> Decimal:
        """Signed position in base units: the perp's size; for spot, the base asset's total balance."""
        ...

    def reference_price(self, key: InstrumentKey) -> Decimal | None:
        """A fresh reference price (perp: mark; spot: book mid); None if none or stale."""
        ...

    def touch_price(self, key: InstrumentKey, side: Side) -> Decimal | None:
        """The price a market order of ``side`` meets first: best ask for BUY, best bid for SELL; None if stale."""
        ...

    def equity(self) -> Decimal | None:
        """Account equity in the quote currency (margin balance + spot holdings at reference); None if unknown."""
        ...


class OpenOrderTally:
    """Remaining open quantity per (instrument, side) and the open order count, kept in O(1).

    Call :meth:`update` with every order state the order actor stores (the PENDING order it is
    about to send, every merged update after): an order counts while PENDING, UNKNOWN, NEW or
    PARTIALLY_FILLED — an unresolved order may be live at the venue, so it counts — and stops
    counting when final.
    """

    __slots__ = ("_orders", "_cells")

    def __init__(self) -> None:
        self._orders: dict[str, tuple[list[Decimal], int, Decimal]] = {}
        self._cells: dict[InstrumentKey, list[Decimal]] = {}

    def cell(self, key: InstrumentKey) -> list[Decimal]:
        """``[open buy qty, open sell qty]`` of ``key``, a list kept current in place: the gate
        holds the cells of its instruments and reads them without a lookup."""
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [ZERO, ZERO]
        return cell

    def update(self, order: Order) -> None:
        cid = order.client_id
        prev = self._orders.pop(cid, None)
        if prev is not None:
            cell, i, qty = prev
            cell[i] -= qty
        if order.status in _COUNTED:
            remaining = order.qty - order.filled_qty
            if remaining > 0:
                cell = self.cell(order.key)
                i = 0 if order.side is Side.BUY else 1
                cell[i] += remaining
                self._orders[cid] = (cell, i, remaining)

    def forget(self, client_id: str) -> None:
        """Drop an order (e.g. evicted by the order book); same as a final update."""
        prev = self._orders.pop(client_id, None)
        if prev is not None:
            cell, i, qty = prev
            cell[i] -= qty

    def open_qty(self, key: InstrumentKey, side: Side) -> Decimal:
        cell = self._cells.get(key)
        return (cell[0] if side is Side.BUY else cell[1]) if cell is not None else ZERO

    def open_order_count(self) -> int:
        return len(self._orders)


class MemoryInputs:
    """:class:`RiskInputs` over plain dicts the owner keeps current (tests, benchmark, push-style runners).

    ``tally`` is only carried along for the convenience of tests and the benchmark (they hand it
    to the gate); the gate reads open orders from its own tally, not through the inputs."""

    def __init__(
        self,
        *,
        positions: dict[InstrumentKey, Decimal] | None = None,
        references: dict[InstrumentKey, Decimal] | None = None,
        bids: dict[InstrumentKey, Decimal] | None = None,
        asks: dict[InstrumentKey, Decimal] | None = None,
        equity: Decimal | None = None,
        tally: OpenOrderTally | None = None,
    ) -> None:
        self.positions = positions if positions is not None else {}
        self.references = references if references is not None else {}
        self.bids = bids if bids is not None else {}
        self.asks = asks if asks is not None else {}
        self.account_equity = equity
        self.tally = tally if tally is not None else OpenOrderTally()

    def position(self, key: InstrumentKey) -> Decimal:
        return self.positions.get(key, ZERO)

    def reference_price(self, key: InstrumentKey) -> Decimal | None:
        return self.references.get(key)

    def touch_price(self, key: InstrumentKey, side: Side) -> Decimal | None:
        return (self.asks if side is Side.BUY else self.bids).get(key)

    def equity(self) -> Decimal | None:
        return self.account_equity
