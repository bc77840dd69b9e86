"""The runner's rate-limit settings: defaults, environment, refusal of bad values."""

from __future__ import annotations

import pytest

from exchange_runner.config import ConfigError, load_config


def test_defaults_share_the_budget() -> None:
    opts = load_config(None, {"redis_url": "redis://127.0.0.1:1/0"}).budget_options()
    assert (opts.order_reserve, opts.fallback_share, opts.max_wait_s) == (0.2, 0.25, 65.0)


def test_environment_sets_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEBUS_RATE_LIMIT_FALLBACK_SHARE", "0.5")
    cfg = load_config(None, {"redis_url": "redis://127.0.0.1:1/0"})
    assert cfg.budget_options().fallback_share == 0.5


def test_environment_sets_the_warning_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEBUS_RATE_LIMIT_WARN_BELOW", "0.1")
    cfg = load_config(None, {"redis_url": "redis://127.0.0.1:1/0"})
    assert cfg.budget_options().warn_below == 0.1


@pytest.mark.parametrize("field", ["rate_limit_fallback_share", "rate_limit_order_reserve", "rate_limit_warn_below"])
def test_a_share_outside_0_1_is_refused(field: str) -> None:
    with pytest.raises(ConfigError, match=field.removeprefix("rate_limit_")):
        load_config(None, {"redis_url": "redis://127.0.0.1:1/0", field: 1.5})


def test_the_stream_key_allowance_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config(None, {"redis_url": "redis://127.0.0.1:1/0"}).budget_options().stream_key_allowance == 10
    monkeypatch.setenv("TRADEBUS_RATE_LIMIT_STREAM_KEY_ALLOWANCE", "4")
    assert load_config(None, {"redis_url": "redis://127.0.0.1:1/0"}).budget_options().stream_key_allowance == 4
    with pytest.raises(ConfigError, match="stream_key_allowance"):
        load_config(None, {"redis_url": "redis://127.0.0.1:1/0", "rate_limit_stream_key_allowance": -1})
