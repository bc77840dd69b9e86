"""Wire number formats: never an exponent, exact where Binance is exact (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from exchanges.binance.sim.numbers import decimals_of, fixed, money, plain, spot
from exchanges.binance.sim.params import Params

decimals = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False,
                       places=12)


@given(decimals)
def test_no_exponents_and_exact_round_trip(value: Decimal) -> None:
    for text in (plain(value), money(value), spot(value), fixed(value, 3)):
        assert "E" not in text and "e" not in text
    assert Decimal(plain(value)) == value
    assert len(spot(value).split(".")[1]) == 8
    assert abs(Decimal(money(value)) - value) <= Decimal("0.000000005")


@given(st.integers(min_value=0, max_value=12))
def test_decimals_of_tick_sizes(places: int) -> None:
    tick = Decimal(1).scaleb(-places)
    assert decimals_of(tick) == places
    assert fixed(Decimal("1"), places).count("0") >= places


@given(st.decimals(min_value=0, max_value=Decimal("1e15"), allow_nan=False, allow_infinity=False, places=8))
def test_plain_text_is_a_legal_binance_decimal_parameter(value: Decimal) -> None:
    assert Params({"quantity": plain(value)}).opt_decimal("quantity") == value
