"""``strategy`` as users run it: real processes, one-line errors, a report that adds up."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from ..integration.conftest import ROOT, start_runner


def strategy(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strategies.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_bad_config_and_arguments_get_one_line_errors(tmp_path: Path, redis_url: str) -> None:
    missing = strategy("spotperp", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('symbol = "BTCUSDT"\nsizee = 1\n')
    unknown = strategy("spotperp", "--config", str(bad))
    assert unknown.returncode == 2 and "sizee" in unknown.stderr and "Traceback" not in unknown.stderr
    neg = strategy("spotperp", "--size", "-1")
    assert neg.returncode == 2 and "size" in neg.stderr
    nobody = strategy("spotperp", "--paper", "--redis-url", redis_url)
    assert nobody.returncode == 1 and "no binance runner" in nobody.stderr and "runner binance" in nobody.stderr
    assert strategy("--help").returncode == 0


def test_spotperp_paper_runs_and_writes_a_report(tmp_path: Path, redis_url: str) -> None:
    runner = start_runner(redis_url, tmp_path, "cli-bn", "--sim-seed", "2")
    try:
        runner.record()
        report = tmp_path / "r.json"
        done = strategy(
            "spotperp", "--paper", "--duration", "6", "--report", str(report), "--redis-url", redis_url, timeout=90
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "basis + funding − fees − slippage" in done.stdout
        data = json.loads(report.read_text())
        t = data["totals"]
        total = Decimal(t["basis"]) + Decimal(t["funding"]) - Decimal(t["fees"]) - Decimal(t["slippage"])
        assert total == Decimal(t["total"]) and data["mode"] == "paper"
    finally:
        runner.stop()
