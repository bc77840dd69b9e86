"""scripts/bench_journal.py --only-paced reports the intent log's write_intent and its raw floor
(the bare copy into a shared mapping) beside the synchronous commit, with p90."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..integration.conftest import ROOT


def test_paced_bench_reports_the_intent_log_and_its_floor(tmp_path: Path) -> None:
    out = tmp_path / "paced.json"
    args = ["--only-paced", "--paced", "5", "--pace-ms", "1", "--pg", "postgresql://127.0.0.1:1/none"]
    run = subprocess.run(
        [sys.executable, "scripts/bench_journal.py", *args, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    cases = json.loads(out.read_text())["cases"]
    for name in ("sqlite_write_intent_paced", "sqlite_write_intent_log_paced", "mmap_memcpy_floor_paced"):
        assert cases[name]["n"] == 5 and 0 < cases[name]["p50_us"] <= cases[name]["p90_us"], name
    assert "sqlite_write_intent_log_paced" in run.stdout and "p90" in run.stdout
