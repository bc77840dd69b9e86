"""Enumerations shared by every layer: venues, market kinds, order vocabulary."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Exchange",
    "MarketKind",
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "InstrumentStatus",
    "FINAL_STATUSES",
]


class Exchange(StrEnum):
    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"


class MarketKind(StrEnum):
    SPOT = "spot"
    PERP = "perp"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the direction a fill moves a position."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class OrderStatus(StrEnum):
    """Our order lifecycle. PENDING means sent with the outcome not yet known."""

    PENDING = "pending"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class InstrumentStatus(StrEnum):
    TRADING = "trading"
    HALTED = "halted"
    PRE_TRADING = "pre_trading"
    DELISTED = "delisted"
