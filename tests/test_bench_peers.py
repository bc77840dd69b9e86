"""``scripts/bench.py --quick --only tick --peers --ipc-ab`` runs the ccxt.pro peer and the
two-process floor (``benchlib/floor_peer.py``) beside tradebus and writes the same-run table, and
the ipc:// against tcp:// rounds (keys only: a harness check, not a timed test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = {"tradebus", "ccxt_pro_ws", "ccxt_pro_rest", "python_floor_2proc"}


def test_peers_and_ipc_rounds_write_their_tables(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "scripts/bench.py", "--quick", "--only", "tick", "--peers", "--ipc-ab", "--samples", "30"]
    proc = subprocess.run(
        [*cmd, "--json", str(out), "--workdir", str(tmp_path / "logs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    peers = json.loads(out.read_text())["peers"]

    tick = peers["tick_to_order_us"]
    assert set(tick) == CLIENTS
    for summary in tick.values():
        assert set(summary) == {"p50", "p90", "p99", "max", "n"}
        assert summary["n"] > 0 and 0 < summary["p50"] <= summary["p90"] <= summary["p99"] <= summary["max"]
    ratios = peers["ratio_tradebus_over_peer"]
    assert set(ratios) == CLIENTS - {"tradebus"}
    assert all(set(r) == {"p50", "p90", "p99"} and all(v > 0 for v in r.values()) for r in ratios.values())
    assert [r["client"] for r in peers["rounds"]] == ["tradebus", "ccxt_pro_ws", "ccxt_pro_rest", "python_floor_2proc"]
    assert all(r["orders_ok"] > 0 for r in peers["rounds"][1:])
    # the floor's orders reach the venue and are paired with their frames (samples past the warm-up)
    floor_round = peers["rounds"][3]
    assert floor_round["n"] >= 10 and floor_round["orders_ok"] >= floor_round["n"], floor_round
    assert set(peers["ratio_floor_over_ccxt_pro_ws"]) == {"p50", "p90", "p99"}
    assert all(v > 0 for v in peers["ratio_floor_over_ccxt_pro_ws"].values())
    assert "python_floor_2proc ÷ ccxt_pro_ws" in proc.stdout
    assert "ccxt_pro_ws" in proc.stdout and "tradebus ÷ peer" in proc.stdout

    ipc = json.loads(out.read_text())["ipc_ab"]
    assert set(ipc["rtt_us"]) == {"raw_tcp", "raw_ipc", "rpc_tcp", "rpc_ipc"}
    assert set(ipc["tick_to_order_us"]) == {"tcp", "ipc"}
    assert all(s["n"] > 0 and s["p50"] > 0 for g in ("rtt_us", "tick_to_order_us") for s in ipc[g].values())
    assert [r["transport"] for r in ipc["tick_rounds"]] == ["tcp", "ipc"]


def test_readout_bench_runs() -> None:
    cmd = [sys.executable, "scripts/bench_readout.py", "--events", "20", "--rounds", "1", "--pace-ms", "0"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {line.split()[0] for line in proc.stdout.splitlines()} == {"wrappers", "compiled"}
