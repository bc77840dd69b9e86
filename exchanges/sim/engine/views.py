"""Read-only views the engine returns: book, mark, balances, positions, income, funding."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

__all__ = [
    "Level",
    "BookView",
    "MarkView",
    "FundingRecord",
    "AssetBalance",
    "PositionView",
    "FuturesAccountView",
    "IncomeType",
    "IncomeRecord",
    "FundingPaymentView",
    "PublicTrade",
]

ZERO = Decimal(0)

Level = tuple[Decimal, Decimal]
"""(price, aggregated quantity); in a diff a quantity of 0 deletes the level."""


class BookView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Bids best (highest) first, asks best (lowest) first; ``update_id`` is the id of the last
    change applied (Binance ``lastUpdateId``)."""

    bids: list[Level]
    asks: list[Level]
    update_id: int
    ts_ms: int


class MarkView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Perp mark data (Binance premiumIndex / markPrice stream). ``funding_rate`` is the rate
    for the coming settlement at ``next_funding_ms``; ``estimated_settle`` the index average
    over the current funding interval."""

    symbol: str
    mark: Decimal
    index: Decimal
    estimated_settle: Decimal
    funding_rate: Decimal
    next_funding_ms: int
    interest_rate: Decimal
    funding_interval_ms: int
    ts_ms: int


class FundingRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One settled funding (Binance fundingRate history item)."""

    symbol: str
    rate: Decimal
    funding_ms: int
    mark: Decimal


class AssetBalance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One asset of a wallet. Spot: ``free``/``locked``, ``wallet`` = free + locked.
    Futures: ``wallet`` is the wallet balance, ``free`` the available balance, ``locked`` the
    initial margin of positions and open orders. ``change`` is the balance change of this event
    other than trading PnL and fees (deposits; Binance ``bc``)."""

    asset: str
    free: Decimal
    locked: Decimal
    wallet: Decimal
    change: Decimal = ZERO


class PositionView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A one-way (net) position. ``size`` is signed; ``liquidation_price`` 0 = none."""

    symbol: str
    size: Decimal
    entry_price: Decimal
    break_even_price: Decimal
    mark: Decimal
    unrealized: Decimal
    realized: Decimal
    leverage: int
    liquidation_price: Decimal
    notional: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    margin_asset: str
    update_ms: int


class FuturesAccountView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The futures margin account (single margin asset, cross margin)."""

    asset: str
    wallet: Decimal
    unrealized: Decimal
    margin_balance: Decimal
    available: Decimal
    initial_margin: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    maint_margin: Decimal
    positions: list[PositionView]
    ts_ms: int


class IncomeType(StrEnum):
    REALIZED_PNL = "REALIZED_PNL"
    FUNDING_FEE = "FUNDING_FEE"
    COMMISSION = "COMMISSION"
    TRANSFER = "TRANSFER"


class IncomeRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A futures wallet movement; ``income`` < 0 paid, > 0 received."""

    tran_id: int
    symbol: str
    income_type: IncomeType
    income: Decimal
    asset: str
    info: str
    time_ms: int
    trade_id: int = 0


class FundingPaymentView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One account's payment at a settlement: ``amount = -size * mark * rate``."""

    symbol: str
    asset: str
    amount: Decimal
    rate: Decimal
    mark: Decimal
    size: Decimal
    ts_ms: int


class PublicTrade(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One match on the public tape (Binance trade/aggTrade streams)."""

    trade_id: int
    price: Decimal
    qty: Decimal
    buyer_is_maker: bool
    maker_order_id: int
    taker_order_id: int
    ts_ms: int
