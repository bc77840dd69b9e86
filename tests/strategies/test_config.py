"""Strategy configs: the shipped TOMLs load, unknown keys are rejected by name, flags override."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from strategies.arbitrage.config import (
    PerpPerpConfig,
    SpotPerpConfig,
    load_perpperp,
    load_spotperp,
    merge_overrides,
    parse_config,
)
from strategies.arbitrage.errors import StrategyConfigError
from strategies.arbitrage.execution import LegOrderType
from strategies.arbitrage.funding import FundingMode
from strategy_client.model import Exchange

D = Decimal
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "strategies"


def test_shipped_configs_load_and_match_the_defaults_where_documented() -> None:
    sp = load_spotperp(CONFIGS / "spotperp.toml")
    assert sp.exchange is Exchange.BINANCE and sp.size == D("0.01")
    assert sp.fees.spot.taker == D("0.001") and sp.fees.perp.maker == D("0.0002")
    assert sp.decision.funding_mode is FundingMode.SETTLEMENTS
    assert str(sp.spot_key) == "binance:spot:BTCUSDT" and str(sp.perp_key) == "binance:perp:BTCUSDT"
    pp = load_perpperp(CONFIGS / "perpperp.toml")
    assert pp.exchanges == [Exchange.BINANCE, Exchange.BYBIT]
    assert pp.execution.order_type is LegOrderType.LIMIT_IOC
    assert pp.fees_for(Exchange.BYBIT).taker == D("0.00055")
    assert pp.fees_for(Exchange.OKX).taker == D("0.0005")  # not configured: perp defaults


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("sizee = 1\n", "sizee"),
        ("[decision]\nentry_treshold_bps = 5\n", "decision.entry_treshold_bps"),
        ("[fees.spot]\ntaker = 0.001\nrebate = 0.1\n", "fees.spot.rebate"),
        ("[margin]\nleverage = 3\n[margin.extra]\nx = 1\n", "margin.extra"),
    ],
)
def test_unknown_keys_are_rejected_by_name(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "sp.toml"
    path.write_text(text)
    with pytest.raises(StrategyConfigError) as info:
        load_spotperp(path)
    assert info.value.field == key
    assert str(info.value).startswith(f"{key}: unknown key in {path}")


def test_bad_values_name_their_field(tmp_path: Path) -> None:
    with pytest.raises(StrategyConfigError, match=r"^decision\.horizon_s: Expected `float`, got `str`"):
        load_spotperp(None, {"decision.horizon_s": "soon"})
    with pytest.raises(
        StrategyConfigError, match=r"^exchanges\.1: unknown exchange 'ftx' \(choose from binance, bybit, okx\)"
    ):
        load_perpperp(None, {"exchanges": ["binance", "ftx"]})
    with pytest.raises(StrategyConfigError, match=r"^exchanges: need exactly two different"):
        load_perpperp(None, {"exchanges": ["binance", "binance"]})
    with pytest.raises(StrategyConfigError, match=r"^decision\.exit_threshold_bps: 20 is above"):
        load_spotperp(None, {"decision.exit_threshold_bps": 20})
    with pytest.raises(StrategyConfigError, match=r"^fees\.ftx: unknown exchange"):
        load_perpperp(None, {"fees": {"ftx": {"taker": 0.001}}})
    with pytest.raises(StrategyConfigError, match=r"^margin\.leverage: 0 is not between"):
        load_spotperp(None, {"margin.leverage": 0})
    with pytest.raises(StrategyConfigError, match=r"^symbol: bad symbol"):
        load_spotperp(None, {"symbol": "BTC USDT"})
    with pytest.raises(StrategyConfigError, match="does not exist"):
        load_spotperp(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("size = \n")
    with pytest.raises(StrategyConfigError, match=r"^config: config file"):
        load_spotperp(broken)


def test_precedence_defaults_file_flags(tmp_path: Path) -> None:
    path = tmp_path / "pp.toml"
    path.write_text('symbol = "ETHUSDT"\nsize = 0.5\n[decision]\nentry_threshold_bps = 12\nexit_threshold_bps = 2\n')
    cfg = load_perpperp(
        path,
        {
            "size": None,
            "symbol": "SOLUSDT",
            "decision.entry_threshold_bps": "15",
            "paper": True,
            "symbols.okx": "SOL-USDT-SWAP",
        },
    )
    assert cfg.symbol == "SOLUSDT"  # flag over file
    assert cfg.size == D("0.5")  # None = flag not given: the file's value stays
    assert cfg.decision.entry_threshold_bps == D(15) and cfg.decision.exit_threshold_bps == D(2)
    assert cfg.paper is True
    assert cfg.decision.stop_loss_bps == D(150)  # default
    assert str(cfg.perp_key(Exchange.OKX)) == "okx:perp:SOL-USDT-SWAP"
    # TOML floats become exact decimals
    assert load_spotperp(None, {"fees.perp.taker": 0.0004}).fees.perp.taker == D("0.0004")


def test_merge_overrides_does_not_touch_its_input() -> None:
    data = {"decision": {"entry_threshold_bps": 5}}
    merged = merge_overrides(data, {"decision.entry_threshold_bps": 7, "margin.leverage": 2, "x": None})
    assert data == {"decision": {"entry_threshold_bps": 5}}
    assert merged == {"decision": {"entry_threshold_bps": 7}, "margin": {"leverage": 2}}
    assert isinstance(parse_config(SpotPerpConfig, merged), SpotPerpConfig)
    assert isinstance(parse_config(PerpPerpConfig, {}), PerpPerpConfig)


def test_issue_12_knobs_default_document_and_validate() -> None:
    sp = load_spotperp(CONFIGS / "spotperp.toml")
    default = SpotPerpConfig()
    # the shipped file spells out the defaults of every new knob
    assert sp.stop_grace_s == default.stop_grace_s == 20.0
    assert sp.decision == default.decision and sp.execution == default.execution
    assert default.decision.min_hold_s == 30.0 and default.decision.reentry_cooldown_s == 10.0
    assert default.decision.funding_flip_bps_per_hour == D("0.5")
    assert default.fees.spot.buy_fee_in_base is None  # auto: spot legs pay buy fees in the base asset
    for overrides, field in (
        ({"stop_grace_s": 0}, "stop_grace_s"),
        ({"decision.min_hold_s": -1}, "decision.min_hold_s"),
        ({"decision.min_hold_s": 10**6}, "decision.min_hold_s"),  # above max_holding_s
        ({"execution.retry_attempts": -1}, "execution.retry_attempts"),
        ({"execution.retry_backoff_s": 0}, "execution.retry_backoff_s"),
        ({"execution.not_found_settle_s": -1}, "execution.not_found_settle_s"),
    ):
        with pytest.raises(StrategyConfigError) as err:
            load_spotperp(None, overrides)
        assert err.value.field == field, (overrides, err.value)
    assert load_spotperp(None, {"fees.spot.buy_fee_in_base": False}).fees.spot.buy_fee_in_base is False
