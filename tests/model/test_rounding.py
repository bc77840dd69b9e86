"""Property tests for the one place rounding happens."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategy_client.model import (
    Exchange,
    Instrument,
    InstrumentKey,
    MarketKind,
    OrderTooSmall,
    OrderType,
    PriceOutOfRange,
    Side,
    check_order,
    fit_order,
    round_down,
    round_price,
    round_up,
    to_plain,
)

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)

steps = st.sampled_from(
    [Decimal(s) for s in ("1", "0.1", "0.01", "0.001", "0.00001", "0.00000001", "5", "0.5", "0.25")]
)
values = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("1000000"), places=10, allow_nan=False
)


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    tick = draw(steps)
    step = draw(steps)
    min_qty = step * draw(st.integers(min_value=1, max_value=10))
    max_qty = draw(st.sampled_from([Decimal(0), step * 100000]))
    min_notional = draw(st.sampled_from([Decimal(0), Decimal("5"), Decimal("100")]))
    return Instrument(
        key=KEY,
        base="BTC",
        quote="USDT",
        settle="USDT",
        tick_size=tick,
        step_size=step,
        min_qty=min_qty,
        max_qty=max_qty,
        min_notional=min_notional,
        max_price=draw(st.sampled_from([Decimal(0), Decimal("2000000")])),
    )


@given(values, steps)
def test_round_down_never_exceeds_and_is_on_grid(v: Decimal, step: Decimal) -> None:
    r = round_down(v, step)
    assert r <= v
    assert v - r < step
    assert r % step == 0


@given(values, steps)
def test_round_up_never_below_and_is_on_grid(v: Decimal, step: Decimal) -> None:
    r = round_up(v, step)
    assert r >= v
    assert r - v < step
    assert r % step == 0


@given(instruments(), st.sampled_from(list(Side)), values)
def test_passive_price_rounding_never_more_aggressive(inst: Instrument, side: Side, price: Decimal) -> None:
    r = round_price(inst, side, price)
    if side is Side.BUY:
        assert r <= price
    else:
        assert r >= price
    aggressive = round_price(inst, side, price, aggressive=True)
    if side is Side.BUY:
        assert aggressive >= price
    else:
        assert aggressive <= price


@settings(max_examples=300)
@given(instruments(), st.sampled_from(list(Side)), st.sampled_from(list(OrderType)), values, values)
def test_fitted_order_passes_filters_or_is_refused(
    inst: Instrument, side: Side, otype: OrderType, qty: Decimal, price: Decimal
) -> None:
    ref = price
    try:
        fitted = fit_order(
            inst, side, otype, qty, price if otype is OrderType.LIMIT else None, reference_price=ref
        )
    except (OrderTooSmall, PriceOutOfRange):
        return
    # never trades more than asked
    assert fitted.qty <= qty
    assert check_order(inst, otype, fitted.qty, fitted.price, reference_price=ref) == []
    if otype is OrderType.LIMIT:
        assert fitted.price is not None
        assert abs(fitted.price - price) < inst.tick_size


def test_sell_size_is_never_rounded_up() -> None:
    inst = Instrument(
        key=KEY,
        base="BTC",
        quote="USDT",
        settle="USDT",
        tick_size=Decimal("0.1"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
    )
    fitted = fit_order(inst, Side.SELL, OrderType.LIMIT, Decimal("0.0129999"), Decimal("64250.17"))
    assert fitted.qty == Decimal("0.012")
    assert fitted.price == Decimal("64250.2")
    assert to_plain(fitted.qty) == "0.012"


def test_too_small_names_the_filter() -> None:
    inst = Instrument(
        key=KEY,
        base="BTC",
        quote="USDT",
        settle="USDT",
        tick_size=Decimal("0.1"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        min_notional=Decimal("100"),
    )
    with pytest.raises(OrderTooSmall, match="MIN_NOTIONAL"):
        fit_order(inst, Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("50000"))
    with pytest.raises(OrderTooSmall, match="LOT_SIZE"):
        fit_order(inst, Side.BUY, OrderType.LIMIT, Decimal("0.0009"), Decimal("50000"))


def test_to_plain_has_no_exponent() -> None:
    assert to_plain(Decimal("1E-8")) == "0.00000001"
    assert to_plain(Decimal("1E+2")) == "100"
