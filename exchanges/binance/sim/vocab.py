"""Binance order vocabulary ↔ engine enums, and per-symbol number formats."""

from __future__ import annotations

from decimal import Decimal

from exchanges.sim.engine import ExpireReason, SimOrder, SymbolSpec
from strategy_client.model import OrderStatus, OrderType, Side, TimeInForce

from .numbers import decimals_of, fixed, money, spot

__all__ = [
    "SIDES",
    "side_text",
    "status_text",
    "spot_type_tif",
    "futures_type_tif",
    "expire_code",
    "PerpFormat",
    "spot_price",
]

SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_SIDE_TEXT = {Side.BUY: "BUY", Side.SELL: "SELL"}
_STATUS_TEXT = {
    OrderStatus.NEW: "NEW",
    OrderStatus.PENDING: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.EXPIRED: "EXPIRED",
}
_TIF_TEXT = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_EXPIRE_CODES = {
    ExpireReason.NONE: "0",
    ExpireReason.SELF_TRADE: "1",
    ExpireReason.IOC_REMAINDER: "2",
    ExpireReason.REDUCE_ONLY: "4",
    ExpireReason.BOOK_EXHAUSTED: "2",
}


def side_text(side: Side) -> str:
    return _SIDE_TEXT[side]


def status_text(status: OrderStatus) -> str:
    return _STATUS_TEXT[status]


def spot_type_tif(order: SimOrder) -> tuple[str, str]:
    """(type, timeInForce) as spot shows them: a post-only limit is ``LIMIT_MAKER``/``GTC``."""
    if order.type is OrderType.MARKET:
        return "MARKET", "GTC"
    if order.tif is TimeInForce.POST_ONLY:
        return "LIMIT_MAKER", "GTC"
    return "LIMIT", _TIF_TEXT[order.tif]


def futures_type_tif(order: SimOrder) -> tuple[str, str]:
    """(type, timeInForce) as USD-M shows them: post-only is ``GTX``."""
    tif = "GTX" if order.tif is TimeInForce.POST_ONLY else _TIF_TEXT[order.tif]
    if order.type is OrderType.MARKET:
        return "MARKET", tif
    return "LIMIT", tif


def expire_code(reason: ExpireReason) -> str:
    return _EXPIRE_CODES.get(reason, "0")


def spot_price(order: SimOrder) -> str:
    return spot(order.price if order.price is not None else Decimal(0))


class PerpFormat:
    """A perp's wire precision: prices with the tick's decimals, quantities with the step's."""

    __slots__ = ("price_places", "qty_places")

    def __init__(self, spec: SymbolSpec) -> None:
        self.price_places = decimals_of(spec.tick_size)
        self.qty_places = decimals_of(spec.step_size)

    def price(self, value: Decimal | None) -> str:
        if value is None or value == 0:
            return "0"
        return fixed(value, self.price_places)

    def qty(self, value: Decimal) -> str:
        return fixed(value, self.qty_places)

    def avg(self, value: Decimal) -> str:
        return "0" if value == 0 else money(value)
