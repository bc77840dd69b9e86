"""Funding arithmetic: normalise rates across venues and intervals, expect funding over a horizon.

Conventions (the venues' and :class:`FundingRate`'s): a positive rate means **longs pay shorts**;
each settlement moves ``size × mark × rate`` from longs to shorts, so a position of signed base
size ``s`` (> 0 long) *receives* ``−s × mark × rate``. In the two-leg model (A long, B short)
the pair receives, per settlement, ``qty × (mark_B × rate_B − mark_A × rate_A)``; a spot leg
has no funding.

Intervals differ (8 h on most Binance symbols, 4 h or 1 h on others and on other venues), so
rates are only comparable per unit of time: :func:`normalise` gives per-hour, per-8-hours and
annualised (365 days) forms.

Two ways to expect funding over a holding horizon ``[now, now + horizon]``:

* ``settlements`` (default): count the settlements that fall inside the window — at
  ``next_funding_ts_ms + k × interval_ms`` — and add their rates: the first at the announced
  rate, the k-th weighted by ``persistence ** k`` (1 = assume the rate persists, < 1 = decay
  towards zero). A position held 10 minutes across no settlement earns nothing.
* ``pro_rata``: ``rate × horizon / interval`` (:meth:`FundingRate.expected_over`), the smooth
  average; it is what the position earns in the long run.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from strategy_client.model import FundingRate, InstrumentKey

from .pair import ArbPair, Leg, LegId

__all__ = [
    "FundingMode",
    "NormalisedFunding",
    "LegFunding",
    "PairFunding",
    "normalise",
    "settlement_times",
    "expected_rate",
    "expected_pair_funding",
    "pair_carry_per_hour",
    "funding_received",
]

ZERO = Decimal(0)
HOURS_PER_YEAR = Decimal(24 * 365)


class FundingMode(StrEnum):
    SETTLEMENTS = "settlements"
    PRO_RATA = "pro_rata"


class NormalisedFunding(msgspec.Struct, frozen=True, kw_only=True):
    """One venue's rate in comparable units (fractions of notional; positive = longs pay)."""

    key: InstrumentKey
    rate: Decimal
    interval_ms: int
    per_hour: Decimal
    per_8h: Decimal
    annualised: Decimal
    next_funding_ts_ms: int


def normalise(rate: FundingRate) -> NormalisedFunding:
    per_hour = rate.rate_per_hour()
    return NormalisedFunding(
        key=rate.key,
        rate=rate.rate,
        interval_ms=rate.interval_ms,
        per_hour=per_hour,
        per_8h=per_hour * 8,
        annualised=per_hour * HOURS_PER_YEAR,
        next_funding_ts_ms=rate.next_funding_ts_ms,
    )


def settlement_times(rate: FundingRate, start_ms: int, end_ms: int) -> list[int]:
    """Settlement timestamps ``t`` with ``start_ms < t <= end_ms``.

    Settlements happen at ``next_funding_ts_ms + k × interval_ms``. When the announced next time
    is already past (a rate not yet refreshed after a settlement) the schedule is rolled forward
    by whole intervals.
    """
    if rate.interval_ms <= 0 or end_ms <= start_ms:
        return []
    first = rate.next_funding_ts_ms
    if first <= start_ms:
        skipped = (start_ms - first) // rate.interval_ms + 1
        first += skipped * rate.interval_ms
    times: list[int] = []
    t = first
    while t <= end_ms:
        times.append(t)
        t += rate.interval_ms
    return times


def expected_rate(
    rate: FundingRate,
    now_ms: int,
    horizon_ms: int,
    *,
    mode: FundingMode = FundingMode.SETTLEMENTS,
    persistence: Decimal = Decimal(1),
) -> tuple[Decimal, int]:
    """(summed rate over the horizon, settlements counted) — fraction of notional paid by longs.

    In ``pro_rata`` mode the count is the number of settlements that *would* fall in the window
    and the sum is ``rate × horizon / interval``.
    """
    times = settlement_times(rate, now_ms, now_ms + horizon_ms)
    if mode is FundingMode.PRO_RATA:
        return (rate.expected_over(horizon_ms) if horizon_ms > 0 and rate.interval_ms > 0 else ZERO), len(times)
    total = ZERO
    weight = Decimal(1)
    for _ in times:
        total += rate.rate * weight
        weight *= persistence
    return total, len(times)


class LegFunding(msgspec.Struct, frozen=True, kw_only=True):
    """Expected funding of one leg: ``amount`` > 0 received by the position (quote currency)."""

    leg: LegId
    rate_sum: Decimal
    settlements: int
    mark: Decimal
    amount: Decimal


class PairFunding(msgspec.Struct, frozen=True, kw_only=True):
    a: LegFunding | None
    b: LegFunding | None
    amount: Decimal


def _leg_expectation(
    leg: Leg,
    qty_base: Decimal,
    rate: FundingRate | None,
    fallback_mark: Decimal,
    now_ms: int,
    horizon_ms: int,
    mode: FundingMode,
    persistence: Decimal,
) -> LegFunding | None:
    if not leg.is_perp or rate is None:
        return None
    rate_sum, count = expected_rate(rate, now_ms, horizon_ms, mode=mode, persistence=persistence)
    mark = rate.mark_price if rate.mark_price > 0 else fallback_mark
    signed_size = qty_base * leg.id.sign
    return LegFunding(
        leg=leg.id, rate_sum=rate_sum, settlements=count, mark=mark, amount=-signed_size * mark * rate_sum
    )


def expected_pair_funding(
    pair: ArbPair,
    qty_base: Decimal,
    funding_a: FundingRate | None,
    funding_b: FundingRate | None,
    *,
    now_ms: int,
    horizon_ms: int,
    mark_a: Decimal,
    mark_b: Decimal,
    mode: FundingMode = FundingMode.SETTLEMENTS,
    persistence: Decimal = Decimal(1),
) -> PairFunding:
    """Funding the pair is expected to receive over ``horizon_ms`` (negative: it pays).

    ``mark_a``/``mark_b`` value a leg when its rate carries no mark price. A perp leg without a
    rate contributes nothing here: callers must refuse to decide without it (the decision
    policy does).
    """
    fa = _leg_expectation(pair.a, qty_base, funding_a, mark_a, now_ms, horizon_ms, mode, persistence)
    fb = _leg_expectation(pair.b, qty_base, funding_b, mark_b, now_ms, horizon_ms, mode, persistence)
    amount = (fa.amount if fa else ZERO) + (fb.amount if fb else ZERO)
    return PairFunding(a=fa, b=fb, amount=amount)


def pair_carry_per_hour(pair: ArbPair, funding_a: FundingRate | None, funding_b: FundingRate | None) -> Decimal:
    """The pair's funding carry per hour as a fraction of notional: > 0 the pair receives.

    ``rate_B/h − rate_A/h``, a spot leg counting as 0. This is what flips sign when the carry
    that justified the position turns against it.
    """
    carry = ZERO
    if pair.b.is_perp and funding_b is not None:
        carry += funding_b.rate_per_hour()
    if pair.a.is_perp and funding_a is not None:
        carry -= funding_a.rate_per_hour()
    return carry


def funding_received(signed_base: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """What a position of ``signed_base`` (> 0 long) receives at one settlement (< 0: pays)."""
    return -signed_base * mark * rate
