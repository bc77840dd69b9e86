"""The paper account: spot wallet (free/locked per asset) and perp positions on one margin wallet.

The rules are the shared ledger core's (:mod:`strategy_client.model.ledger`), the same code the
offline venues' engine settles with: a spot fill pays its fee in the asset it receives (a buy in
base, a sell in quote), a perp fill in the margin asset; a position is one-way and signed
(> 0 long), realised PnL on a reducing fill is ``(price − entry) × closed × sign(position)`` and
a flip opens the rest at the fill price; funding pays ``−size × mark × rate`` to the position
(longs pay shorts when the rate is positive); open orders' initial margin nets against the
position per symbol, and ``available`` = wallet + unrealised − initial margin (not floored).
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
from strategy_client.model.ledger import (
    Exposure,
    NetPosition,
    fee_amount,
    funding_payment,
    position_margin,
    spot_deltas,
)

from .config import PaperConfig
from .errors import PaperRejected, RejectCode

__all__ = ["Ledger", "SpotSettlement"]

ZERO = Decimal(0)


@dataclass(slots=True)
class _Wallet:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(slots=True, frozen=True)
class SpotSettlement:
    """What one spot fill charged: the fee, its asset, and the assets whose balance moved."""

    fee: Decimal
    fee_asset: str
    assets: tuple[str, str]


class Ledger:
    def __init__(self, config: PaperConfig) -> None:
        self.config = config
        self.spot: dict[str, _Wallet] = {a: _Wallet(free=v) for a, v in config.balances.items()}
        self.wallet = config.margin_balance  # perp margin wallet (realised PnL, fees, funding)
        self.perps: dict[InstrumentKey, NetPosition] = {}
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
        self, inst: Instrument, side: Side, qty: Decimal, price: Decimal, fee_rate: Decimal, locked_used: Decimal
    ) -> SpotSettlement:
        """Settle a spot fill whose cost was locked beforehand (``locked_used`` of the paying
        asset: quote for a buy, base for a sell); the fee comes out of what is received."""
        base = self.spot.setdefault(inst.base, _Wallet())
        quote = self.spot.setdefault(inst.quote, _Wallet())
        base_delta, quote_delta, fee, fee_in_base = spot_deltas(side, qty, price, fee_rate)
        pay, pay_delta, get, get_delta = (
            (quote, quote_delta, base, base_delta) if side is Side.BUY else (base, base_delta, quote, quote_delta)
        )
        pay.locked -= locked_used
        pay.free += locked_used + pay_delta
        get.free += get_delta
        return SpotSettlement(fee, inst.base if fee_in_base else inst.quote, (inst.base, inst.quote))

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
        self, key: InstrumentKey, side: Side, qty: Decimal, price: Decimal, fee_rate: Decimal, ts_ms: int
    ) -> tuple[Decimal, Decimal]:
        """Apply a fill to the position; returns ``(fee, realised PnL before the fee)``."""
        p = self.perps.get(key)
        if p is None:
            p = self.perps[key] = NetPosition()
        fee = fee_amount(qty, price, fee_rate)
        realized = p.apply(side, qty, price, fee, ts_ms)
        self.wallet += realized - fee
        self.marks.setdefault(key, price)
        if p.size == 0:
            del self.perps[key]
        return fee, realized

    def apply_funding(self, key: InstrumentKey, rate: Decimal, mark: Decimal, ts_ms: int) -> FundingPayment | None:
        p = self.perps.get(key)
        if p is None or p.size == 0:
            return None
        amount = funding_payment(p.size, mark, rate)
        self.wallet += amount
        return FundingPayment(key=key, amount=amount, asset=self.config.margin_asset, rate=rate, ts_ms=ts_ms)

    def mark_of(self, key: InstrumentKey, p: NetPosition) -> Decimal:
        return self.marks.get(key, p.entry)

    def position(self, key: InstrumentKey, ts_ms: int = 0) -> Position:
        p = self.perps.get(key)
        lev = self.leverage_of(key)
        if p is None:
            return Position(key=key, size=ZERO, entry_price=ZERO, leverage=lev, updated_ts_ms=ts_ms)
        mark = self.mark_of(key, p)
        return Position(
            key=key,
            size=p.size,
            entry_price=p.entry,
            mark_price=mark,
            unrealized_pnl=p.unrealized(mark),
            leverage=lev,
            updated_ts_ms=p.update_ms,
        )

    def positions(self) -> list[Position]:
        return [self.position(k) for k in sorted(self.perps)]

    def order_margin(self, exposures: dict[InstrumentKey, Exposure]) -> Decimal:
        """Initial margin of the open perp orders, netted against each position."""
        return sum(
            (exp.initial_margin(self.position_size(k), self.leverage_of(k)) for k, exp in exposures.items()), ZERO
        )

    def margin(self, exposures: dict[InstrumentKey, Exposure]) -> MarginBalance:
        unreal = position_im = maint = ZERO
        for key in sorted(self.perps):  # a fixed order: sums are exact but their exponent is not
            p = self.perps[key]
            p_upnl, p_im, p_mm = position_margin(
                p.size, p.entry, self.mark_of(key, p), self.leverage_of(key), self.config.maint_margin_rate
            )
            unreal += p_upnl
            position_im += p_im
            maint += p_mm
        balance = self.wallet + unreal
        initial = position_im + self.order_margin(exposures)
        return MarginBalance(
            asset=self.config.margin_asset,
            wallet_balance=self.wallet,
            unrealized_pnl=unreal,
            margin_balance=balance,
            available_balance=balance - initial,
            initial_margin=initial,
            maint_margin=maint,
        )
