#!/usr/bin/env python
"""The risk gate's cost on the order path of a running runner (a script, not a test).

    .venv/bin/python scripts/bench_risk_wired.py [--samples 1000] [--json PATH]

Two Binance runners on their embedded simulators, started side by side in one private Redis:

* ``off`` — no ``[risk]`` section: the gate is there (the trading state still applies) but no
  limit is set, which is every runner's default;
* ``on`` — every limit on (per instrument qty, notional, position qty and notional, collar,
  concentration; account-wide leverage, open orders and positions, rates for all clients and per
  client, daily loss, drawdown), loose enough that nothing is refused.

One client (``ZmqRouter``) alternates between the two, sample by sample (one every 40 ms: the
simulated venue's order rate limit), so both see the same machine load: each sample is one
``submit_order`` of an IOC limit buy 3 % under the market on the BTCUSDT perp (the venue expires
it at once, so nothing stays open), timed from the call to its reply: client → runner → gate →
venue (WS-API) → runner → client. It also times orders the gate refuses on ``on`` (a qty over
``max_order_qty``): the round trip without the venue, the floor against which the gate's few
microseconds show. p50/p90/p99 in µs.

Measured (docs/risk.md, "Cost"): the venue round trip (~3.7 ms p50 on the shared development
machine) swamps the gate; the difference on/off is inside the run-to-run noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exchange_runner.localredis import LocalRedisServer
from strategy_client.errors import RiskRejected
from strategy_client.model import (
    Exchange,
    InstrumentKey,
    MarketKind,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.router import ZmqRouter

ALL_LIMITS = """
[risk]
max_leverage = "50"
max_open_orders = 100
max_open_positions = 4
orders_per_second = 5000
orders_per_minute = 100000
client_orders_per_second = 5000
client_orders_per_minute = 100000
daily_loss_limit = "1000000"
max_drawdown = "1000000"

[risk.defaults]
max_order_qty = "1000"
max_order_notional = "10000000"
max_position_qty = "10000"
max_position_notional = "100000000"
price_collar = "0.2"
max_concentration = "1"

[risk.instruments."perp:BTCUSDT"]
max_order_qty = "5"
"""

#: the simulator allows 300 new orders per 10 s per account: one sample (one order to each
#: runner's own venue) every 40 ms stays under it
PACE_S = 0.04
BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


def start(redis_url: str, tmp: Path, name: str, config: Path | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "exchange_runner.cli", "binance", "--redis-url", redis_url, "--name", name]
    if config is not None:
        args += ["--config", str(config)]
    log = (tmp / f"{name}.log").open("wb")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def pct(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=100)
    return {"p50": round(q[49], 1), "p90": round(q[89], 1), "p99": round(q[98], 1), "n": len(xs)}


async def measure(redis_url: str, samples: int) -> dict[str, dict[str, float]]:
    async with ZmqRouter(redis_url) as router:
        for name in ("off", "on"):
            await router.wait_for(name, timeout_s=60)
        apis = {name: router.runner(name) for name in ("off", "on")}
        inst = await apis["on"].get_instrument(BTC)
        ref = None
        deadline = time.monotonic() + 30
        while ref is None and time.monotonic() < deadline:
            try:
                ref = (await apis["on"].get_reference_price(BTC)).price
            except Exception:  # noqa: BLE001 - the first book may not be in yet
                await asyncio.sleep(0.2)
        assert ref is not None, "no BTCUSDT price"
        price = (ref * Decimal("0.97") / inst.tick_size).to_integral_value(ROUND_DOWN) * inst.tick_size
        qty = max(inst.min_qty, (Decimal(150) / price / inst.step_size).to_integral_value() * inst.step_size)
        times: dict[str, list[float]] = {"off": [], "on": [], "on_refused": []}

        def order(q: Decimal) -> OrderRequest:
            return OrderRequest(key=BTC, side=Side.BUY, type=OrderType.LIMIT, qty=q, price=price, tif=TimeInForce.IOC)

        for i in range(samples + 50):  # the first 50 of each warm up
            for name in ("off", "on") if i % 2 else ("on", "off"):
                t0 = time.perf_counter()
                await apis[name].submit_order(order(qty))
                if i >= 50:
                    times[name].append((time.perf_counter() - t0) * 1e6)
            t0 = time.perf_counter()
            try:
                await apis["on"].submit_order(order(Decimal(6)))
            except RiskRejected:
                if i >= 50:
                    times["on_refused"].append((time.perf_counter() - t0) * 1e6)
            await asyncio.sleep(PACE_S)
        return {k: pct(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        redis = LocalRedisServer(workdir=tmp)
        redis.start()
        cfg = tmp / "on.toml"
        cfg.write_text(ALL_LIMITS)
        procs = [start(redis.url, tmp, "off", None), start(redis.url, tmp, "on", cfg)]
        try:
            result = asyncio.run(measure(redis.url, args.samples))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=20)
            redis.stop()
    result_out = {"round_trip_us": result, "load1": os.getloadavg()[0], "python": sys.version.split()[0]}
    print(json.dumps(result_out, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result_out, indent=2) + "\n")


if __name__ == "__main__":
    main()
