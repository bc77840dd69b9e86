"""The Quick start's main job, fully offline: a Binance runner on the embedded simulator and
``strategy spotperp --paper`` trading the spot-perp carry against it.

It shows the live book and funding for a few seconds, then runs the strategy (orders filled
locally against the live books; nothing reaches any venue) for ``--minutes`` (default 3), and
prints its PnL summary; the JSON report (every trade, the PnL breakdown) goes to
``--report`` (default ``demo-report.json``). Run with ``./scripts/demo`` (it creates the
virtualenv first). Options: ``--seconds N`` of live book to show (default 3), ``--minutes M``,
``--report PATH``, ``--redis-url URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
import zmq
import zmq.asyncio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from strategy_client.command_client import ZmqCommandClient
from strategy_client.model import InstrumentKey
from strategy_client.wire import (
    BookEvent,
    FundingReply,
    GetFundingRate,
    RunnerRecord,
    decode_event,
    decode_record,
    runner_key,
)

PERP = InstrumentKey.parse("binance:perp:BTCUSDT")


def wait_for_runner(redis_url: str, name: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> RunnerRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: the runner exited with code {proc.returncode}")
        try:
            client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
            raw = client.get(runner_key(name))
            client.close()
        except redis.RedisError:
            raw = None
        if raw is not None:
            rec = decode_record(raw)
            if rec.status == "ready" and rec.pid == proc.pid:
                return rec
        time.sleep(0.1)
    raise SystemExit("demo: the runner did not become ready within a minute")


async def show(rec: RunnerRecord, seconds: float) -> None:
    ctx = zmq.asyncio.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    for prefix in (b"ob|binance|perp|BTCUSDT|", b"exec|", b"pos|"):
        sub.setsockopt(zmq.SUBSCRIBE, prefix)
    sub.connect(rec.pub_endpoint)
    cli = ZmqCommandClient(rec.router_endpoint, name=rec.name)
    await cli.connect()
    funding = await cli.call(GetFundingRate(key=PERP))
    assert isinstance(funding, FundingReply)
    f = funding.funding
    print(
        f"\nfunding {PERP}: rate {f.rate} per {f.interval_ms // 60000} min, mark {f.mark_price}, index {f.index_price}"
    )
    print(f"\nlive book {PERP} for {seconds:.0f}s (best bid / ask):")
    end = time.monotonic() + seconds
    last_print = 0.0
    while time.monotonic() < end:
        if not await sub.poll(200):
            continue
        _, _, body = await sub.recv_multipart()
        ev = decode_event(body)
        if isinstance(ev, BookEvent) and time.monotonic() - last_print > 0.5:
            b = ev.book
            if b.best_bid and b.best_ask:
                print(
                    f"  {b.best_bid.qty:>10} @ {b.best_bid.price}  |  {b.best_ask.price} @ {b.best_ask.qty}"
                    f"   seq {b.sequence}"
                )
                last_print = time.monotonic()
    await cli.close()
    sub.close(linger=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds of live book to show")
    ap.add_argument("--minutes", type=float, default=3.0, help="how long the strategy runs")
    ap.add_argument(
        "--seed",
        type=int,
        default=2,
        help="simulator seed (default 2: its market path offers a carry within the first minute; "
        "any seed works, some make you wait longer)",
    )
    ap.add_argument("--report", default="demo-report.json", help="where the strategy writes its JSON report")
    ap.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = ap.parse_args()
    name = f"demo-{os.getpid()}"
    cmd = [
        sys.executable,
        "-m",
        "exchange_runner.cli",
        "binance",
        "--name",
        name,
        "--redis-url",
        args.redis_url,
        "--log-level",
        "WARNING",
        "--sim-seed",
        str(args.seed),
    ]
    if "REDIS_URL" not in os.environ and args.redis_url == "redis://127.0.0.1:6379/0":
        cmd.remove("--redis-url")
        cmd.remove(args.redis_url)  # let the runner start a local Redis if none is running
    print("starting: runner binance (embedded offline Binance venue; nothing leaves this machine)")
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        rec = wait_for_runner(args.redis_url, name, proc)
        print(
            f"runner ready: ROUTER {rec.router_endpoint}  PUB {rec.pub_endpoint}  "
            f"({len(rec.symbols)} instruments, registered in {args.redis_url})"
        )
        asyncio.run(show(rec, args.seconds))
        print(
            f"\nstarting: strategy spotperp --paper for {args.minutes:g} min (long spot / short perp when the "
            "basis beats fees; orders filled locally against the live books). Ctrl-C stops it cleanly.\n"
        )
        strategy = [
            sys.executable,
            "-m",
            "strategies.cli",
            "spotperp",
            "--paper",
            "--redis-url",
            args.redis_url,
            "--duration",
            str(args.minutes * 60),
            "--report",
            args.report,
        ]
        try:
            code = subprocess.call(strategy, cwd=ROOT)
        except KeyboardInterrupt:
            code = 130
        if code not in (0, 130):
            print(f"demo: the strategy exited with status {code}")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(
        "\ndone. Next: `runner binance` to keep a runner up, then `strategy spotperp --paper`, "
        "`strategy manual`, or `import strategy_client` (see README).\n"
        "The run is journaled: `strategy history pairs --paper`, `strategy history fills --paper`, "
        "`strategy report --paper` read it (docs/strategies.md)."
    )


if __name__ == "__main__":
    main()
