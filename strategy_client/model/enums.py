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
    """Our order lifecycle.

    PENDING: sent, the venue's answer not yet in. UNKNOWN: the answer was lost (timeout, 5xx,
    dropped connection) — the venue may have accepted, filled or refused it. UNKNOWN is a real
    state: it is left only when the venue says what happened (a query by client id, the user
    stream, a reconcile), never by a timer and never by guessing.
    """

    PENDING = "pending"
    UNKNOWN = "unknown"
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

    @property
    def is_unresolved(self) -> bool:
        """Sent, and the venue has not (yet) told us what became of it."""
        return self in (OrderStatus.PENDING, OrderStatus.UNKNOWN)


FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class InstrumentStatus(StrEnum):
    TRADING = "trading"
    HALTED = "halted"
    PRE_TRADING = "pre_trading"
    DELISTED = "delisted"
