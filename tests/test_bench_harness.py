"""``scripts/bench.py --quick`` runs end to end and writes every key (no thresholds: a harness
check, not a timed test; the numbers themselves are in docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_quick_run_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/bench.py",
            "--quick",
            "--journal-ab",
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

    tick = result["tick_to_order_us"]
    assert set(tick) == {"p50", "p90", "p99", "max", "n"}
    assert all(_number(tick[k]) for k in ("p50", "p90", "p99", "max"))
    assert isinstance(tick["n"], int) and tick["n"] > 0
    assert tick["p50"] <= tick["p90"] <= tick["p99"] <= tick["max"]

    assert isinstance(result["ingest_msgs_per_s"], int) and result["ingest_msgs_per_s"] >= 0
    for key in ("rpc_rtt_us", "raw_zmq_rtt_us"):
        assert set(result[key]) == {"p50", "p99"}
        assert _number(result[key]["p50"]) and _number(result[key]["p99"])
        assert result[key]["p50"] <= result[key]["p99"]

    assert _number(result["rss_mb_start"]) and result["rss_mb_start"] > 0
    assert _number(result["rss_mb_end"]) and result["rss_mb_end"] > 0
    assert isinstance(result["rss_growth_pct"], int | float)

    machine = result["machine"]
    assert isinstance(machine["cores_logical"], int) and machine["cores_logical"] > 0
    assert isinstance(machine["python"], str) and machine["python"].count(".") == 2
    assert {"pyzmq", "msgspec", "aiohttp"} <= set(machine["libraries"])

    details = result["details"]
    assert details["tick"]["load_msgs_per_s"] == result["config"]["load"]
    assert details["tick"]["strategy"]["orders_ok"] > 0
    ramp = details["ingest"]["ramp"]
    assert ramp and all(step["verdict"] in ("pass", "fail", "venue_limited") for step in ramp)
    assert details["runner_exit_status"] == 0
    assert result["config"]["quick"] is True

    # --journal-ab: two runners side by side, every round both paths taken, the start order swapped
    rounds = details["journal_ab"]["rounds"]
    assert [r["started_first"] for r in rounds] == ["bn-journal", "bn-nojournal"]
    for r in rounds:
        assert r["on"]["n"] > 0 and r["off"]["n"] > 0
        assert set(r["strategy"]["by_runner"]) == {f"bn-journal-{r['round']}", f"bn-nojournal-{r['round']}"}
        assert all(s["orders_ok"] > 0 for s in r["strategy"]["by_runner"].values())
        assert _number(r["journal_intent_in_runner_us"]["p50"])
    for key in ("tick_to_order_journal_us", "tick_to_order_no_journal_us"):
        assert result[key]["n"] > 0 and _number(result[key]["p50"])
    assert set(result["journal_added_us"]) == {"p50", "p90", "p99"}
