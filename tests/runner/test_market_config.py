"""The market-data configuration as docs/market-data.md documents it: the shipped example loads
and gives each instrument the channels the docs say; a bad channel is the documented one line,
exit 2; thresholds are checked at load."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from exchange_runner.config import ConfigError, load_config
from strategy_client.model import InstrumentKey

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "runner.market-data.toml"
DOC = (ROOT / "docs" / "market-data.md").read_text()


def test_the_documented_example_is_the_shipped_config_and_picks_channels_per_instrument() -> None:
    block = DOC.split("# configs/runner.market-data.toml\n", 1)[1].split("```", 1)[0]
    shipped = EXAMPLE.read_text()
    for line in block.splitlines():
        if line.strip():
            assert line in shipped, line
    cfg = load_config(EXAMPLE, {})
    of = cfg.channels_of
    assert of(InstrumentKey.parse("binance:perp:BTCUSDT")) == {"book", "funding", "trades", "tickers", "bars"}
    assert of(InstrumentKey.parse("binance:spot:BTCUSDT")) == {"book", "bars"}
    assert of(InstrumentKey.parse("binance:perp:ETHUSDT")) == {"book", "funding"}
    assert of(InstrumentKey.parse("binance:spot:ETHUSDT")) == {"book"}
    assert cfg.bars.intervals_s == [1, 60, 3600] and cfg.quality.max_deviation_bps == 300.0


def test_defaults_publish_what_runners_always_did(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(None, {})
    assert cfg.channels_of(InstrumentKey.parse("okx:perp:BTCUSDT")) == {"book", "funding"}
    monkeypatch.setenv("TRADEBUS_CHANNELS", "book,funding,trades")
    assert "trades" in load_config(None, {}).channels_of(InstrumentKey.parse("okx:spot:BTCUSDT"))


def test_a_bad_channel_is_the_documented_line_and_exit_2(tmp_path: Path) -> None:
    documented = re.search(r"`(runner: error: channels of perp:BTCUSDT: [^`]+)`", DOC.replace("\n", " "))
    assert documented is not None
    bad = tmp_path / "bad.toml"
    bad.write_text('[runner.instrument_channels]\n"perp:BTCUSDT" = ["trade"]\n')
    run = subprocess.run(
        [sys.executable, "-m", "exchange_runner.cli", "config", "show", "binance", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 2 and run.stderr.strip() == documented.group(1), run.stderr


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("[runner.bars]\nintervals_s = [7]", "bars.intervals_s"),
        ("[runner.bars]\nsma = [0]", "bars.sma"),
        ("[runner.quality]\nzscore_min_samples = 1", "zscore_min_samples"),
        ("[runner.quality]\nmax_age_ms = -1", "quality.max_age_ms"),
        ("[runner.quality]\nnosuch = 1", "unknown key"),
        ('[runner.instrument_channels]\n"fut:BTCUSDT" = ["bars"]', "instrument_channels"),
    ],
)
def test_bad_thresholds_are_refused_at_load(tmp_path: Path, table: str, says: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(table + "\n")
    with pytest.raises(ConfigError, match=says):
        load_config(path, {})
