#!/usr/bin/env python
"""Regenerate the recording that ships as a test fixture (``tests/fixtures/recording/``).

    python scripts/make_recording_fixture.py [--out tests/fixtures/recording] [--seconds 150]

Made by the recorder itself, against runners on the three offline venues: a private
redis-server, ``runner binance``, ``runner bybit`` and ``runner okx`` (each with its embedded
simulator, BTCUSDT spot and perp only, seed 2, funding every 60 s so a few settlements fall inside
the recording), and ``record --out OUT`` over all three for ``--seconds``; then the recorder is
stopped with SIGTERM (it writes everything it received) and the runners after it. ``OUT`` is
emptied first. The files are what ``record`` writes, unchanged: books, funding and gaps (and
trades/tickers when the runners publish them), partitioned venue/instrument/channel/date.

The fixture is small by construction (a few hundred KB): a partition is written as one file at the
stop (``--flush-seconds`` longer than the run). What it recorded is printed at the end (rows per
venue and channel, bytes). The replay tests and ``strategy spotperp --backtest`` read it
(docs/market-data.md#replay-and-backtests).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair

VENUES = ("binance", "bybit", "okx")


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _wait_registered(
    redis_url: str, names: list[str], procs: list[subprocess.Popen[bytes]], logs: list[Path], timeout_s: float = 60.0
) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise SystemExit(f"a runner exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        keys = {k.decode() for k in client.scan_iter("*")}
        if all(any(name in k for k in keys) for name in names):
            return
        time.sleep(0.5)
    raise SystemExit(f"runners not registered within {timeout_s:g}s: {names}")


def summary(out: Path) -> str:
    import pyarrow.parquet as pq

    lines = []
    total = 0
    for venue_dir in sorted(out.glob("venue=*")):
        for channel_dir in sorted(venue_dir.glob("instrument=*/channel=*")):
            files = sorted(channel_dir.rglob("*.parquet"))
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            size = sum(f.stat().st_size for f in files)
            total += size
            lines.append(f"  {venue_dir.name}/{channel_dir.parent.name}/{channel_dir.name}: {rows} rows, {size} bytes")
    lines.append(f"  total {total} bytes")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "tests/fixtures/recording"))
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--funding-interval", type=float, default=60.0)
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"make-recording-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TRADEBUS_DATA_DIR": str(work / "data")}
    redis_server = LocalRedisServer()
    redis_url = redis_server.start()
    runners: list[subprocess.Popen[bytes]] = []
    tag = uuid.uuid4().hex[:4]
    names = [f"fx-{venue}-{tag}" for venue in VENUES]
    try:
        for venue, name in zip(VENUES, names, strict=True):
            cmd = [sys.executable, "-m", "exchange_runner.cli", venue, "--redis-url", redis_url, "--name", name]
            cmd += ["--sim-port-base", str(free_port_pair()), "--sim-seed", str(args.seed), "--symbols", "BTCUSDT"]
            cmd += ["--sim-funding-interval", f"{args.funding_interval:g}", "--no-journal"]
            runners.append(_start(cmd, work / f"{name}.log", env))
        _wait_registered(redis_url, names, runners, [work / f"{name}.log" for name in names])
        record = [sys.executable, "-m", "recorder.cli", "--out", str(out), "--redis-url", redis_url]
        for name in names:
            record += ["--runner", name]
        record += ["--flush-seconds", str(args.seconds * 10), "--flush-rows", "1000000"]
        recorder = _start(record, work / "record.log", env)
        print(f"recording {args.seconds:g}s of {', '.join(VENUES)} into {out} (logs in {work})", flush=True)
        time.sleep(args.seconds)
        status = _stop(recorder)
        if status != 0:
            print((work / "record.log").read_text()[-3000:], file=sys.stderr)
            raise SystemExit(f"record exited {status}")
    finally:
        for proc in runners:
            _stop(proc)
        redis_server.stop()
    print(f"recorded:\n{summary(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
