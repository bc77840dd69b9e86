"""Funding normalisation and expectation over a horizon."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from strategies.arbitrage.funding import (
    FundingMode,
    expected_pair_funding,
    expected_rate,
    funding_received,
    normalise,
    pair_carry_per_hour,
    settlement_times,
)

from .builders import BYBIT_PERP, HOUR, PERP, funding, perp_perp_pair, spot_perp_pair

D = Decimal


def test_normalise_makes_intervals_comparable() -> None:
    eight = normalise(funding(PERP, "0.0008", interval_h=8))
    one = normalise(funding(BYBIT_PERP, "0.0001", interval_h=1))
    assert eight.per_hour == one.per_hour == D("0.0001")
    assert eight.per_8h == D("0.0008")
    assert eight.annualised == D("0.0001") * 24 * 365


def test_settlement_times_inside_the_window_and_rolled_forward() -> None:
    rate = funding(PERP, "0.0001", interval_h=8, next_ms=8 * HOUR)
    assert settlement_times(rate, 0, 8 * HOUR - 1) == []
    assert settlement_times(rate, 0, 8 * HOUR) == [8 * HOUR]
    assert settlement_times(rate, 0, 24 * HOUR) == [8 * HOUR, 16 * HOUR, 24 * HOUR]
    # the announced time is past (rate not refreshed yet): roll forward by whole intervals
    assert settlement_times(rate, 9 * HOUR, 17 * HOUR) == [16 * HOUR]
    assert settlement_times(rate, 16 * HOUR, 24 * HOUR) == [24 * HOUR]  # start is exclusive


@given(
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=0, max_value=100 * HOUR),
    st.integers(min_value=0, max_value=48 * HOUR),
)
def test_settlement_count_matches_the_schedule(interval_h: int, now: int, horizon: int) -> None:
    rate = funding(PERP, "0.0001", interval_h=interval_h, next_ms=interval_h * HOUR)
    times = settlement_times(rate, now, now + horizon)
    assert all(now < t <= now + horizon for t in times)
    assert all(t % (interval_h * HOUR) == 0 for t in times)
    assert len(times) == (now + horizon) // (interval_h * HOUR) - now // (interval_h * HOUR)


def test_expected_rate_modes() -> None:
    rate = funding(PERP, "0.0001", interval_h=8, next_ms=8 * HOUR)
    assert expected_rate(rate, 0, 4 * HOUR) == (D(0), 0)  # no settlement inside: nothing
    assert expected_rate(rate, 0, 4 * HOUR, mode=FundingMode.PRO_RATA) == (D("0.00005"), 0)
    assert expected_rate(rate, 0, 24 * HOUR) == (D("0.0003"), 3)
    total, count = expected_rate(rate, 0, 24 * HOUR, persistence=D("0.5"))
    assert (total, count) == (D("0.0001") * (1 + D("0.5") + D("0.25")), 3)


def test_spot_perp_short_receives_positive_funding() -> None:
    pair = spot_perp_pair()
    fb = funding(PERP, "0.0001", mark="100000")
    out = expected_pair_funding(
        pair, D("0.5"), None, fb, now_ms=0, horizon_ms=8 * HOUR, mark_a=D("100000"), mark_b=D("100000")
    )
    assert out.a is None and out.b is not None
    assert out.amount == D("0.5") * D("100000") * D("0.0001") == D("5")
    assert funding_received(D("-0.5"), D("100000"), D("0.0001")) == D("5")  # the short's payment
    assert pair_carry_per_hour(pair, None, fb) == D("0.0001") / 8


def test_perp_perp_funding_is_the_rate_difference() -> None:
    pair = perp_perp_pair()
    fa = funding(PERP, "0.0001")  # long A pays 0.0001
    fb = funding(BYBIT_PERP, "0.0003")  # short B receives 0.0003
    out = expected_pair_funding(pair, D(1), fa, fb, now_ms=0, horizon_ms=8 * HOUR, mark_a=D(1), mark_b=D(1))
    assert out.amount == D("100000") * (D("0.0003") - D("0.0001"))
    assert pair_carry_per_hour(pair, fa, fb) == (D("0.0003") - D("0.0001")) / 8
    # the carry flips when the long leg pays more than the short leg receives
    assert pair_carry_per_hour(pair, funding(PERP, "0.0003"), funding(BYBIT_PERP, "0.0001")) < 0
