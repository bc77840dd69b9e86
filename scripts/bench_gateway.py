"""Gateway fan-out and REST latency: a runner's book firehose → ``tradebus gateway`` → 100
WebSocket clients, and the main REST reads under 50 concurrent clients, each with its raw floor
measured in the same run.

    python scripts/bench_gateway.py [--rates 200,1000] [--clients 100] [--seconds 10]
                                    [--rest-clients 50] [--rest-seconds 10] [--json PATH]

Processes: the offline Binance venue (``benchlib.simproc``), a runner, the gateway, and this
process (the load: WebSocket clients, HTTP clients and the direct subscriber). Reported:

* **fan-out**, per offered rate (book events/s from the venue's firehose): events/s the gateway
  took from the runner, messages/s delivered to all clients together, messages dropped by the
  slow-client policy, and latency runner publish → client receive (``sent_ns`` in each message,
  same host clock) for the WebSocket clients and, as the **floor**, for a direct
  ``strategy_client`` subscriber in this process; ``added_us`` = gateway path − direct path at
  each percentile. The gateway's CPU per event and per delivered message says where the time goes.
* **REST**, 50 concurrent clients looping over the main reads: p50/p90/p99 per endpoint and
  requests/s; the floor is ``GET /api/v1/health`` (HTTP + auth-free, no runner call) and the
  same reads through ``ZmqRouter`` directly from this process (the runner round trip).

Prints a table and writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import msgspec
import redis
from benchlib.machine import machine_facts
from benchlib.procs import Child, Children, wait_until
from benchlib.simctl import SimControl
from benchlib.stats import summary_us

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port, free_port_pair
from gateway.models import Role
from gateway.store import GatewayStore
from strategy_client import Received, ZmqRouter
from strategy_client.wire import decode_record, runner_key

RUNNER = "bench-gw"
KEY = "binance:perp:BTCUSDT"
READS = (
    "/api/v1/runners",
    f"/api/v1/books/{KEY}?depth=10",
    f"/api/v1/prices/{KEY}",
    "/api/v1/orders",
    "/api/v1/positions",
    "/api/v1/balances",
)


def log(msg: str) -> None:
    print(f"[bench_gateway] {msg}", file=sys.stderr, flush=True)


class Stamp(msgspec.Struct):
    """What a client decodes of each message (msgspec skips the rest)."""

    type: str
    sent_ns: int = 0
    count: int = 0


_stamp = msgspec.json.Decoder(Stamp)


class Fanout:
    """``n`` WebSocket clients and one direct subscriber, recording latency while ``on``."""

    def __init__(self, url: str, key: str, n: int) -> None:
        self.url = url.replace("http", "ws", 1) + "/api/v1/stream"
        self.key = key
        self.n = n
        self.on = False
        self.ws_lat: list[int] = []
        self.direct_lat: list[int] = []
        self.received = 0
        self.dropped = 0
        self.closed: list[str] = []

    async def client(self, session: aiohttp.ClientSession, ready: asyncio.Event, count: list[int]) -> None:
        async with session.ws_connect(self.url, headers={"X-API-Key": self.key}, max_msg_size=0) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "topics": ["book"], "instrument": KEY}))
            count[0] += 1
            if count[0] == self.n:
                ready.set()
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                now = time.time_ns()
                s = _stamp.decode(msg.data)
                if not self.on:
                    continue
                if s.type == "event":
                    self.received += 1
                    if s.sent_ns:
                        self.ws_lat.append(now - s.sent_ns)
                elif s.type == "dropped":
                    self.dropped += s.count
            if ws.close_code not in (None, 1000, 1001):
                self.closed.append(f"{ws.close_code} {ws.extra}")

    async def direct(self, router: ZmqRouter) -> None:
        sub = await router.subscribe(kinds="book", keys=[KEY], snapshot=False)
        async with sub:
            async for item in sub:
                if self.on and isinstance(item, Received):
                    self.direct_lat.append(item.recv_ns - item.sent_ns)


async def rest_load(url: str, key: str, clients: int, seconds: float) -> dict[str, Any]:
    lat: dict[str, list[int]] = {p: [] for p in (*READS, "/api/v1/health")}
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, connector=conn, headers={"X-API-Key": key}) as session:

        async def worker(i: int) -> None:
            paths = (*READS, "/api/v1/health")
            j = i
            while time.monotonic() < stop:
                path = paths[j % len(paths)]
                j += 1
                t0 = time.perf_counter_ns()
                async with session.get(path) as r:
                    await r.read()
                    status = r.status
                t1 = time.perf_counter_ns()
                if status == 200:
                    lat[path].append(t1 - t0)
                else:
                    errors[f"{path} {status}"] = errors.get(f"{path} {status}", 0) + 1

        t0 = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        dt = time.monotonic() - t0
    total = sum(len(v) for v in lat.values())
    return {
        "clients": clients,
        "seconds": round(dt, 2),
        "requests_per_s": round(total / dt),
        "errors": errors,
        "by_path_us": {p: summary_us(v) for p, v in lat.items()},
        "all_reads_us": summary_us([x for p, v in lat.items() if p != "/api/v1/health" for x in v]),
    }


async def direct_reads(redis_url: str, clients: int, seconds: float) -> dict[str, Any]:
    """The same reads straight through the client library: the runner round trip (the floor)."""
    lat: list[int] = []
    async with ZmqRouter(redis_url) as router:
        await router.wait_for(RUNNER)
        api = router.runner(RUNNER)
        calls = (
            lambda: api.get_book_snapshot(KEY),
            lambda: api.get_reference_price(KEY),
            lambda: api.get_open_orders("binance"),
            lambda: api.get_all_positions("binance"),
            lambda: api.get_account_snapshot("binance"),
        )
        stop = time.monotonic() + seconds

        async def worker(i: int) -> None:
            j = i
            while time.monotonic() < stop:
                t0 = time.perf_counter_ns()
                await calls[j % len(calls)]()
                lat.append(time.perf_counter_ns() - t0)
                j += 1

        t0 = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        dt = time.monotonic() - t0
    return {"requests_per_s": round(len(lat) / dt), "latency_us": summary_us(lat)}


def minus(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    return {q: round(float(a[q]) - float(b[q]), 1) for q in ("p50", "p90", "p99") if q in a and q in b}


async def fanout_round(
    fan: Fanout, ctl: SimControl, gateway: Child, rate: int, seconds: float, metrics_url: str
) -> dict[str, Any]:
    ctl.firehose(rate=rate, max_burst_s=0.25)
    await asyncio.sleep(2.0)  # warm-up
    fan.ws_lat.clear()
    fan.direct_lat.clear()
    fan.received = fan.dropped = 0
    events0 = await gateway_events(metrics_url)
    cpu0, t0, me0 = gateway.cpu_seconds(), time.monotonic(), time.process_time()
    fan.on = True
    await asyncio.sleep(seconds)
    fan.on = False
    cpu1, t1, me1 = gateway.cpu_seconds(), time.monotonic(), time.process_time()
    events1 = await gateway_events(metrics_url)
    ctl.firehose(rate=0)
    dt = t1 - t0
    events = events1 - events0
    ws = summary_us(fan.ws_lat)
    direct = summary_us(fan.direct_lat)
    cpu = cpu1 - cpu0
    return {
        "offered_per_s": rate,
        "clients": fan.n,
        "gateway_events_per_s": round(events / dt),
        "delivered_per_s": round(fan.received / dt),
        "delivered_per_client_per_s": round(fan.received / dt / fan.n, 1),
        "dropped": fan.dropped,
        "ws_latency_us": ws,
        "direct_latency_us": direct,
        "added_us": minus(ws, direct),
        "gateway_cpu_pct": round(100 * cpu / dt, 1),
        "gateway_cpu_us_per_delivered_msg": round(1e6 * cpu / max(1, fan.received), 2),
        "gateway_cpu_us_per_event": round(1e6 * cpu / max(1, events), 1),
        "load_process_cpu_pct": round(100 * (me1 - me0) / dt, 1),  # the 100 clients + the direct subscriber
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


async def gateway_events(metrics_url: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(metrics_url) as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith("tradebus_gateway_events_total "):
            return int(line.split()[1])
    return 0


async def measure(
    args: argparse.Namespace, gw_url: str, key: str, redis_url: str, ctl: SimControl, gateway: Child
) -> dict[str, Any]:
    out: dict[str, Any] = {"fanout": [], "rest": {}, "rest_floor": {}}
    fan = Fanout(gw_url, key, args.clients)
    ready = asyncio.Event()
    count = [0]
    async with ZmqRouter(redis_url) as router, aiohttp.ClientSession() as session:
        await router.wait_for(RUNNER)
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(fan.client(session, ready, count)) for _ in range(args.clients)]
            tasks.append(tg.create_task(fan.direct(router)))
            await asyncio.wait_for(ready.wait(), 60)
            await asyncio.sleep(1.0)
            for rate in args.rates:
                log(f"fan-out: {rate} events/s to {args.clients} clients for {args.seconds:.0f} s")
                out["fanout"].append(await fanout_round(fan, ctl, gateway, rate, args.seconds, gw_url + "/metrics"))
            for t in tasks:
                t.cancel()
    if fan.closed:
        out["closed"] = fan.closed[:5]
    log(f"REST: {args.rest_clients} clients for {args.rest_seconds:.0f} s")
    cpu0, me0 = gateway.cpu_seconds(), time.process_time()
    out["rest"] = await rest_load(gw_url, key, args.rest_clients, args.rest_seconds)
    out["rest"]["load_process_cpu_pct"] = round(100 * (time.process_time() - me0) / out["rest"]["seconds"], 1)
    out["rest"]["loadavg_1m"] = round(os.getloadavg()[0], 2)
    out["rest"]["gateway_cpu_us_per_request"] = round(
        1e6 * (gateway.cpu_seconds() - cpu0) / max(1, out["rest"]["requests_per_s"] * out["rest"]["seconds"]), 1
    )
    log("REST floor: the same reads through ZmqRouter")
    out["rest_floor"] = await direct_reads(redis_url, args.rest_clients, args.rest_seconds)
    return out


def print_table(res: dict[str, Any]) -> None:
    print("\nfan-out (book events, runner → gateway → WebSocket clients; floor: direct subscriber)")
    head = ("offered/s", "gw ev/s", "deliv/s", "dropped", "ws p50/p99 µs", "direct p50/p99", "added p50/p99")
    print(
        f"{head[0]:>10} {head[1]:>8} {head[2]:>9} {head[3]:>8} {head[4]:>18} {head[5]:>16} {head[6]:>15} gw-cpu% µs/msg"
    )
    for r in res["fanout"]:
        ws, d, a = r["ws_latency_us"], r["direct_latency_us"], r["added_us"]
        print(
            f"{r['offered_per_s']:>10} {r['gateway_events_per_s']:>8} {r['delivered_per_s']:>9} {r['dropped']:>8} "
            f"{ws['p50']:>8}/{ws['p99']:<9} {d['p50']:>7}/{d['p99']:<8} {a.get('p50', 0):>7}/{a.get('p99', 0):<7} "
            f"{r['gateway_cpu_pct']:>8} {r['gateway_cpu_us_per_delivered_msg']:>7}"
        )
    loads = [(r["load_process_cpu_pct"], r["loadavg_1m"]) for r in res["fanout"]]
    print(f"load generator (this process) CPU %, 1-min load average: {loads}")
    rest = res["rest"]
    print(
        f"\nREST: {rest['clients']} clients, {rest['requests_per_s']} requests/s, errors {rest['errors'] or 0}, "
        f"gateway CPU {rest['gateway_cpu_us_per_request']} µs/request, load generator CPU "
        f"{rest['load_process_cpu_pct']} %, load average {rest['loadavg_1m']}"
    )
    for path, s in rest["by_path_us"].items():
        print(f"  {path:<45} p50 {s['p50']:>9} µs  p90 {s['p90']:>9}  p99 {s['p99']:>9}  n {s['n']}")
    floor = res["rest_floor"]
    print(
        f"  floor: the reads via ZmqRouter, {floor['requests_per_s']} req/s: p50 {floor['latency_us']['p50']} µs, "
        f"p99 {floor['latency_us']['p99']} µs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="200,1000", help="offered book events/s, comma-separated")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rest-clients", type=int, default=50)
    parser.add_argument("--rest-seconds", type=float, default=10.0)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    args.rates = [int(r) for r in args.rates.split(",") if r]
    results: dict[str, Any] = {"machine": machine_facts(), "args": {k: v for k, v in vars(args).items() if k != "json"}}
    server = LocalRedisServer()
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp, Children(Path(tmp)) as kids:
            work = Path(tmp)
            redis_url = server.url
            port = free_port_pair()
            sim = kids.start("sim", ["-m", "benchlib.simproc", "--port-base", str(port)])
            sim.wait_for("ready", 60)
            runner = [
                "-m",
                "exchange_runner.cli",
                "binance",
                "--sim-connect",
                f"127.0.0.1:{port}",
                "--redis-url",
                redis_url,
            ]
            runner += ["--name", RUNNER, "--symbols", "BTCUSDT,ETHUSDT", "--log-level", "WARNING"]
            kids.start("runner", runner, env={"TRADEBUS_DATA_DIR": str(work / "journal")})
            rds = redis.Redis.from_url(redis_url)
            wait_until(
                lambda: isinstance(raw := rds.get(runner_key(RUNNER)), bytes) and decode_record(raw).status == "ready",
                60,
                "the runner",
            )
            ctl = SimControl(f"http://127.0.0.1:{port}")
            ctl.firehose(rate=0)
            store = GatewayStore.open(None, work / "gw")
            key = store.create_key(Role.READ, "bench")[1]
            store.close()
            gw_port = free_port()
            gw_args = ["-m", "gateway.umbrella", "gateway", "run", "--port", str(gw_port), "--redis-url", redis_url]
            gw_args += [
                "--data-dir",
                str(work / "gw"),
                "--rate",
                "1000000",
                "--burst",
                "1000000",
                "--log-level",
                "warning",
            ]
            gateway = kids.start("gateway", gw_args)
            gateway.wait_for("gateway: serving", 60)
            gw_url = f"http://127.0.0.1:{gw_port}"
            try:
                import uvloop

                run = uvloop.run
            except ImportError:
                run = asyncio.run
            results.update(run(measure(args, gw_url, key, redis_url, ctl, gateway)))
    finally:
        server.stop()
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
