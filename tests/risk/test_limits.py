"""Each limit refuses the order that crosses it — with its name and numbers — and lets the one at the limit pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_runner.risk import MemoryInputs, RiskRejected, reduces_exposure
from strategy_client.model import LimitName, OrderRequest, RiskEventKind, Side, TradingState

from .builders import BTC_P, BTC_S, ETH_P, ETH_S, D, gate, inputs, limit, market, open_order

BUY, SELL = Side.BUY, Side.SELL


@dataclass
class Case:
    name: str
    config: dict[str, Any]
    passes: OrderRequest
    refused: OrderRequest
    numbers: tuple[LimitName, str, str, str]  # limit, limit value, requested, current
    positions: dict[Any, str] = field(default_factory=dict)
    open_orders: list[tuple[Any, Side, str]] = field(default_factory=list)
    asks: dict[Any, str] = field(default_factory=dict)


CASES = [
    Case(
        "max_order_qty",
        {"defaults": {"max_order_qty": "1"}},
        limit(BTC_P, BUY, "1", "50000"),
        limit(BTC_P, BUY, "1.00000001", "50000"),
        (LimitName.MAX_ORDER_QTY, "1", "1.00000001", "0"),
    ),
    Case(
        "max_order_qty per instrument over defaults",
        {"defaults": {"max_order_qty": "100"}, "instruments": {"spot:BTCUSDT": {"max_order_qty": "0.5"}}},
        limit(BTC_S, SELL, "0.5", "50000"),
        limit(BTC_S, SELL, "0.51", "50000"),
        (LimitName.MAX_ORDER_QTY, "0.5", "0.51", "0"),
    ),
    Case(
        "max_order_notional (limit price)",
        {"defaults": {"max_order_notional": "50000"}},
        limit(BTC_P, BUY, "1", "50000"),
        limit(BTC_P, BUY, "1", "50000.01"),
        (LimitName.MAX_ORDER_NOTIONAL, "50000", "50000.01", "0"),
    ),
    Case(
        "max_order_notional (market: the ask)",
        {"defaults": {"max_order_notional": "50000"}},
        market(BTC_P, BUY, "0.99998"),  # × ask 50001 = 49999.99998
        market(BTC_P, BUY, "1"),
        (LimitName.MAX_ORDER_NOTIONAL, "50000", "50001", "0"),
    ),
    Case(
        "max_position_qty (open same-side orders count)",
        {"defaults": {"max_position_qty": "2"}},
        limit(BTC_P, BUY, "0.2", "50000"),
        limit(BTC_P, BUY, "0.21", "50000"),
        (LimitName.MAX_POSITION_QTY, "2", "2.01", "1.8"),
        positions={BTC_P: "1.5"},
        open_orders=[(BTC_P, BUY, "0.3"), (BTC_P, SELL, "5")],  # open sells earn no credit
    ),
    Case(
        "max_position_qty through zero to the other side",
        {"defaults": {"max_position_qty": "2"}},
        limit(BTC_P, SELL, "3.5", "50000"),
        limit(BTC_P, SELL, "3.51", "50000"),
        (LimitName.MAX_POSITION_QTY, "2", "2.01", "1.5"),
        positions={BTC_P: "1.5"},
    ),
    Case(
        "max_position_notional",
        {"defaults": {"max_position_notional": "100000"}},
        limit(ETH_S, BUY, "30", "2500"),
        limit(ETH_S, BUY, "30.0004", "2500"),
        (LimitName.MAX_POSITION_NOTIONAL, "100000", "100001.0000", "25000"),
        positions={ETH_S: "10"},
    ),
    Case(
        "max_leverage (worst-case gross / equity)",
        {"max_leverage": "2"},
        limit(BTC_P, BUY, "3.5", "50000"),
        limit(BTC_P, BUY, "3.5002", "50000"),
        (LimitName.MAX_LEVERAGE, "2", "2.000100", "0.25"),
        positions={ETH_P: "-10"},
    ),
    Case(
        "max_open_orders",
        {"max_open_orders": 3},
        limit(BTC_P, BUY, "0.1", "50000"),
        limit(BTC_P, BUY, "0.1", "50000"),
        (LimitName.MAX_OPEN_ORDERS, "3", "4", "3"),
        open_orders=[(ETH_P, BUY, "1"), (ETH_S, SELL, "1")],  # the passing order makes the third
    ),
    Case(
        "max_open_positions (an order on a flat instrument opens one)",
        {"max_open_positions": 2},
        limit(BTC_P, BUY, "0.1", "50000"),  # BTC_P is open already
        limit(ETH_S, BUY, "1", "2500"),
        (LimitName.MAX_OPEN_POSITIONS, "2", "3", "2"),
        positions={BTC_P: "1", ETH_P: "-1"},
    ),
    Case(
        "price_collar above the reference",
        {"defaults": {"price_collar": "0.05"}},
        limit(BTC_P, BUY, "0.1", "52500"),
        limit(BTC_P, BUY, "0.1", "52500.01"),
        (LimitName.PRICE_COLLAR, "52500.00", "52500.01", "50000"),
    ),
    Case(
        "price_collar below the reference",
        {"defaults": {"price_collar": "0.05"}},
        limit(BTC_P, SELL, "0.1", "47500"),
        limit(BTC_P, SELL, "0.1", "47499.99"),
        (LimitName.PRICE_COLLAR, "47500.00", "47499.99", "50000"),
    ),
    Case(
        "price_collar for a market order: the book side against the reference",
        {"defaults": {"price_collar": "0.05"}},
        market(ETH_P, BUY, "1"),
        market(BTC_P, BUY, "1"),
        (LimitName.PRICE_COLLAR, "52500.00", "52500.01", "50000"),
        asks={ETH_P: "2625", BTC_P: "52500.01"},
    ),
    Case(
        "max_concentration",
        {"defaults": {"max_concentration": "0.5"}},
        limit(BTC_P, BUY, "1", "50000"),
        limit(BTC_P, BUY, "1.0002", "50000"),
        (LimitName.CONCENTRATION, "0.5", "0.500050", "0"),
        positions={ETH_P: "-20"},
    ),
]


def _setup(case: Case) -> MemoryInputs:
    inp = inputs(positions=case.positions)
    for i, (key, side, qty) in enumerate(case.open_orders):
        inp.tally.update(open_order(f"o{i}", key, side, qty))
    for key, px in case.asks.items():
        inp.asks[key] = D(px)
    return inp


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_limit_refuses_the_crossing_order_and_passes_the_one_at_the_limit(case: Case) -> None:
    inp = _setup(case)
    g = gate(case.config, inp)
    g.check(case.passes, "alice")
    if case.numbers[0] is LimitName.MAX_OPEN_ORDERS:
        inp.tally.update(open_order("passed", case.passes.key, case.passes.side, str(case.passes.qty)))
    with pytest.raises(RiskRejected) as err:
        g.check(case.refused, "alice")
    b = err.value.breach
    name, lim, requested, current = case.numbers
    assert b.limit is name
    assert (b.limit_value, b.requested, b.current) == (D(lim), D(requested), D(current)), b
    assert str(err.value).startswith(f"risk: {name.value}")
    assert "\n" not in str(err.value)
    assert g.refused[name] == 1 and sum(g.refused.values()) == 1
    assert (g.checked, g.passed) == (2, 1)
    refusals = [e for e in g.drain_events() if e.kind is RiskEventKind.REFUSED]
    assert len(refusals) == 1 and refusals[0].breach == b and refusals[0].client == "alice"


def test_concentration_is_not_checked_below_the_minimum_gross() -> None:
    cfg = {"defaults": {"max_concentration": "0.5"}, "concentration_min_gross": "60000"}
    g = gate(cfg)
    g.check(limit(BTC_P, BUY, "1.2", "50000"))  # gross 60000, not above the minimum
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "1.2002", "50000"))
    assert err.value.limit is LimitName.CONCENTRATION


def test_orders_that_reduce_pass_limits_already_exceeded() -> None:
    """A position above a (tightened) limit can always be reduced; it cannot grow."""
    cfg = {"defaults": {"max_position_qty": "2", "max_concentration": "0.1"}, "max_leverage": "1"}
    g = gate(cfg, inputs(positions={BTC_P: "3"}, equity="100000"))
    g.check(limit(BTC_P, SELL, "1", "50000"))
    g.check(market(BTC_P, SELL, "9", reduce_only=True))
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "0.001", "50000"))
    assert err.value.limit is LimitName.MAX_POSITION_QTY


def test_no_reference_price_refuses_priced_checks() -> None:
    inp = inputs()
    del inp.references[BTC_P]
    g = gate({"defaults": {"price_collar": "0.05"}}, inp)
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "0.1", "50000"))
    assert err.value.limit is LimitName.REFERENCE_PRICE
    del inp.asks[ETH_P]
    with pytest.raises(RiskRejected) as err:
        g.check(market(ETH_P, BUY, "1"))
    assert err.value.limit is LimitName.REFERENCE_PRICE and "no ask" in str(err.value)
    g.check(market(ETH_P, SELL, "1"))


def test_no_priced_limit_needs_no_price() -> None:
    inp = inputs()
    inp.references.clear()
    g = gate({"defaults": {"max_order_qty": "1"}, "max_open_orders": 5}, inp)
    g.check(market(BTC_P, BUY, "1"))


def test_leverage_needs_a_known_positive_equity() -> None:
    g = gate({"max_leverage": "3"}, inputs(equity=None))
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "0.1", "50000"))
    assert err.value.limit is LimitName.MAX_LEVERAGE and "equity unknown" in str(err.value)


def test_exposure_of_other_instruments_needs_their_price() -> None:
    inp = inputs(positions={ETH_P: "-10"})
    del inp.references[ETH_P]
    g = gate({"max_leverage": "3"}, inp)
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "0.1", "50000"))
    assert err.value.limit is LimitName.REFERENCE_PRICE and err.value.breach.key == ETH_P


def test_a_disabled_gate_passes_every_limit_but_not_the_trading_state() -> None:
    g = gate({"enabled": False, "defaults": {"max_order_qty": "1"}}, inputs(positions={BTC_P: "2"}))
    g.check(limit(BTC_P, BUY, "1000", "1"))
    assert (g.checked, g.passed) == (1, 1)
    g.set_state(TradingState.REDUCING)
    g.check(limit(BTC_P, SELL, "2", "1"))
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, SELL, "2.5", "1"))
    assert err.value.limit is LimitName.TRADING_STATE
    g.set_state(TradingState.HALTED)  # the kill switch works with the limits off
    with pytest.raises(RiskRejected):
        g.check(limit(BTC_P, SELL, "1", "1"))
    assert (g.checked, g.passed) == (4, 2)


def test_worst_case_gross_takes_the_larger_side_of_each_instrument() -> None:
    """Open orders on both sides: the exposure counted is the larger of 'every buy fills' and
    'every sell fills', never their net."""
    inp = inputs(positions={ETH_P: "1"})
    inp.tally.update(open_order("b", ETH_P, BUY, "3"))  # worst long: 4
    inp.tally.update(open_order("s", ETH_P, SELL, "9"))  # worst short: -8 → 8 × 2500 = 20000
    g = gate({"max_leverage": "1"}, inp, None)
    g.check(limit(BTC_P, BUY, "1.6", "50000"))  # 80000 + 20000 = 100000 = equity
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "1.6001", "50000"))
    assert err.value.limit is LimitName.MAX_LEVERAGE


def test_refused_numbers_for_rates_and_states_are_decimals() -> None:
    inp = inputs()
    g = gate({"max_open_orders": 1}, inp)
    inp.tally.update(open_order("x", BTC_P, BUY, "1"))
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "1", "50000"))
    assert all(isinstance(v, Decimal) for v in (err.value.breach.limit_value, err.value.breach.requested))


def test_an_instrument_the_runner_does_not_serve_gets_the_defaults() -> None:
    from strategy_client.model import Exchange, InstrumentKey, MarketKind

    other = InstrumentKey(Exchange.BINANCE, "SOLUSDT", MarketKind.PERP)
    inp = inputs()
    inp.references[other] = D(100)
    g = gate({"defaults": {"max_order_qty": "1"}, "max_leverage": "5"}, inp)
    g.check(limit(other, BUY, "1", "100"))
    with pytest.raises(RiskRejected):
        g.check(limit(other, BUY, "2", "100"))
    assert other not in g.tally._cells  # a stray key leaves nothing behind


cents = st.decimals(min_value=Decimal("0.01"), max_value=50, places=2)


@given(
    max_pos=cents,
    pos=st.decimals(min_value=-50, max_value=50, places=2),
    open_same=st.decimals(min_value=0, max_value=20, places=2),
    buy=st.booleans(),
)
def test_position_limit_boundary_for_any_state(max_pos: Decimal, pos: Decimal, open_same: Decimal, buy: bool) -> None:
    """For any position and open orders: the largest order that keeps the worst case within the
    limit passes, one step more is refused — unless the order reduces (then it always passes)."""
    side = BUY if buy else SELL
    inp = inputs(positions={BTC_P: str(pos)})
    if open_same:
        inp.tally.update(open_order("o", BTC_P, side, str(open_same)))
    g = gate({"defaults": {"max_position_qty": str(max_pos)}}, inp)
    worst_before = pos + open_same if buy else -(pos - open_same)  # signed toward the order's side
    room = max_pos - worst_before  # what this order may add on its side
    if room > 0:
        g.check(limit(BTC_P, side, str(room), "50000"))
    bigger = room + Decimal("0.01") if room > 0 else Decimal("0.01")
    crossing = limit(BTC_P, side, str(bigger), "50000")
    if abs(worst_before + bigger) <= max_pos or reduces_exposure(BTC_P.kind, pos, side, bigger, False, open_same):
        g.check(crossing)
    else:
        with pytest.raises(RiskRejected) as err:
            g.check(crossing)
        assert err.value.limit is LimitName.MAX_POSITION_QTY
        assert err.value.breach.requested == abs(worst_before + bigger)
