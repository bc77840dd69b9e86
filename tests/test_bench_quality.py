"""scripts/bench_quality.py runs and writes what docs/market-data.md quotes: quality control per
book and per trade, bar aggregation per trade, and the raw floor of the same run (no timing
asserted: benchmarks are scripts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quality_writes_each_case_with_its_floor(tmp_path: Path) -> None:
    out = tmp_path / "quality.json"
    run = subprocess.run(
        [sys.executable, "scripts/bench_quality.py", "--n", "300", "--rounds", "1", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    assert set(doc["results"]) == {"qc_book", "qc_trade", "bars_trade", "floor_call"}
    assert all(r["p50"] > 0 for r in doc["results"].values())
    assert "qc per book p50" in run.stdout and isinstance(doc["qc_book_budget_met"], bool)
