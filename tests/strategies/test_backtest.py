"""``strategy spotperp --backtest``: the real strategy, runner and client path against a venue
replaying the shipped recording (tests/fixtures/recording), run twice at the same time.

Each run starts its own replaying venue and runner (strategies/backtest.py) in the suite's Redis.
The reports must be identical (every fill, funding payment, transition, the timeline and the
PnL), the PnL components must add up to the total exactly, funding must be paid at the recorded
rate and mark, and a bad recording must end the command with one line and exit status 2.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange_runner.localredis import LocalRedisServer
from recorder import open_channel

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/fixtures/recording"


async def backtest(redis_url: str, out: Path, *extra: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "strategies.cli",
        "spotperp",
        "--redis-url",
        redis_url,
        "--report",
        str(out / "report.json"),
        "--plot",
        str(out / "pnl.png"),
        *extra,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


def economics(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the settings that name its own files."""
    return {k: v for k, v in report.items() if k != "config"}


async def test_a_backtest_on_the_fixture_adds_up_and_is_identical_twice(
    redis_server: LocalRedisServer, tmp_path: Path
) -> None:
    runs = [tmp_path / "one", tmp_path / "two"]
    for out in runs:
        out.mkdir()
    results = await asyncio.gather(
        *(backtest(redis_server.url, out, "--backtest", str(FIXTURE), "--speed", "max") for out in runs)
    )
    for code, stdout, stderr in results:
        assert code == 0, stdout + stderr[-4000:]
        assert "stopped: recording ended after" in stdout
        # not a terminal: the replay's progress is log lines, from its count to its end
        said = stderr.split("backtest: recorded steps: ", 1)
        assert len(said) == 2 and said[1].split("\n", 1)[0].endswith(" to do"), stderr[-2000:]
        assert "backtest: recorded steps: " in said[1] and " done in " in said[1], stderr[-2000:]
    first, second = (json.loads((out / "report.json").read_text()) for out in runs)
    assert economics(first) == economics(second)
    assert all((out / "pnl.png").read_bytes().startswith(b"\x89PNG") for out in runs)

    # the run is the recording's: its times, and trades that happened
    assert first["started_ms"] < first["ended_ms"] and first["ended_ms"] - first["started_ms"] > 60_000
    assert len(first["trades"]) >= 4 and first["positions"]
    exact = {k: Decimal(v) for k, v in first["totals"]["exact"].items()}
    assert exact["basis"] + exact["funding"] - exact["fees"] - exact["slippage"] == exact["total"]
    positions = [p["breakdown"]["exact"] for p in first["positions"]]
    assert exact["total"] == sum((Decimal(p["total"]) for p in positions), Decimal(0))
    # and the components are the fills' and the payments' own
    assert exact["fees"] == sum((Decimal(t["fee"]) for t in first["trades"]), Decimal(0))
    assert exact["slippage"] == sum((Decimal(t["slippage"]) for t in first["trades"]), Decimal(0))
    assert exact["funding"] == sum((Decimal(f["amount"]) for f in first["funding"]), Decimal(0))

    # funding as recorded: each payment is the short's size × the recorded mark × the recorded rate
    # in force just before the settlement time (to the 8 decimals of the venue's income history)
    assert first["funding"], "the position was held over a recorded settlement"
    rows = sorted(
        (r for r in open_channel(str(FIXTURE), "funding").to_table().to_pylist() if r["venue"] == "binance"),
        key=lambda r: (r["ts_ms"], r["seq"]),
    )
    size = Decimal(first["config"]["size"])
    for payment in first["funding"]:
        before = [r for r in rows if r["ts_ms"] < payment["ts_ms"]][-1]
        expected = size * Decimal(before["mark_price"]) * Decimal(before["rate"])
        assert abs(Decimal(payment["amount"]) - expected) < Decimal("1e-8")  # the venue's income has 8 decimals


async def test_a_bad_recording_is_one_line_and_exit_2(redis_server: LocalRedisServer, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    code, stdout, stderr = await backtest(redis_server.url, tmp_path, "--backtest", str(missing))
    assert code == 2, stdout + stderr
    line = f"strategy: error: no recording at '{missing}' (not a directory)"
    assert stderr.strip().splitlines()[-1] == line
    # a bad --speed is the venue's line the same way (its parser: tests/sim/test_replay.py)
