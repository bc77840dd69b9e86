"""Events the engine emits to its listeners, synchronously and in order.

Within one engine call (``place_order``, ``cancel_order``, ``step``, a control...) events are
delivered after the state change is complete. A trading call: ``OrderChanged(NEW)``; per match
``TradeExecuted``, ``OrderChanged`` for the maker (a user), ``OrderChanged`` for the taker, then
reduce-only knock-outs; a final ``OrderChanged(EXPIRED)`` for an IOC/MARKET leftover;
``BalancesChanged`` per account touched (in order of first touch); ``BookUpdated`` per book
changed. ``step``: ``FundingSettled`` + ``BalancesChanged(FUNDING_FEE)`` per settlement due,
the re-quote matches as above, ``BookUpdated`` per book, then ``MarkUpdated`` per perp.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from strategy_client.model import ExecType, MarketKind

from .orders import SimFill, SimOrder
from .views import AssetBalance, FundingPaymentView, Level, MarkView, PositionView, PublicTrade

__all__ = [
    "ExecType",
    "BalanceReason",
    "BookUpdated",
    "OrderChanged",
    "BalancesChanged",
    "MarkUpdated",
    "FundingSettled",
    "TradeExecuted",
    "LeverageChanged",
    "SimEvent",
]


class BalanceReason(StrEnum):
    ORDER = "ORDER"
    FUNDING_FEE = "FUNDING_FEE"
    DEPOSIT = "DEPOSIT"


class BookUpdated(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """The book changed. Ids render Binance diff depth: ``U`` = first_update_id,
    ``u`` = update_id, ``pu`` = prev_update_id (the previous event's ``update_id``).
    ``bids``/``asks`` are the levels that changed, with their new aggregated quantity
    (0 = level removed); several events can be merged by keeping the latest quantity per price."""

    kind: MarketKind
    symbol: str
    update_id: int
    first_update_id: int
    prev_update_id: int
    bids: list[Level]
    asks: list[Level]
    ts_ms: int


class OrderChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """One per NEW, one per fill (TRADE, with ``fill``), one per cancel/expire.
    ``order`` is a snapshot taken at the event."""

    account: str
    order: SimOrder
    exec_type: ExecType
    fill: SimFill | None
    ts_ms: int


class BalancesChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Balances or positions moved (never for placing/canceling alone, as on Binance futures).
    Spot: the assets that changed. Futures: the margin asset, the positions that changed and,
    for FUNDING_FEE, the payments."""

    account: str
    kind: MarketKind
    reason: BalanceReason
    balances: dict[str, AssetBalance]
    positions: list[PositionView]
    funding: list[FundingPaymentView]
    ts_ms: int


class MarkUpdated(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    symbol: str
    mark: MarkView


class FundingSettled(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    symbol: str
    rate: Decimal
    mark: Decimal
    ts_ms: int


class TradeExecuted(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """A match on the public tape (aggTrade/trade streams)."""

    kind: MarketKind
    symbol: str
    trade: PublicTrade


class LeverageChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """``set_leverage`` took effect (Binance ACCOUNT_CONFIG_UPDATE)."""

    account: str
    symbol: str
    leverage: int
    ts_ms: int


SimEvent = (
    BookUpdated
    | OrderChanged
    | BalancesChanged
    | MarkUpdated
    | FundingSettled
    | TradeExecuted
    | LeverageChanged
)
