"""The runner's TOML carries the gate's ``[risk]`` section (docs/risk.md, "Configuration")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from exchange_runner.config import ConfigError, load_config
from strategy_client.model import RiskLimits

ROOT = Path(__file__).resolve().parents[2]


def test_no_risk_section_means_no_limit(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('[runner]\nsymbols = ["BTCUSDT"]\n')
    assert load_config(path, {}).risk == RiskLimits()
    assert load_config(None, {}).risk == RiskLimits()


def test_risk_beside_runner_and_in_a_flat_file(tmp_path: Path) -> None:
    nested = tmp_path / "nested.toml"
    nested.write_text('[runner]\nsymbols = ["BTCUSDT"]\n\n[risk]\nmax_open_orders = 7\n')
    assert load_config(nested, {}).risk.max_open_orders == 7
    flat = tmp_path / "flat.toml"
    flat.write_text('symbols = ["BTCUSDT"]\n\n[risk.instruments."perp:BTCUSDT"]\nmax_order_qty = "0.5"\n')
    cfg = load_config(flat, {})
    assert cfg.risk.instruments["perp:BTCUSDT"].max_order_qty == Decimal("0.5")
    assert cfg.symbols == ["BTCUSDT"]


def test_the_example_config_loads() -> None:
    cfg = load_config(ROOT / "configs" / "risk.example.toml", {})
    assert cfg.risk.max_open_orders == 50 and cfg.risk.defaults.price_collar == Decimal("0.05")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[risk]\nmax_qty = "1"\n', "unknown"),
        ("[risk]\nmax_open_orders = 0\n", "risk.max_open_orders: Expected `int` >= 1"),
        ('[risk.instruments."perp:BTCUSDT"]\nmax_concentration = "1.5"\n', "max_concentration"),
    ],
)
def test_a_bad_risk_section_is_one_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[runner]\nsymbols = ["BTCUSDT"]\n\n' + text)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)
