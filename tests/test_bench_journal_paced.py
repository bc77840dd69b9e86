"""scripts/bench_journal.py --only-paced: the journal's per-order cost at the order path's pace
(one intent every --pace-ms), SQLite and PostgreSQL (skipped, and saying why, when unreachable)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_paced_cases_are_written(tmp_path: Path) -> None:
    out = tmp_path / "paced.json"
    run = subprocess.run(
        [
            sys.executable,
            "scripts/bench_journal.py",
            "--only-paced",
            "--paced",
            "5",
            "--pace-ms",
            "1",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    cases = result["cases"]
    assert result["pace_ms"] == 1
    for name in ("sqlite_raw_floor_paced", "sqlite_write_intent_paced"):
        assert cases[name]["n"] == 5 and cases[name]["p50_us"] > 0, name
    assert "pg_write_intent_paced" in cases or "pg_skipped" in cases
    if "pg_skipped" in cases:
        print(cases["pg_skipped"])
    assert "sqlite_write_intent" not in cases  # --only-paced: the back-to-back cases are not run
