"""The [risk] TOML section: the example loads, unknown keys and bad values get one clear line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from exchange_runner.risk import RiskConfigError, load_risk_file, parse_risk_section, resolve_limits
from strategy_client.model import DrawdownAction, InstrumentLimits, RiskLimits

from .builders import BTC_P, BTC_S, ETH_P, ETH_S, EX, KEYS, D

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "risk.example.toml"


def test_example_config_loads_and_resolves_per_instrument() -> None:
    limits = load_risk_file(EXAMPLE)
    assert limits.max_leverage == D(3) and limits.orders_per_second == 10
    assert limits.drawdown_action is DrawdownAction.HALTED
    eff = resolve_limits(limits, EX, KEYS)
    assert eff[BTC_P].max_order_qty == D(1)
    assert eff[BTC_P].max_order_notional == D(100000)  # from the defaults
    assert eff[ETH_P].max_position_qty == D(40)
    assert eff[ETH_S] == limits.defaults


def test_risk_section_sits_next_to_the_runner_section() -> None:
    doc = tomllib.loads(
        '[runner]\nexchange = "binance"\n\n[risk]\nmax_open_orders = 5\n[risk.instruments."binance:spot:BTCUSDT"]\n'
        'max_order_qty = "0.1"\n'
    )
    limits = parse_risk_section(doc.get("risk"))
    assert limits.max_open_orders == 5
    assert resolve_limits(limits, EX, KEYS)[BTC_S].max_order_qty == D("0.1")


def test_no_section_means_no_limits() -> None:
    assert parse_risk_section(None) == RiskLimits()
    assert InstrumentLimits() == RiskLimits().defaults


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"max_open_order": 5}, "risk: unknown key 'max_open_order'"),
        ({"defaults": {"max_qty": "1"}}, "risk.defaults: unknown key 'max_qty'"),
        (
            {"instruments": {"perp:BTCUSDT": {"max_qty": "1"}}},
            "risk.instruments.\"perp:BTCUSDT\": unknown key 'max_qty'",
        ),
        ({"max_open_orders": 0}, "risk.max_open_orders: Expected `int` >= 1"),
        ({"orders_per_second": "ten"}, "risk.orders_per_second: Expected `int | null`, got `str`"),
        ({"daily_loss_limit": "-5"}, "risk.daily_loss_limit: -5 must be a finite number >= 0"),
        ({"defaults": {"price_collar": "abc"}}, "risk.defaults.price_collar: Invalid decimal"),
        ({"defaults": {"max_concentration": "1.5"}}, "risk.defaults.max_concentration: 1.5 must be between 0 and 1"),
        (
            {"instruments": {"perp:BTCUSDT": {"max_order_qty": "-1"}}},
            'risk.instruments."perp:BTCUSDT".max_order_qty: -1 must be',
        ),
        ({"day_start_utc": "24:00"}, "risk.day_start_utc: '24:00' is not HH:MM"),
        ({"drawdown_action": "panic"}, "risk.drawdown_action: Invalid enum value 'panic'"),
        ({"instruments": "x"}, "risk.instruments: must be a table"),
    ],
)
def test_bad_sections_name_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(RiskConfigError) as err:
        parse_risk_section(section)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("perp:DOGEUSDT", "binance:perp:DOGEUSDT is not an instrument this runner serves"),
        ("bybit:perp:BTCUSDT", "bybit:perp:BTCUSDT is not an instrument this runner serves"),
        ("futures:BTCUSDT", "unknown market kind"),
    ],
)
def test_instrument_tables_must_name_served_instruments(name: str, message: str) -> None:
    limits = parse_risk_section({"instruments": {name: {"max_order_qty": "1"}}})
    with pytest.raises(RiskConfigError, match=message):
        resolve_limits(limits, EX, KEYS)


def test_two_tables_for_one_instrument_are_refused() -> None:
    limits = parse_risk_section(
        {"instruments": {"perp:BTCUSDT": {"max_order_qty": "1"}, "binance:perp:BTCUSDT": {"max_order_qty": "2"}}}
    )
    with pytest.raises(RiskConfigError, match="two tables"):
        resolve_limits(limits, EX, KEYS)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(RiskConfigError, match="does not exist"):
        load_risk_file(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_leverage = \n")
    with pytest.raises(RiskConfigError, match=r"bad.toml"):
        load_risk_file(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("[risk]\nmax_levrage = 3\n")
    with pytest.raises(RiskConfigError, match=r"typo.toml: risk: unknown key 'max_levrage'"):
        load_risk_file(typo)
