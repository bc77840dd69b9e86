"""Orders, order requests and fills.

An :class:`OrderRequest`'s quantity and price are checked whenever one is made (constructed,
replaced or decoded): they must be usable numbers (:func:`order_number_problem`), else
:class:`InvalidOrderRequest` (a ``ValueError``) — msgspec turns it into a ``ValidationError`` at
decode, which the runner answers with ``invalid_params``; the request never reaches a venue.
Values that are not ``Decimal`` (a string or an int a caller passed untyped) are left to
``strategy_client.coerce.check_order``, which converts them and then builds a checked request.

The client id must be one every venue accepts (:data:`CLIENT_ID_PATTERN`, at most
:data:`MAX_CLIENT_ID_LEN` characters; empty = "assign one"): enforced at decode (the field's
``msgspec.Meta``) and by ``check_order`` before the client library sends; not at construction,
so that each venue adapter's own check stays reachable (and tested) as a second line.
:func:`new_client_id` mints one in that alphabet (the client library and the runner both use it).
"""

from __future__ import annotations

import re
import secrets
import time
from decimal import Decimal
from typing import Annotated

import msgspec

from .enums import OrderStatus, OrderType, Side, TimeInForce
from .key import InstrumentKey
from .refusal import RejectCode

__all__ = [
    "OrderRequest",
    "Order",
    "Fill",
    "InvalidOrderRequest",
    "order_number_problem",
    "client_id_problem",
    "new_client_id",
    "CLIENT_ID_PATTERN",
    "MAX_CLIENT_ID_LEN",
    "MAX_DIGITS",
    "MIN_EXPONENT",
    "MAX_EXPONENT",
]

ZERO = Decimal(0)

#: What Binance (spot ``^[a-zA-Z0-9-_]{1,36}$``), Bybit (``orderLinkId`` ≤ 36 of ``[A-Za-z0-9_-]``)
#: and OKX (through ``exchanges/okx/client_ids.py``'s escaping) all take. OKX also needs the id
#: to fit 32 characters once each ``-``/``_`` is escaped to two; the runner's own ids do.
MAX_CLIENT_ID_LEN = 36
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{0,36}$"
_CLIENT_ID_RE = re.compile(CLIENT_ID_PATTERN)
#: Significant digits a quantity or price may carry (Decimal arithmetic keeps 28).
MAX_DIGITS = 32
#: 10**MIN_EXPONENT <= quantity, price < 10**(MAX_EXPONENT + 1)
MIN_EXPONENT = -18
MAX_EXPONENT = 17

ClientId = Annotated[str, msgspec.Meta(pattern=CLIENT_ID_PATTERN, max_length=MAX_CLIENT_ID_LEN)]


class InvalidOrderRequest(ValueError):
    """An order request with a number or a client id no venue would take."""


def order_number_problem(value: Decimal) -> str | None:
    """Why ``value`` cannot be an order quantity or price, or None when it can: it must be
    finite, positive, at most :data:`MAX_DIGITS` significant digits, and between
    ``1e-18`` and ``1e18`` (exclusive)."""
    if not value.is_finite():
        return "must be a finite number"
    if value <= 0:
        return "must be a positive number"
    if len(value.as_tuple().digits) > MAX_DIGITS:
        return f"has more than {MAX_DIGITS} digits"
    if not MIN_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
        return f"is out of range (1e{MIN_EXPONENT} to 1e{MAX_EXPONENT + 1})"
    return None


def client_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a client order id, or None when it can ("" = let the runner pick)."""
    if len(value) > MAX_CLIENT_ID_LEN:
        return f"is {len(value)} characters (at most {MAX_CLIENT_ID_LEN})"
    if not _CLIENT_ID_RE.match(value):
        return "may only hold A-Z a-z 0-9 _ -"
    return None


def new_client_id(prefix: str = "tb") -> str:
    """≤ 36 characters of [A-Za-z0-9-], time-ordered and random: ``tb-<ms hex>-<10 hex>``."""
    return f"{prefix}-{time.time_ns() // 1_000_000:x}-{secrets.token_hex(5)}"


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy asks for. ``client_id`` makes the request idempotent."""

    key: InstrumentKey
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    client_id: ClientId = ""

    def __post_init__(self) -> None:
        # the hot path: one submit per call; a few comparisons, no allocation when valid
        qty = self.qty
        if isinstance(qty, Decimal):
            problem = order_number_problem(qty)
            if problem is not None:
                raise InvalidOrderRequest(f"order.qty {problem}, got {_shown(qty)}")
        price = self.price
        if isinstance(price, Decimal):
            problem = order_number_problem(price)
            if problem is not None:
                raise InvalidOrderRequest(f"order.price {problem}, got {_shown(price)}")


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
    #: why it was refused, in the one vocabulary (set by the runner when it learns it; None when
    #: not refused or when the venue's report says no more than "rejected")
    reject_code: RejectCode | None = None

    @classmethod
    def from_request(
        cls,
        request: OrderRequest,
        client_id: str,
        *,
        status: OrderStatus,
        created_ts_ms: int,
        updated_ts_ms: int | None = None,
        reject_reason: str = "",
        reject_code: RejectCode | None = None,
    ) -> Order:
        """The order ``request`` asked for, before (or without) any venue answer: nothing filled,
        no venue id — e.g. PENDING as it is sent, or REJECTED when it certainly was not placed."""
        return cls(
            key=request.key,
            client_id=client_id,
            venue_id="",
            side=request.side,
            type=request.type,
            tif=request.tif,
            price=request.price,
            qty=request.qty,
            status=status,
            reduce_only=request.reduce_only,
            created_ts_ms=created_ts_ms,
            updated_ts_ms=created_ts_ms if updated_ts_ms is None else updated_ts_ms,
            reject_reason=reject_reason,
            reject_code=reject_code,
        )

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
