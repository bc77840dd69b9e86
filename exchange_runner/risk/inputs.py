"""What the gate reads: a small read-only protocol the runner implements from its actors' state.

The gate never asks an actor anything (no awaits on the order path): the runner hands it an
object whose methods read state the runner's actors already hold, synchronously, on the event
loop thread the order actor runs on. Every method must be cheap (a dict lookup) and must not
allocate much; the gate calls a few of them per instrument per order.

:class:`OpenOrderTally` keeps open order quantities per instrument and side, updated in O(1) by
the order actor each time it stores an order; :class:`MemoryInputs` is a complete
implementation over plain dicts (tests, the benchmark, and a runner that pushes its state in).

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

    def open_qty(self, key: InstrumentKey, side: Side) -> Decimal:
        """Remaining quantity of open and unresolved (PENDING/UNKNOWN) orders on ``key`` and ``side``."""
        ...

    def open_order_count(self) -> int:
        """Open and unresolved orders, account-wide (this runner)."""
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

    __slots__ = ("_orders", "_buy", "_sell")

    def __init__(self) -> None:
        self._orders: dict[str, tuple[InstrumentKey, Side, Decimal]] = {}
        self._buy: dict[InstrumentKey, Decimal] = {}
        self._sell: dict[InstrumentKey, Decimal] = {}

    def update(self, order: Order) -> None:
        cid = order.client_id
        prev = self._orders.pop(cid, None)
        if prev is not None:
            key, side, qty = prev
            book = self._buy if side is Side.BUY else self._sell
            left = book[key] - qty
            if left:
                book[key] = left
            else:
                del book[key]
        if order.status in _COUNTED:
            remaining = order.qty - order.filled_qty
            if remaining > 0:
                book = self._buy if order.side is Side.BUY else self._sell
                book[order.key] = book.get(order.key, ZERO) + remaining
                self._orders[cid] = (order.key, order.side, remaining)

    def forget(self, client_id: str) -> None:
        """Drop an order (e.g. evicted by the order book); same as a final update."""
        prev = self._orders.pop(client_id, None)
        if prev is not None:
            key, side, qty = prev
            book = self._buy if side is Side.BUY else self._sell
            left = book[key] - qty
            if left:
                book[key] = left
            else:
                del book[key]

    def open_qty(self, key: InstrumentKey, side: Side) -> Decimal:
        return (self._buy if side is Side.BUY else self._sell).get(key, ZERO)

    def open_order_count(self) -> int:
        return len(self._orders)


class MemoryInputs:
    """:class:`RiskInputs` over plain dicts the owner keeps current (tests, benchmark, push-style runners)."""

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

    def open_qty(self, key: InstrumentKey, side: Side) -> Decimal:
        tally = self.tally
        return (tally._buy if side is Side.BUY else tally._sell).get(key, ZERO)

    def open_order_count(self) -> int:
        return len(self.tally._orders)

    def equity(self) -> Decimal | None:
        return self.account_equity
