"""The paper account: spot wallet (free/locked per asset) and perp positions on one margin wallet.

Conventions (documented once, used everywhere): fees are paid in the quote asset on spot and in
the margin asset on perps; a position is one-way and signed (> 0 long); realised PnL on a
reducing fill is ``(price − entry) × closed × sign(position)``; funding pays
``−size × mark × rate`` to the position (longs pay shorts when the rate is positive).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from strategy_client.model import (
    Balance,
    FundingPayment,
    Instrument,
    InstrumentKey,
    MarginBalance,
    Position,
    Side,
)

from .config import PaperConfig
from .errors import PaperRejected, RejectCode

__all__ = ["Ledger"]

ZERO = Decimal(0)


@dataclass(slots=True)
class _Wallet:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(slots=True)
class _Perp:
    size: Decimal = ZERO
    entry: Decimal = ZERO
    updated_ms: int = 0


class Ledger:
    def __init__(self, config: PaperConfig) -> None:
        self.config = config
        self.spot: dict[str, _Wallet] = {a: _Wallet(free=v) for a, v in config.balances.items()}
        self.wallet = config.margin_balance  # perp margin wallet (realised PnL, fees, funding)
        self.perps: dict[InstrumentKey, _Perp] = {}
        self.leverage: dict[InstrumentKey, int] = {}
        self.marks: dict[InstrumentKey, Decimal] = {}

    # -- spot ---------------------------------------------------------------------------
    def lock(self, asset: str, amount: Decimal) -> None:
        w = self.spot.setdefault(asset, _Wallet())
        if amount > w.free:
            raise PaperRejected(RejectCode.INSUFFICIENT_FUNDS, f"insufficient {asset}: need {amount}, free {w.free}")
        w.free -= amount
        w.locked += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        w = self.spot.setdefault(asset, _Wallet())
        amount = min(amount, w.locked)
        w.locked -= amount
        w.free += amount

    def spot_fill(
        self, inst: Instrument, side: Side, qty: Decimal, price: Decimal, fee: Decimal, locked_used: Decimal
    ) -> tuple[str, ...]:
        """Settle a spot fill whose cost was locked beforehand (``locked_used`` of the paying asset)."""
        base = self.spot.setdefault(inst.base, _Wallet())
        quote = self.spot.setdefault(inst.quote, _Wallet())
        notional = qty * price
        if side is Side.BUY:
            quote.locked -= locked_used
            quote.free += locked_used - notional - fee
            base.free += qty
        else:
            base.locked -= locked_used
            base.free += locked_used - qty
            quote.free += notional - fee
        return inst.base, inst.quote

    def balances(self, assets: tuple[str, ...] | None = None) -> tuple[Balance, ...]:
        names = assets if assets is not None else tuple(sorted(self.spot))
        return tuple(
            Balance(asset=a, free=self.spot[a].free, locked=self.spot[a].locked) for a in names if a in self.spot
        )

    # -- perps --------------------------------------------------------------------------
    def position_size(self, key: InstrumentKey) -> Decimal:
        p = self.perps.get(key)
        return p.size if p else ZERO

    def leverage_of(self, key: InstrumentKey) -> int:
        return self.leverage.get(key, self.config.default_leverage)

    def perp_fill(
        self, key: InstrumentKey, side: Side, qty: Decimal, price: Decimal, fee: Decimal, ts_ms: int
    ) -> Decimal:
        """Apply a fill to the position; returns the realised PnL (before fee)."""
        p = self.perps.setdefault(key, _Perp())
        signed = qty if side is Side.BUY else -qty
        realized = ZERO
        if p.size == 0 or (p.size > 0) == (signed > 0):
            new_size = p.size + signed
            p.entry = (abs(p.size) * p.entry + qty * price) / abs(new_size)
            p.size = new_size
        else:
            closed = min(qty, abs(p.size))
            direction = Decimal(1) if p.size > 0 else Decimal(-1)
            realized = (price - p.entry) * closed * direction
            p.size += signed
            if p.size == 0:
                p.entry = ZERO
            elif (p.size > 0) != (direction > 0):  # flipped: the rest opens at this price
                p.entry = price
        p.updated_ms = ts_ms
        self.wallet += realized - fee
        self.marks.setdefault(key, price)
        if p.size == 0:
            del self.perps[key]
        return realized

    def apply_funding(self, key: InstrumentKey, rate: Decimal, mark: Decimal, ts_ms: int) -> FundingPayment | None:
        p = self.perps.get(key)
        if p is None or p.size == 0:
            return None
        amount = -p.size * mark * rate
        self.wallet += amount
        return FundingPayment(key=key, amount=amount, asset=self.config.margin_asset, rate=rate, ts_ms=ts_ms)

    def unrealized(self, key: InstrumentKey) -> Decimal:
        p = self.perps.get(key)
        if p is None:
            return ZERO
        mark = self.marks.get(key, p.entry)
        return (mark - p.entry) * p.size

    def position(self, key: InstrumentKey, ts_ms: int = 0) -> Position:
        p = self.perps.get(key)
        lev = self.leverage_of(key)
        if p is None:
            return Position(key=key, size=ZERO, entry_price=ZERO, leverage=lev, updated_ts_ms=ts_ms)
        mark = self.marks.get(key, p.entry)
        return Position(
            key=key,
            size=p.size,
            entry_price=p.entry,
            mark_price=mark,
            unrealized_pnl=(mark - p.entry) * p.size,
            leverage=lev,
            updated_ts_ms=p.updated_ms,
        )

    def positions(self) -> list[Position]:
        return [self.position(k) for k in sorted(self.perps)]

    def position_margin(self) -> Decimal:
        total = ZERO
        for key, p in self.perps.items():
            total += abs(p.size) * self.marks.get(key, p.entry) / self.leverage_of(key)
        return total

    def margin(self, order_margin: Decimal) -> MarginBalance:
        unreal = sum((self.unrealized(k) for k in self.perps), ZERO)
        balance = self.wallet + unreal
        initial = self.position_margin() + order_margin
        maint = sum(
            (abs(p.size) * self.marks.get(k, p.entry) * self.config.maint_margin_rate for k, p in self.perps.items()),
            ZERO,
        )
        return MarginBalance(
            asset=self.config.margin_asset,
            wallet_balance=self.wallet,
            unrealized_pnl=unreal,
            margin_balance=balance,
            available_balance=max(balance - initial, ZERO),
            initial_margin=initial,
            maint_margin=maint,
        )
