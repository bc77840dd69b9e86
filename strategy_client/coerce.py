"""Arguments as users write them → the typed values the wire carries.

Every public call accepts an :class:`InstrumentKey` or its text form (``"binance:perp:BTCUSDT"``),
an :class:`Exchange` or its name (``"binance"``), enum values or their strings. Anything else
raises :class:`InvalidRequest` naming the argument, before a byte is sent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeAlias, TypeVar

import msgspec

from .errors import InvalidRequest
from .model import (
    Exchange,
    InstrumentKey,
    InvalidInstrumentKey,
    MarketKind,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from .model.order import client_id_problem, new_client_id, order_number_problem

__all__ = [
    "KeyLike",
    "ExchangeLike",
    "as_key",
    "as_exchange",
    "as_enum",
    "as_market",
    "check_order",
]

KeyLike: TypeAlias = InstrumentKey | str
ExchangeLike: TypeAlias = Exchange | str

E = TypeVar("E", bound=StrEnum)


def as_key(value: KeyLike, field: str = "key") -> InstrumentKey:
    if isinstance(value, InstrumentKey):
        return value
    if isinstance(value, str):
        try:
            return InstrumentKey.parse(value)
        except InvalidInstrumentKey as exc:
            raise InvalidRequest(f"{field}: {exc}") from None
    raise InvalidRequest(f"{field}: expected an InstrumentKey or 'exchange:kind:SYMBOL', got {type(value).__name__}")


def as_enum(cls: type[E], value: E | str, field: str) -> E:
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls(value.lower())
        except ValueError:
            pass
    known = ", ".join(m.value for m in cls)
    raise InvalidRequest(f"{field}: {value!r} is not one of {known}")


def as_exchange(value: ExchangeLike, field: str = "exchange") -> Exchange:
    return as_enum(Exchange, value, field)


def as_market(value: MarketKind | str | None, field: str = "kind") -> MarketKind | None:
    return None if value is None else as_enum(MarketKind, value, field)


def _decimal(value: object, field: str, *, optional: bool = False) -> Decimal | None:
    if value is None and optional:
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str) and not isinstance(value, bool):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise InvalidRequest(f"order.{field}: {value!r} is not a number") from None
    elif isinstance(value, float):
        raise InvalidRequest(f"order.{field}: floats are not exact; pass Decimal({str(value)!r}) or the string")
    else:
        raise InvalidRequest(f"order.{field}: expected a Decimal, got {type(value).__name__}")
    problem = order_number_problem(result)
    if problem is not None:
        raise InvalidRequest(f"order.{field}: {problem}, got {value}")
    return result


def check_order(order: OrderRequest) -> OrderRequest:
    """Validate and normalise an order before it is sent; give it a client id if it has none.

    The client id is set here, not by the runner, so that a call that times out or loses its
    runner can still be reconciled (``get_order(key, client_id=...)``) and retried without a
    duplicate: the error message names the id.
    """
    if not isinstance(order, OrderRequest):
        raise InvalidRequest(f"order: expected an OrderRequest, got {type(order).__name__}")
    key = as_key(order.key, "order.key")
    side = as_enum(Side, order.side, "order.side")
    otype = as_enum(OrderType, order.type, "order.type")
    tif = as_enum(TimeInForce, order.tif, "order.tif")
    qty = _decimal(order.qty, "qty")
    price = _decimal(order.price, "price", optional=True)
    if otype is OrderType.LIMIT and price is None:
        raise InvalidRequest("order.price: a limit order needs a price")
    if not isinstance(order.reduce_only, bool):
        raise InvalidRequest("order.reduce_only: expected a bool")
    if not isinstance(order.client_id, str):
        raise InvalidRequest("order.client_id: expected a string")
    if (problem := client_id_problem(order.client_id)) is not None:
        raise InvalidRequest(f"order.client_id: {problem}")
    client_id = order.client_id or new_client_id()
    if (
        key is order.key
        and side is order.side
        and otype is order.type
        and tif is order.tif
        and qty is order.qty
        and price is order.price
        and client_id is order.client_id
    ):
        return order
    return msgspec.structs.replace(
        order, key=key, side=side, type=otype, tif=tif, qty=qty, price=price, client_id=client_id
    )
