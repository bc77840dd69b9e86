"""The shared ledger core: positions, realised PnL on partial closes and flips, fees, funding, margin."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from strategy_client.model import Side
from strategy_client.model.ledger import (
    Exposure,
    NetPosition,
    added_order_margin,
    fee_amount,
    funding_payment,
    order_initial_margin,
    position_margin,
    spot_deltas,
)


def test_adding_moves_the_entry_to_the_volume_weighted_average() -> None:
    p = NetPosition()
    assert p.apply(Side.BUY, D(1), D(100), D(0), 1) == 0
    assert p.apply(Side.BUY, D(3), D(104), D(0), 2) == 0
    assert (p.size, p.entry, p.update_ms) == (D(4), D(103), 2)


def test_a_partial_close_realises_on_the_closed_part_and_keeps_the_entry() -> None:
    p = NetPosition()
    p.apply(Side.SELL, D(2), D(100), D("0.2"), 1)
    assert p.apply(Side.BUY, D("0.5"), D(90), D(0), 2) == D(5)  # short gains when the price falls
    assert (p.size, p.entry) == (D("-1.5"), D(100))
    assert p.open_fees == D("0.15")  # the open part's share of the opening fee


def test_a_flip_closes_the_old_position_and_opens_the_rest_at_the_fill_price() -> None:
    p = NetPosition()
    p.apply(Side.BUY, D(1), D(100), D(0), 1)
    assert p.apply(Side.SELL, D(3), D(110), D("0.3"), 2) == D(10)
    assert (p.size, p.entry, p.realized) == (D(-2), D(110), D(10))
    assert p.open_fees == D("0.2") and p.break_even() == D(110) + D("0.2") / D(-2)
    assert p.apply(Side.BUY, D(2), D(120), D(0), 3) == D(-20)
    assert (p.size, p.entry, p.open_fees, p.realized) == (D(0), D(0), D(0), D(-10))


_fills = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 500), st.integers(9_000, 11_000)),
    min_size=1,
    max_size=40,
)


@given(_fills, st.integers(9_000, 11_000))
def test_realised_plus_unrealised_is_the_cash_flow_of_the_fills(fills: list[tuple[Side, int, int]], mark: int) -> None:
    """Whatever the adds, partial closes and flips: Σ realised + unrealised at a mark equals
    what the fills paid and received plus the position valued at that mark (up to the 28-digit
    rounding of the volume-weighted entry)."""
    p = NetPosition()
    cash = D(0)
    for side, qty, price in fills:
        q, px = D(qty) / 100, D(price) / 10
        p.apply(side, q, px, D(0), 0)
        cash += -q * px if side is Side.BUY else q * px
    m = D(mark) / 10
    assert abs(p.realized + p.unrealized(m) - (cash + p.size * m)) < D("1e-18")


def test_fees_are_notional_times_rate_and_a_spot_buy_pays_in_base() -> None:
    assert fee_amount(D("0.5"), D(60_000), D("0.0005")) == D(15)
    buy = spot_deltas(Side.BUY, D(2), D(100), D("0.001"))
    assert buy == (D(2) - D("0.002"), D(-200), D("0.002"), True)
    sell = spot_deltas(Side.SELL, D(2), D(100), D("0.001"))
    assert sell == (D(-2), D(200) - D("0.2"), D("0.2"), False)


def test_funding_positive_rate_longs_pay_shorts() -> None:
    assert funding_payment(D(2), D(100), D("0.001")) == D("-0.2")
    assert funding_payment(D(-2), D(100), D("0.001")) == D("0.2")
    assert funding_payment(D(2), D(100), D("-0.001")) == D("0.2")


def test_open_order_margin_nets_against_the_position_and_the_larger_side_counts() -> None:
    # long 1: sells of 3 at 110 -> 2 need margin; buys of 1 at 90 all need it; the larger (220) counts
    assert order_initial_margin(D(1), D(1), D(90), D(3), D(330), 10) == D(22)
    exp = Exposure()
    exp.add(Side.SELL, D(3), D(110))
    exp.add(Side.BUY, D(1), D(90))
    assert exp.initial_margin(D(1), 10) == D(22)
    exp.remove(Side.SELL, D(3), D(110))
    exp.remove(Side.BUY, D(1), D(90))
    assert exp.empty and exp.initial_margin(D(1), 10) == 0


def test_an_order_that_only_closes_needs_no_margin() -> None:
    assert added_order_margin(D(1), None, Side.SELL, D(1), D(100), 5) == 0
    assert added_order_margin(D(1), None, Side.SELL, D(3), D(100), 5) == D(40)
    assert added_order_margin(D(0), None, Side.BUY, D(2), D(100), 5) == D(40)


def test_position_margin_values_the_position_at_the_mark() -> None:
    from_short = position_margin(D(-2), D(100), D(110), 5, D("0.004"))
    assert from_short == (D(-20), D(44), D("0.88"))
    assert position_margin(D(0), D(0), D(110), 5, D("0.004")) == (D(0), D(0), D(0))
