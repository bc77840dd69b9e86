"""Run-time limit changes: tightening is accepted at once, loosening is refused unless the config allows it."""

from __future__ import annotations

import msgspec
import pytest

from exchange_runner.risk import RiskChangeRefused, RiskConfigError, RiskRejected, loosened_fields, parse_risk_section
from strategy_client.model import LimitName, RiskEventKind, Side

from .builders import BTC_P, BTC_S, EX, KEYS, D, gate, inputs, limit, open_order

BUY = Side.BUY

BASE = {
    "max_open_orders": 10,
    "orders_per_second": 5,
    "daily_loss_limit": "1000",
    "defaults": {"max_order_qty": "2", "price_collar": "0.05"},
    "instruments": {"perp:BTCUSDT": {"max_order_qty": "1"}},
}


def test_tighten_an_instrument_limit_takes_effect_on_the_next_order() -> None:
    g = gate(BASE)
    g.check(limit(BTC_P, BUY, "1", "50000"))
    new = g.set_limit("max_order_qty", "0.5", instrument="perp:BTCUSDT", by="alice")
    assert g.effective_limits(BTC_P).max_order_qty == D("0.5")
    assert new.instruments["perp:BTCUSDT"].max_order_qty == D("0.5")
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "0.6", "50000"))
    assert err.value.breach.limit_value == D("0.5")
    ev = [e for e in g.drain_events() if e.kind is RiskEventKind.LIMITS]
    assert len(ev) == 1 and "alice" in ev[0].reason


def test_tighten_defaults_account_limits_and_add_new_ones() -> None:
    g = gate(BASE)
    g.set_limit("defaults.max_order_qty", "1.5")
    assert g.effective_limits(BTC_S).max_order_qty == D("1.5")
    assert g.effective_limits(BTC_P).max_order_qty == D(1)  # its own table wins
    g.set_limit("max_open_orders", "5")
    g.set_limit("max_leverage", "2")  # a limit that was off: switching it on tightens
    g.set_limit("max_order_notional", "10000", instrument="spot:BTCUSDT")  # a new instrument table
    assert g.limits.max_open_orders == 5 and g.limits.max_leverage == D(2)
    assert g.effective_limits(BTC_S).max_order_notional == D(10000)
    assert g.effective_limits(BTC_S).max_order_qty == D("1.5")


@pytest.mark.parametrize(
    ("field", "value", "instrument", "loosened"),
    [
        ("max_order_qty", "1.1", "perp:BTCUSDT", "binance:perp:BTCUSDT.max_order_qty"),
        ("max_order_qty", None, "perp:BTCUSDT", "binance:perp:BTCUSDT.max_order_qty"),  # back to defaults (2)
        ("defaults.price_collar", "0.1", "", "price_collar"),
        ("defaults.price_collar", "", "", "price_collar"),
        ("max_open_orders", "11", "", "max_open_orders"),
        ("orders_per_second", None, "", "orders_per_second"),
        ("daily_loss_limit", "1000.01", "", "daily_loss_limit"),
        ("enabled", "false", "", "enabled"),
        ("drawdown_action", "reducing", "", "drawdown_action"),
        ("day_start_utc", "01:00", "", "day_start_utc"),
        ("allow_runtime_loosening", "true", "", "allow_runtime_loosening"),
    ],
)
def test_loosening_is_refused_and_changes_nothing(
    field: str, value: str | None, instrument: str, loosened: str
) -> None:
    g = gate(BASE)
    before = g.limits
    with pytest.raises(RiskChangeRefused, match="allow_runtime_loosening = false") as err:
        g.set_limit(field, value, instrument=instrument)
    assert loosened in str(err.value)
    assert g.limits is before
    assert g.drain_events() == []


def test_loosening_is_allowed_when_the_config_says_so() -> None:
    g = gate({**BASE, "allow_runtime_loosening": True})
    g.set_limit("max_order_qty", "3", instrument="perp:BTCUSDT")
    g.check(limit(BTC_P, BUY, "3", "50000"))
    g.set_limit("allow_runtime_loosening", "false")  # tightening the switch itself is fine
    with pytest.raises(RiskChangeRefused):
        g.set_limit("max_order_qty", "4", instrument="perp:BTCUSDT")


def test_replace_limits_and_the_loosened_list() -> None:
    g = gate(BASE)
    old = g.limits
    tighter = msgspec.structs.replace(old, max_open_orders=3, orders_per_second=1)
    assert g.replace_limits(tighter) == []
    assert g.limits.max_open_orders == 3
    looser = parse_risk_section({**BASE, "max_open_orders": 20})
    assert loosened_fields(tighter, looser, KEYS, EX) == ["max_open_orders", "orders_per_second"]


def test_bad_admin_changes_are_config_errors() -> None:
    g = gate(BASE)
    with pytest.raises(RiskConfigError, match="unknown limit 'max_qty'"):
        g.set_limit("max_qty", "1", instrument="perp:BTCUSDT")
    with pytest.raises(RiskConfigError, match="not an instrument this runner serves"):
        g.set_limit("max_order_qty", "1", instrument="perp:DOGEUSDT")
    with pytest.raises(RiskConfigError, match="Expected `int` >= 1"):
        g.set_limit("max_open_orders", "0")
    with pytest.raises(RiskConfigError, match="unknown limit 'instruments'"):
        g.set_limit("instruments", "1")


def test_tightened_open_orders_limit_refuses_at_once() -> None:
    inp = inputs()
    g = gate(BASE, inp)
    for i in range(3):
        inp.tally.update(open_order(f"o{i}", BTC_P, BUY, "0.1"))
    g.set_limit("max_open_orders", "3")
    with pytest.raises(RiskRejected) as err:
        g.check(limit(BTC_P, BUY, "0.1", "50000"))
    assert err.value.limit is LimitName.MAX_OPEN_ORDERS
