"""The generic two-leg arbitrage model shared by spot-perp and perp-perp.

An arbitrage position is always **leg A long, leg B short**: on entry A is bought and B sold,
on exit A is sold and B bought.

* spot-perp: A = the spot instrument, B = the perpetual (the perp's funding is the carry:
  with a positive rate the short receives it);
* perp-perp: A = the perp that pays less funding, B = the perp that pays more (the strategy
  builds the pair in that orientation; :func:`orient_by_funding` does it).

Quantities are in base units on every venue (the adapters convert contract-sized venues such as
OKX swaps exactly, see ``Instrument``); ``to_base``/``from_base`` mark the places where a venue's
order unit would matter. Both legs of a hedged position hold the same base quantity; rounding to
steps is delegated to :mod:`strategy_client.model.rounding`.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

import msgspec

from strategy_client.model import (
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    OrderType,
    Side,
    check_order,
    round_down,
    round_price,
    round_up,
)

from .errors import StrategyConfigError

__all__ = [
    "LegId",
    "Role",
    "FeeRates",
    "Leg",
    "ArbPair",
    "PairSize",
    "EntryRoute",
    "check_size",
    "common_step",
    "orient_by_funding",
]

ZERO = Decimal(0)


class LegId(StrEnum):
    """A is the long leg, B the short leg."""

    A = "a"
    B = "b"

    @property
    def other(self) -> LegId:
        return LegId.B if self is LegId.A else LegId.A

    @property
    def entry_side(self) -> Side:
        return Side.BUY if self is LegId.A else Side.SELL

    @property
    def exit_side(self) -> Side:
        return self.entry_side.opposite

    @property
    def sign(self) -> int:
        """+1 for the long leg, −1 for the short leg: the sign of its base exposure when open."""
        return 1 if self is LegId.A else -1


class Role(StrEnum):
    """Whether an order takes liquidity (taker fee) or rests and is taken (maker fee)."""

    TAKER = "taker"
    MAKER = "maker"


class FeeRates(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fee rates as fractions of notional (0.0005 = 5 bps). A negative maker rate is a rebate.

    The defaults are Binance USD-M futures' standard tier; set the rates of your account.

    ``buy_fee_in_base``: whether a buy's fee is taken from the base asset received (so buying
    ``q`` leaves ``q × (1 − rate)``). ``None`` (the default) means "as the venues do": yes on spot
    legs — Binance, Bybit and OKX (and their simulators) charge spot fees in the asset received —
    and no on perps (fees in the settle asset). Set ``false`` when spot fees are paid in another
    asset (e.g. Binance with BNB fees); paper runs set it to ``false`` (the paper venue charges
    every fee in the quote asset).
    """

    taker: Decimal = Decimal("0.0005")
    maker: Decimal = Decimal("0.0002")
    buy_fee_in_base: bool | None = None

    def rate(self, role: Role) -> Decimal:
        return self.taker if role is Role.TAKER else self.maker

    def problems(self, where: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name in ("taker", "maker"):
            value: Decimal = getattr(self, name)
            if not Decimal("-0.01") <= value <= Decimal("0.01"):
                out.append((f"{where}.{name}", f"{value} is not a fee rate between -0.01 and 0.01"))
        return out


class Leg(msgspec.Struct, frozen=True, kw_only=True):
    id: LegId
    instrument: Instrument
    fees: FeeRates = FeeRates()

    @property
    def key(self) -> InstrumentKey:
        return self.instrument.key

    @property
    def is_perp(self) -> bool:
        return self.instrument.key.kind is MarketKind.PERP

    @property
    def entry_side(self) -> Side:
        return self.id.entry_side

    @property
    def exit_side(self) -> Side:
        return self.id.exit_side

    def to_base(self, qty: Decimal) -> Decimal:
        """Order units → base units (the identity: the domain sizes every venue in base units)."""
        return qty

    def from_base(self, base: Decimal) -> Decimal:
        """Base units → order units (the identity, see :meth:`to_base`)."""
        return base

    def step(self, order_type: OrderType) -> Decimal:
        """The quantity step for ``order_type`` in order units."""
        return self.instrument.market_filters()[0] if order_type is OrderType.MARKET else self.instrument.step_size

    def base_step(self, order_type: OrderType) -> Decimal:
        """The quantity step for ``order_type`` in base units."""
        return self.to_base(self.step(order_type))

    def round_base(self, base: Decimal, order_type: OrderType) -> Decimal:
        """Largest order-unit quantity not above ``base`` base units (rounded down to the step)."""
        return round_down(self.from_base(base), self.step(order_type))

    @property
    def buy_fee_in_base(self) -> bool:
        """A buy on this leg pays its fee in the base asset (see :class:`FeeRates`)."""
        flag = self.fees.buy_fee_in_base
        return (not self.is_perp) if flag is None else flag

    def buy_qty_for(self, net_base: Decimal, order_type: OrderType, role: Role = Role.TAKER) -> Decimal:
        """The buy quantity (order units) that leaves at least ``net_base`` held after the fee.

        Without a base-asset fee that is ``net_base`` rounded down to the step (never more than
        asked). With one it is ``net_base / (1 − rate)`` rounded **up** to the step, so the
        holding after the fee is ``net_base`` plus less than one step — never less, so selling
        ``net_base`` later is always covered.
        """
        step = self.step(order_type)
        if not self.buy_fee_in_base:
            return round_down(self.from_base(net_base), step)
        rate = self.fees.rate(role)
        if rate <= 0:
            return round_up(self.from_base(net_base), step)
        return round_up(self.from_base(net_base / (1 - rate)), step)

    def net_base(self, qty: Decimal, side: Side, role: Role = Role.TAKER) -> Decimal:
        """Base units held (bought) or given up (sold) by filling ``qty``, after a base-asset fee."""
        base = self.to_base(qty)
        if side is Side.BUY and self.buy_fee_in_base:
            return base - base * self.fees.rate(role)
        return base


class EntryRoute(msgspec.Struct, frozen=True, kw_only=True):
    """Which leg is sent first and whether it rests as a maker order (the hedge always takes)."""

    first: LegId
    first_role: Role = Role.TAKER

    def role(self, leg: LegId) -> Role:
        return self.first_role if leg is self.first else Role.TAKER


class PairSize(msgspec.Struct, frozen=True, kw_only=True):
    """One size expressed on both legs: ``qty_a``/``qty_b`` in order units, equal in base units."""

    base: Decimal
    qty_a: Decimal
    qty_b: Decimal

    def qty(self, leg: LegId) -> Decimal:
        return self.qty_a if leg is LegId.A else self.qty_b

    @property
    def is_zero(self) -> bool:
        return self.base <= 0


class ArbPair(msgspec.Struct, frozen=True, kw_only=True):
    """Leg A (long) and leg B (short) of one arbitrage; validated on construction.

    Both legs must trade the same base asset and be valued in the same quote/settle currency
    (PnL, fees and funding are added up in that one currency); the short leg must be a perp.
    """

    a: Leg
    b: Leg

    def __post_init__(self) -> None:
        if self.a.id is not LegId.A or self.b.id is not LegId.B:
            raise StrategyConfigError("pair", "leg a must have id A and leg b id B")
        ia, ib = self.a.instrument, self.b.instrument
        if ia.key == ib.key:
            raise StrategyConfigError("pair", f"both legs are {ia.key}")
        if ia.base != ib.base:
            raise StrategyConfigError("pair", f"legs trade different assets: {ia.base} vs {ib.base}")
        if self.currency_of(self.a) != self.currency_of(self.b):
            raise StrategyConfigError(
                "pair",
                f"legs are valued in different currencies: {self.currency_of(self.a)} vs {self.currency_of(self.b)}",
            )
        if not self.b.is_perp:
            raise StrategyConfigError("pair", f"the short leg {ib.key} must be a perpetual: spot cannot be sold short")

    @staticmethod
    def currency_of(leg: Leg) -> str:
        inst = leg.instrument
        return inst.settle if leg.is_perp and inst.settle else inst.quote

    @property
    def currency(self) -> str:
        """The currency every amount of this pair (PnL, fees, funding) is counted in."""
        return self.currency_of(self.a)

    @property
    def asset(self) -> str:
        return self.a.instrument.base

    def leg(self, leg: LegId) -> Leg:
        return self.a if leg is LegId.A else self.b

    @property
    def legs(self) -> tuple[Leg, Leg]:
        return (self.a, self.b)

    def leg_of(self, key: InstrumentKey) -> Leg | None:
        for leg in self.legs:
            if leg.key == key:
                return leg
        return None

    def common_base_step(self, order_type: OrderType) -> Decimal:
        """The smallest base quantity both legs can trade exactly (LCM of their base steps)."""
        return common_step(self.a.base_step(order_type), self.b.base_step(order_type))

    def size(self, base: Decimal, order_type: OrderType) -> PairSize:
        """``base`` rounded down onto the grid both legs share; may be zero when too small.

        The result has ``to_base(qty_a) == to_base(qty_b) == base`` exactly, so entering both legs
        for these quantities leaves no unhedged remainder. Exchange minimums (min qty, min
        notional) are not checked here (they need a price): see :func:`check_size`.
        """
        step = self.common_base_step(order_type)
        rounded = round_down(base, step) if step > 0 else base
        if rounded <= 0:
            return PairSize(base=ZERO, qty_a=ZERO, qty_b=ZERO)
        return PairSize(base=rounded, qty_a=self.a.from_base(rounded), qty_b=self.b.from_base(rounded))

    def swapped(self) -> ArbPair:
        """The same two instruments the other way round (long B, short A)."""
        return ArbPair(
            a=Leg(id=LegId.A, instrument=self.b.instrument, fees=self.b.fees),
            b=Leg(id=LegId.B, instrument=self.a.instrument, fees=self.a.fees),
        )

    def __str__(self) -> str:
        return f"long {self.a.key} / short {self.b.key}"


def check_size(
    pair: ArbPair, size: PairSize, order_type: OrderType, price_a: Decimal, price_b: Decimal, *, exiting: bool = False
) -> list[str]:
    """Every exchange filter a leg order of ``size`` would break, prefixed with the leg's key.

    ``exiting`` marks closing orders (reduce-only on perps, where venues waive min notional).
    Empty when both legs pass.
    """
    problems: list[str] = []
    for leg, price in ((pair.a, price_a), (pair.b, price_b)):
        side = leg.exit_side if exiting else leg.entry_side
        limit = None if order_type is OrderType.MARKET else round_price(leg.instrument, side, price)
        for problem in check_order(
            leg.instrument,
            order_type,
            size.qty(leg.id),
            limit,
            reference_price=price,
            reduce_only=exiting and leg.is_perp,
        ):
            problems.append(f"{leg.key}: {problem}")
    return problems


def common_step(x: Decimal, y: Decimal) -> Decimal:
    """The least common multiple of two positive decimal steps (0 when either is 0).

    ``common_step(0.001, 0.00001) == 0.001``; ``common_step(0.25, 0.1) == 0.5``. Exact: both are
    converted to fractions, ``lcm(p/q, r/s) = lcm(p, r) / gcd(q, s)``.
    """
    if x <= 0 or y <= 0:
        return max(x, y, ZERO)
    fx, fy = Fraction(x), Fraction(y)
    num = _lcm(fx.numerator, fy.numerator)
    den = _gcd(fx.denominator, fy.denominator)
    value = Decimal(num) / Decimal(den)  # den divides a power of ten: the division is exact
    return value.quantize(min(_unit(x), _unit(y)))


def _unit(x: Decimal) -> Decimal:
    """The unit of the last digit of ``x`` (0.001 for 0.025)."""
    exponent = x.as_tuple().exponent
    return Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)


def _gcd(p: int, q: int) -> int:
    while q:
        p, q = q, p % q
    return abs(p)


def _lcm(p: int, q: int) -> int:
    return abs(p * q) // _gcd(p, q)


def orient_by_funding(pair: ArbPair, funding_a: FundingRate, funding_b: FundingRate) -> ArbPair:
    """Perp-perp orientation: long the perp whose funding costs less per hour, short the other.

    Rates are compared per hour (:meth:`FundingRate.rate_per_hour`), so an 8-hourly and an
    hourly venue are compared fairly. Returns ``pair`` unchanged when A already pays less (or
    the same), else the pair with its legs swapped.
    """
    if funding_a.key != pair.a.key or funding_b.key != pair.b.key:
        raise StrategyConfigError("funding", "funding rates do not belong to the pair's legs")
    if funding_b.rate_per_hour() < funding_a.rate_per_hour():
        return pair.swapped()
    return pair
