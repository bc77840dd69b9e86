"""Daily realised-loss limit, drawdown from the day's high-water mark, the UTC day boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_runner.risk import DAY_MS, RiskChangeRefused, RiskRejected
from strategy_client.model import LimitName, RiskEventKind, Side, TradingState

from .builders import BTC_P, NOON_MS, Clocks, D, gate, inputs, limit, market

BUY, SELL = Side.BUY, Side.SELL


@given(st.lists(st.decimals(min_value=-400, max_value=300, places=2), min_size=1, max_size=40))
def test_loss_limit_trips_halted_exactly_when_the_day_loses_the_limit(amounts: list[Decimal]) -> None:
    clocks = Clocks()
    g = gate({"daily_loss_limit": "1000"}, clocks=clocks)
    total = Decimal(0)
    tripped_at = None
    for i, amount in enumerate(amounts):
        g.record_realized(amount, clocks.wall_ms + i)
        total += amount
        if tripped_at is None and total <= -1000:
            tripped_at = i
        assert (g.state is TradingState.HALTED) == (tripped_at is not None)
    assert g.day_realized == total
    states = [e for e in g.drain_events() if e.kind is RiskEventKind.STATE]
    if tripped_at is None:
        assert states == []
    else:
        assert len(states) == 1  # tripped once, latched
        ev = states[0]
        assert ev.state is TradingState.HALTED and ev.breach is not None
        assert ev.breach.limit is LimitName.DAILY_LOSS and ev.breach.limit_value == 1000


def test_a_losing_sequence_halts_and_refuses_orders_until_a_forced_resume() -> None:
    clocks = Clocks()
    g = gate({"daily_loss_limit": "500"}, inputs(positions={BTC_P: "1"}), clocks)
    for loss in ("-200", "150", "-300", "-149.99"):
        g.record_realized(D(loss), clocks.wall_ms)
    assert g.state is TradingState.ACTIVE  # -499.99
    g.check(limit(BTC_P, BUY, "0.1", "50000"))
    g.record_realized(D("-0.01"), clocks.wall_ms)
    assert g.state is TradingState.HALTED and g.state_reason == "tripped: daily_loss"
    with pytest.raises(RiskRejected) as err:
        g.check(market(BTC_P, SELL, "1", reduce_only=True))
    assert err.value.limit is LimitName.TRADING_STATE
    with pytest.raises(RiskChangeRefused, match="daily_loss"):
        g.set_state(TradingState.REDUCING)
    g.set_state(TradingState.REDUCING, "flatten", force=True)
    assert not g.armed
    g.check(market(BTC_P, SELL, "1", reduce_only=True))
    g.record_realized(D("-1000"), clocks.wall_ms)  # disarmed: no new trip today
    assert g.state is TradingState.REDUCING
    # stricter states are always allowed
    g.set_state(TradingState.HALTED)


def test_new_day_resets_the_loss_keeps_the_state_and_rearms() -> None:
    clocks = Clocks()
    g = gate({"daily_loss_limit": "100"}, clocks=clocks)
    g.record_realized(D(-100), clocks.wall_ms)
    assert g.state is TradingState.HALTED
    day1 = g.day_start_ms
    clocks.advance(12 * 3600)  # midnight UTC
    g.record_realized(D(-10), clocks.wall_ms)
    assert g.day_start_ms == day1 + DAY_MS
    assert g.day_realized == -10
    assert g.state is TradingState.HALTED  # trips latch across the day edge
    kinds = [e.kind for e in g.drain_events()]
    assert kinds == [RiskEventKind.STATE, RiskEventKind.DAY]
    g.set_state(TradingState.ACTIVE, "new day")  # no breach today: allowed without force
    g.record_realized(D(-90), clocks.wall_ms)
    assert g.state is TradingState.HALTED


def test_day_boundary_is_configurable_and_amounts_land_in_their_own_day() -> None:
    clocks = Clocks(wall_ms=NOON_MS)
    g = gate({"daily_loss_limit": "100", "day_start_utc": "22:00"}, clocks=clocks)
    assert g.day_start_ms == NOON_MS - 14 * 3600_000  # yesterday 22:00
    edge = NOON_MS + 10 * 3600_000  # today 22:00
    g.record_realized(D(-60), edge - 1)
    g.record_realized(D(-60), edge)  # the next day: the first -60 does not count
    assert g.day_realized == -60 and g.state is TradingState.ACTIVE
    g.record_realized(D(-500), edge - 1)  # late, from the day before: not counted
    assert g.late_realized == 1 and g.day_realized == -60


def test_check_rolls_the_day_by_the_wall_clock() -> None:
    clocks = Clocks()
    g = gate({"daily_loss_limit": "100"}, clocks=clocks)
    g.record_realized(D(-50), clocks.wall_ms)
    clocks.advance(12 * 3600)
    g.check(limit(BTC_P, BUY, "0.1", "50000"))
    assert g.day_realized == 0
    assert any(e.kind is RiskEventKind.DAY for e in g.drain_events())


def test_drawdown_from_the_days_high_water_mark_trips_on_observe() -> None:
    clocks = Clocks()
    inp = inputs(equity="100000")
    g = gate({"max_drawdown": "5000", "drawdown_action": "reducing"}, inp, clocks)
    g.observe()
    assert g.high_water_mark == 100000
    inp.account_equity = D(110000)
    g.observe()
    assert g.high_water_mark == 110000
    inp.account_equity = D("105000.01")
    g.observe()
    assert g.state is TradingState.ACTIVE
    inp.account_equity = D(105000)
    g.observe()
    assert g.state is TradingState.REDUCING
    ev = next(e for e in g.drain_events() if e.kind is RiskEventKind.STATE)
    assert ev.breach is not None and ev.breach.limit is LimitName.DRAWDOWN and ev.breach.requested == 5000
    # the next day the high-water mark starts again from the equity then
    clocks.advance(12 * 3600)
    g.observe()
    assert g.high_water_mark == 105000 and g.state is TradingState.REDUCING


def test_drawdown_trips_on_the_order_path_and_names_itself() -> None:
    inp = inputs(equity="100000")
    g = gate({"max_drawdown": "1000"}, inp)
    g.check(limit(BTC_P, BUY, "0.1", "50000"))  # sets the high-water mark
    inp.account_equity = D(99000)
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "0.1", "50000"))
    b = err.value.breach
    assert (b.limit, b.limit_value, b.requested) == (LimitName.DRAWDOWN, 1000, 1000)
    assert g.state is TradingState.HALTED


def test_observe_trips_a_loss_limit_tightened_below_todays_loss() -> None:
    clocks = Clocks()
    g = gate({"daily_loss_limit": "1000"}, clocks=clocks)
    g.record_realized(D(-600), clocks.wall_ms)
    g.set_limit("daily_loss_limit", "500")
    assert g.state is TradingState.HALTED


def test_moving_the_day_edge_moves_the_edges_not_the_loss() -> None:
    clocks = Clocks()  # noon
    g = gate({"daily_loss_limit": "100", "allow_runtime_loosening": True}, clocks=clocks)
    g.record_realized(D(-60), clocks.wall_ms)
    g.set_limit("day_start_utc", "13:00")
    assert g.day_start_ms == NOON_MS - 23 * 3600_000
    assert g.day_realized == -60
    clocks.advance(3600)
    g.observe()
    assert g.day_start_ms == NOON_MS + 3600_000 and g.day_realized == 0
