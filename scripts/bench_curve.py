"""CURVE's cost on the CoreApi round trip: the same run, with and without.

    python scripts/bench_curve.py [--calls 3000] [--rounds 6] [--json PATH]

A private redis-server, one offline Binance venue, and two runner processes on it: ``plain``
(no keys, loopback) and ``curve`` (CURVE on ROUTER and PUB, a ZAP allow-list, the per-request
role check from the ZAP ``User-Id``). One client process calls ``get_reference_price`` one at a
time through ``strategy_client.ZmqRouter``, alternating rounds between the two runners so that
both see the same machine load; each round starts with a short warm-up. Prints p50/p99/p99.9
per runner in microseconds, their difference, and the machine's load average.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair
from strategy_client.model import Exchange, InstrumentKey, MarketKind
from strategy_client.router import ZmqRouter
from strategy_client.security import ClientSecurity, generate_keypair, write_keypair
from strategy_client.wire import decode_record, runner_key

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
ROOT = Path(__file__).resolve().parents[1]


def _runner(
    redis_url: str, name: str, sim: int, log: Path, *extra: str, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "exchange_runner.cli", "binance", "--redis-url", redis_url, "--name", name]
    args += ["--sim-connect", f"127.0.0.1:{sim}", "--symbols", "BTCUSDT", "--log-level", "WARNING", *extra]
    with log.open("wb") as fh:
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **env})


def _wait_ready(redis_url: str, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"runner {name} exited:\n{log.read_text()[-2000:]}")
            raw = client.get(runner_key(name))
            if isinstance(raw, bytes) and decode_record(raw).status == "ready":
                return
            time.sleep(0.1)
    finally:
        client.close()
    raise SystemExit(f"runner {name} not ready:\n{log.read_text()[-2000:]}")


async def _round(router: ZmqRouter, name: str, calls: int, warmup: int) -> list[int]:
    api = router.runner(name)
    out: list[int] = []
    for i in range(warmup + calls):
        t0 = time.perf_counter_ns()
        await api.get_reference_price(KEY)
        if i >= warmup:
            out.append(time.perf_counter_ns() - t0)
    return out


def _summary(ns: list[int]) -> dict[str, float]:
    q = statistics.quantiles(ns, n=1000, method="inclusive")
    return {
        "p50": round(statistics.median(ns) / 1000, 1),
        "p99": round(q[989] / 1000, 1),
        "p99.9": round(q[998] / 1000, 1),
        "n": len(ns),
    }


async def _measure(redis_url: str, security: ClientSecurity, calls: int, rounds: int) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {"plain": [], "curve": []}
    async with ZmqRouter(redis_url, security=security) as router:
        await router.wait_for("plain", timeout_s=30)
        await router.wait_for("curve", timeout_s=30)
        per = max(1, calls // rounds)
        for i in range(rounds):
            order = ("plain", "curve") if i % 2 == 0 else ("curve", "plain")
            for name in order:
                samples[name] += await _round(router, name, per, 200 if i < 2 else 50)
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=3000, help="calls per runner, over all rounds")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir, LocalRedisServer() as server:
        tmp = Path(tmpdir)
        runner_keys, client = generate_keypair(), generate_keypair()
        write_keypair(tmp / "trusted", "curve", runner_keys)
        (tmp / "allow.txt").write_text(f"read {client.public} bench\n")
        sim_port = free_port_pair()
        sim_log = tmp / "sim.log"
        with sim_log.open("wb") as fh:
            sim = subprocess.Popen(
                [sys.executable, "-m", "exchanges.sim", "binance", "--port-base", str(sim_port)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        procs = [sim]
        try:
            time.sleep(2.0)  # (the venue's ports; the runners retry until it answers)
            plain = _runner(server.url, "plain", sim_port, tmp / "plain.log", env={})
            procs.append(plain)
            curve = _runner(
                server.url,
                "curve",
                sim_port,
                tmp / "curve.log",
                "--allow",
                str(tmp / "allow.txt"),
                env={"TRADEBUS_CURVE_SECRET": runner_keys.secret},
            )
            procs.append(curve)
            _wait_ready(server.url, "plain", plain, tmp / "plain.log")
            _wait_ready(server.url, "curve", curve, tmp / "curve.log")
            # the client trusts 'curve' by its key file; 'plain' is a plaintext loopback runner, which a
            # client with keys refuses — so this client accepts plaintext records explicitly
            sec = ClientSecurity.from_env({}, client_key=client, trusted=tmp / "trusted", allow_plaintext=True)
            samples = asyncio.run(_measure(server.url, sec, args.calls, args.rounds))
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
    plain_s, curve_s = _summary(samples["plain"]), _summary(samples["curve"])
    result = {
        "plain_rtt_us": plain_s,
        "curve_rtt_us": curve_s,
        "cost_us": {k: round(curve_s[k] - plain_s[k], 1) for k in ("p50", "p99")},
        "loadavg": os.getloadavg(),
        "method": "get_reference_price via ZmqRouter, one call at a time, alternating rounds between a plaintext "
        "and a CURVE runner on the same offline venue (scripts/bench_curve.py)",
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
