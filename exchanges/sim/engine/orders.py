"""Order and fill records and the order state machine.

``SimOrder`` is mutable inside the engine; dialects read it (or the snapshots carried by
``OrderChanged`` events) and never write to it.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from strategy_client.model import MarketKind, OrderStatus, OrderType, Side, TimeInForce

__all__ = ["SimFill", "SimOrder", "ALLOWED_TRANSITIONS", "IllegalTransition", "ExpireReason"]

ZERO = Decimal(0)


class ExpireReason(StrEnum):
    """Why an order ended EXPIRED (``SimOrder.expire_reason``; NONE when it did not)."""

    NONE = ""
    IOC_REMAINDER = "IOC_REMAINDER"  # IOC / MARKET leftover (Binance futures er=2)
    SELF_TRADE = "SELF_TRADE"  # resting order of the taker's own account (STP expire maker, er=1)
    REDUCE_ONLY = "REDUCE_ONLY"  # reduce-only order knocked out: position closed (er=4)
    BOOK_EXHAUSTED = "BOOK_EXHAUSTED"  # MARKET order met an empty book side


class SimFill(msgspec.Struct, kw_only=True, gc=False):
    """One execution of one order. ``fee`` >= 0 is paid in ``fee_asset``; ``quote_qty`` = price x qty."""

    trade_id: int
    order_id: int
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    ts_ms: int
    realized_pnl: Decimal = ZERO


class SimOrder(msgspec.Struct, kw_only=True, gc=False):  # no cycles: not tracked by the GC
    """An order as the venue holds it; every order, final ones included, stays queryable.

    ``qty`` is the base quantity; for a spot MARKET order given by ``quote_qty`` it is the
    quantity that amount trades on the book at placement (the order then fills exactly that).
    ``avg_price`` is ``cum_quote / executed_qty`` (0 before the first fill).
    """

    order_id: int
    client_order_id: str
    account: str
    kind: MarketKind
    symbol: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: Decimal | None
    qty: Decimal
    quote_qty: Decimal | None = None
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    avg_price: Decimal = ZERO
    status: OrderStatus = OrderStatus.NEW
    reduce_only: bool = False
    created_ms: int = 0
    updated_ms: int = 0
    working_ms: int = 0
    fills: list[SimFill] = msgspec.field(default_factory=list)
    expire_reason: ExpireReason = ExpireReason.NONE

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status is OrderStatus.NEW or self.status is OrderStatus.PARTIALLY_FILLED

    def snapshot(self) -> SimOrder:
        """An independent copy (the fills list is copied too)."""
        return msgspec.structs.replace(self, fills=list(self.fills))

    def move_to(self, status: OrderStatus, ts_ms: int) -> None:
        """Change status, enforcing the venue's state machine."""
        if status not in ALLOWED_TRANSITIONS[self.status]:
            raise IllegalTransition(f"order {self.order_id}: {self.status.value} -> {status.value}")
        self.status = status
        self.updated_ms = ts_ms

    def record_fill(self, fill: SimFill) -> None:
        """Add a fill and keep the cumulative fields consistent with the fills."""
        self.fills.append(fill)
        self.executed_qty += fill.qty
        self.cum_quote += fill.quote_qty
        self.avg_price = self.cum_quote / self.executed_qty
        self.updated_ms = fill.ts_ms


class IllegalTransition(AssertionError):
    """An engine bug: a status change the venue never makes."""


_TRADING = frozenset(
    {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
)

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: _TRADING,
    OrderStatus.PARTIALLY_FILLED: _TRADING,
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.PENDING: frozenset(),
}
