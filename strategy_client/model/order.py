"""Orders, order requests and fills."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .enums import OrderStatus, OrderType, Side, TimeInForce
from .key import InstrumentKey

__all__ = ["OrderRequest", "Order", "Fill"]

ZERO = Decimal(0)


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy asks for. ``client_id`` makes the request idempotent."""

    key: InstrumentKey
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    client_id: str = ""


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """The state of one order as the venue last told us."""

    key: InstrumentKey
    client_id: str
    venue_id: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: Decimal | None
    qty: Decimal
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    status: OrderStatus = OrderStatus.NEW
    reduce_only: bool = False
    created_ts_ms: int = 0
    updated_ts_ms: int = 0
    reject_reason: str = ""

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def is_final(self) -> bool:
        return self.status.is_final


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One execution against an order. ``fee`` is positive when paid, negative for a rebate."""

    key: InstrumentKey
    client_id: str
    venue_id: str
    trade_id: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    ts_ms: int
    realized_pnl: Decimal = ZERO
