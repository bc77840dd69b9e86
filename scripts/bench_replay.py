#!/usr/bin/env python
"""Replay speed: recorded hours per wall-clock minute for a spot-perp backtest, with its floors.

    python scripts/bench_replay.py [--recording tests/fixtures/recording] [--runs 3] [--json PATH]

Three measures on the same recording (the shipped fixture by default, Binance BTCUSDT), in one run:

* ``backtest``: ``strategy spotperp --backtest`` as the command runs it (strategies/backtest.py,
  in this process, with a private redis-server): the replaying venue and a runner in their own
  processes, the strategy in lockstep with the venue; the time from the first step to the
  recording's end (start-up and the exit at the end are reported apart, not counted);
* ``venue_lockstep`` (floor): the same venue process, held, stepped through by a bare HTTP client
  (``POST /_sim/replay {"advance": 1, "wait": true}`` per step) — the lockstep's cost with nothing
  waiting for a runner or a strategy;
* ``engine`` (floor): the replay engine alone in this process (``ReplayPacer.step`` in a loop: the
  recorded rows applied, the books re-quoted, the stream jobs run with no subscriber).

Each is given as recorded hours per wall-clock minute (and steps per second); ``--runs`` repeats
the backtest and the lockstep floor, the median is printed first and every run is in the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair
from exchanges.binance.sim import BinanceSim
from exchanges.sim.recording import Recording
from strategies.arbitrage.config import load_spotperp
from strategies.backtest import Lockstep, run_backtest
from strategies.runtime import RunOptions

HOUR_MS = 3_600_000


def per_minute(recorded_ms: float, wall_s: float) -> float:
    return recorded_ms / HOUR_MS / (wall_s / 60) if wall_s > 0 else float("inf")


def engine_floor(path: str) -> dict[str, Any]:
    recording = Recording.open(path, "binance")
    sim = BinanceSim(port_base=20000, symbols=recording.symbols)
    pacer = sim.use_replay(recording, speed=None, hold=True)
    start = sim.venue.clock.now_ms()
    t0 = time.perf_counter()
    while not pacer.done.is_set():
        pacer.step()
    wall = time.perf_counter() - t0
    recorded = sim.venue.clock.now_ms() - start
    return {
        "recorded_s": recorded / 1000,
        "wall_s": wall,
        "steps": pacer.steps,
        "steps_per_s": pacer.steps / wall,
        "recorded_hours_per_minute": per_minute(recorded, wall),
    }


async def venue_lockstep(path: str) -> dict[str, Any]:
    port = free_port_pair()
    args = [sys.executable, "-m", "exchanges.sim", "binance", "--port-base", str(port), "--replay", path]
    args += ["--speed", "max", "--hold", "--no-rate-limits", "--log-level", "WARNING"]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}/_sim/replay"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(url) as resp:
                        status = await resp.json()
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            start, steps = status["now_ms"], 0
            t0 = time.perf_counter()
            while not status["finished"]:
                async with http.post(url, json={"advance": 1, "wait": True}) as resp:
                    status = await resp.json()
                steps += 1
            wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)
    recorded = status["now_ms"] - start
    return {
        "recorded_s": recorded / 1000,
        "wall_s": wall,
        "steps": steps,
        "steps_per_s": steps / wall,
        "recorded_hours_per_minute": per_minute(recorded, wall),
    }


async def backtest(path: str, redis_url: str, work: Path, summary: TextIO) -> dict[str, Any]:
    seen: list[Lockstep] = []
    drive = Lockstep.drive

    async def timed(self: Lockstep, session: Any) -> None:
        seen.append(self)
        await drive(self, session)

    Lockstep.drive = timed  # type: ignore[method-assign]  # the bench reads the lockstep's own timing
    cfg = load_spotperp(None, {"report": str(work / "report.json")})
    opts = RunOptions(redis_url=redis_url, out=summary)
    t0 = time.perf_counter()
    try:
        code = await run_backtest(cfg, opts, path, "max")
    finally:
        Lockstep.drive = drive  # type: ignore[method-assign]
    total = time.perf_counter() - t0
    lock = seen[0]
    report = json.loads(await asyncio.to_thread((work / "report.json").read_text))
    return {
        "exit": code,
        "recorded_s": lock.recorded_ms / 1000,
        "wall_s": lock.wall_s,
        "steps": lock.steps,
        "steps_per_s": lock.steps / lock.wall_s,
        "late_steps": lock.late,
        "recorded_hours_per_minute": per_minute(lock.recorded_ms, lock.wall_s),
        "total_wall_s": total,
        "start_and_stop_s": total - lock.wall_s,
        "trades": len(report["trades"]),
        "funding_payments": len(report["funding"]),
        "pnl_total": report["totals"]["exact"]["total"],
    }


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    redis = LocalRedisServer()
    url = redis.start()
    out: dict[str, Any] = {"recording": args.recording, "backtest": [], "venue_lockstep": []}
    try:
        out["engine"] = engine_floor(args.recording)
        for i in range(args.runs):
            out["venue_lockstep"].append(await venue_lockstep(args.recording))
            with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as summary:  # noqa: ASYNC230 - /dev/null
                out["backtest"].append(await backtest(args.recording, url, Path(tmp), summary))
            print(f"run {i + 1}/{args.runs} done", file=sys.stderr, flush=True)
    finally:
        redis.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", default=str(ROOT / "tests/fixtures/recording"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    out = asyncio.run(measure(args))
    bt, vl, en = out["backtest"], out["venue_lockstep"], out["engine"]
    first = bt[0]
    print(
        f"recording {args.recording}: {first['recorded_s']:.1f}s of Binance BTCUSDT, {first['steps']} steps of 100 ms"
    )
    print(f"{'':<16}{'rec. h / wall min':>18}{'steps/s':>10}{'wall s':>9}")
    for name, hpm, sps, wall in (
        ("backtest", median(bt, "recorded_hours_per_minute"), median(bt, "steps_per_s"), median(bt, "wall_s")),
        ("venue lockstep", median(vl, "recorded_hours_per_minute"), median(vl, "steps_per_s"), median(vl, "wall_s")),
        ("engine alone", en["recorded_hours_per_minute"], en["steps_per_s"], en["wall_s"]),
    ):
        print(f"{name:<16}{hpm:>18.2f}{sps:>10.0f}{wall:>9.2f}")
    print(
        f"backtest start-up + exit at the end: {median(bt, 'start_and_stop_s'):.1f}s (median, not counted above); "
        f"late steps {sum(r['late_steps'] for r in bt)}; identical PnL over runs: "
        f"{len({r['pnl_total'] for r in bt}) == 1} ({first['pnl_total']})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"json: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
