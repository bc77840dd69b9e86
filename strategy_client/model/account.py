"""Positions, balances and account snapshots."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .enums import Exchange
from .key import InstrumentKey

__all__ = ["Position", "Balance", "MarginBalance", "AccountSnapshot"]

ZERO = Decimal(0)


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """A derivatives position in one-way mode. ``size`` is signed: > 0 long, < 0 short."""

    key: InstrumentKey
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    leverage: int = 0
    liquidation_price: Decimal = ZERO
    margin_mode: str = "cross"
    updated_ts_ms: int = 0

    @property
    def is_flat(self) -> bool:
        return self.size == 0

    @property
    def notional(self) -> Decimal:
        price = self.mark_price or self.entry_price
        return abs(self.size) * price


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """A spot wallet balance."""

    asset: str
    free: Decimal
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class MarginBalance(msgspec.Struct, frozen=True, kw_only=True):
    """A derivatives margin asset (e.g. USDT on USD-M futures)."""

    asset: str
    wallet_balance: Decimal
    unrealized_pnl: Decimal = ZERO
    margin_balance: Decimal = ZERO
    available_balance: Decimal = ZERO
    initial_margin: Decimal = ZERO
    maint_margin: Decimal = ZERO

    @property
    def margin_ratio(self) -> Decimal:
        """Maintenance margin over margin balance: 0 is safe, 1 is liquidation."""
        if self.margin_balance <= 0:
            return Decimal(1) if self.maint_margin > 0 else ZERO
        return self.maint_margin / self.margin_balance


class AccountSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    exchange: Exchange
    balances: tuple[Balance, ...] = ()
    margin: tuple[MarginBalance, ...] = ()
    positions: tuple[Position, ...] = ()
    ts_ms: int = 0

    def balance(self, asset: str) -> Balance | None:
        for b in self.balances:
            if b.asset == asset:
                return b
        return None

    def margin_asset(self, asset: str) -> MarginBalance | None:
        for m in self.margin:
            if m.asset == asset:
                return m
        return None

    def position(self, key: InstrumentKey) -> Position | None:
        for p in self.positions:
            if p.key == key:
                return p
        return None
