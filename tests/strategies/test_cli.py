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
    nobody = strategy("spotperp", "--paper", "--redis-url", redis_url, "--wait-runner", "1")
    # a start problem: exit 2 like `strategy manual` (issue 21; it was 1)
    assert nobody.returncode == 2 and "no binance runner" in nobody.stderr and "runner binance" in nobody.stderr
    assert strategy("--help").returncode == 0


def test_spotperp_paper_runs_and_writes_a_report(tmp_path: Path, redis_url: str) -> None:
    runner = start_runner(redis_url, tmp_path, "cli-bn", "--sim-seed", "2")
    try:
        runner.record()
        report = tmp_path / "r.json"
        # 2 s: the run, its stop at the duration and the report are what is checked (the seeded
        # simulator's basis is below the entry threshold: no trade in 6 s either)
        done = strategy(
            "spotperp", "--paper", "--duration", "2", "--report", str(report), "--redis-url", redis_url, timeout=90
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "basis + funding − fees − slippage" in done.stdout
        data = json.loads(report.read_text())
        t = data["totals"]
        total = Decimal(t["basis"]) + Decimal(t["funding"]) - Decimal(t["fees"]) - Decimal(t["slippage"])
        assert total == Decimal(t["total"]) and data["mode"] == "paper"
    finally:
        runner.stop()


def test_a_paper_run_journals_into_its_own_stream_and_history_reads_it(tmp_path: Path, redis_url: str) -> None:
    """The demo's case: a paper run leaves a journal that ``strategy history``/``report`` read,
    apart from the live one (which it never creates)."""
    runner = start_runner(redis_url, tmp_path, "cli-bn-j", "--sim-seed", "2")
    data = tmp_path / "journals"
    try:
        runner.record()
        done = strategy(
            "spotperp", "--paper", "--duration", "3", "--redis-url", redis_url, "--data-dir", str(data), timeout=90
        )
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        runner.stop()
    assert (data / "strategy-spotperp-paper.sqlite3").exists()
    assert not (data / "strategy-spotperp.sqlite3").exists()
    runs = strategy("history", "runs", "--paper", "--data-dir", str(data), "--json")
    assert runs.returncode == 0, runs.stderr
    rows = json.loads(runs.stdout)
    assert len(rows) == 1 and rows[0]["stream"] == "strategy:spotperp-paper" and rows[0]["stopped_ms"] is not None
    for what in ("pairs", "fills", "orders", "days", "decisions"):
        shown = strategy("history", what, "--paper", "--data-dir", str(data), "--csv")
        assert shown.returncode == 0, shown.stderr
    rep = strategy("report", "--paper", "--data-dir", str(data), "--json")
    assert rep.returncode == 0, rep.stderr
    assert json.loads(rep.stdout)["run"]["run_id"] == rows[0]["run_id"]
    live = strategy("history", "--data-dir", str(data))
    assert live.returncode == 2 and live.stderr.count("\n") == 1 and "no journal" in live.stderr


def test_version_and_flags_without_a_value_tag() -> None:
    from strategy_client import __version__

    out = strategy("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"strategy (tradebus) {__version__}"
    for sub in ("spotperp", "perpperp", "history", "report"):
        help_text = strategy(sub, "--help")
        assert help_text.returncode == 0, help_text.stderr
        assert "<bool>" not in help_text.stdout, sub
