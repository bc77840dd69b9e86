"""``scripts/bench_scaling.py --quick --books 1,16`` runs end to end: one row per book count, each
with updates delivered to the subscriber over that many books (no thresholds: a harness check;
the numbers — 1, 4, 16, 64 books — are in docs/performance.md). Two book counts, not four: each
is a runner start, and one above the venue's two listed symbols proves the synthetic ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_has_a_row_per_book_count_with_updates_delivered(tmp_path: Path) -> None:
    out = tmp_path / "scaling.json"
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/bench_scaling.py",
            "--quick",
            "--books",
            "1,16",
            "--json",
            str(out),
            "--workdir",
            str(tmp_path / "logs"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    rows = result["books"]
    assert [r["books"] for r in rows] == [1, 16]
    for r in rows:
        assert r["kinds"] == "perp"
        assert r["sent"] > 0 and r["received"] > 0 and r["delivered_per_s"] > 0, r
        assert r["depth_streams"] == r["books"] and r["books_seen"] == r["books"], r
        assert r["runner_us_per_update"] > 0 and r["runner_rss_mb"] > 0, r
    assert result["config"]["window_s"] == 1.0 and result["subscribers"] == []
    assert len(result["load_avg_before"]) == 3 and result["machine"]["cores_logical"] > 0
