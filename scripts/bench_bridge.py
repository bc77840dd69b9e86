"""Bridge throughput and added latency: the runner's book firehose → ``tradebus-bridge`` →
NATS JetStream and RabbitMQ, with the brokers' raw floor measured in the same run.

    python scripts/bench_bridge.py [--rates 2000,8000] [--seconds 10] [--sinks nats,rabbitmq] [--json PATH]

For each sink and offered rate: the offline Binance venue (its own process) sends partial-depth
frames at ``rate``/s, a runner turns them into ``ob`` events, and a fresh bridge process relays
them to the sink (file-backed JetStream stream / durable topic exchange with one durable queue
bound, persistent messages, publisher confirms). Reported:

* ``offered_per_s``: events the bridge took from the runner per second;
* ``published_per_s``: events the broker acknowledged per second (sustained, after a warm-up);
* ``conflated``: book events skipped by the newest-only policy because the sink was behind;
* ``added_us``: the bridge's own receive → broker acknowledgement, p50/p90/p99/max (µs);
* ``raw``: a bare client (nats-py / aio-pika) in this process publishing payloads the size of a
  real book envelope (read back from the stream), in batches of the same size, acknowledged:
  msgs/s and batch publish → acks p50/p99 — the floor.

Needs NATS (JetStream) at 127.0.0.1:4222 and RabbitMQ at 127.0.0.1:5672 (guest/guest); names are
unique per run and deleted after. Prints a table and writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aio_pika
import msgspec
import nats
import redis
from benchlib.machine import machine_facts
from benchlib.procs import Child, Children, wait_until
from benchlib.simctl import SimControl
from benchlib.stats import summary_us

from bridge import BridgeStatus, status_key
from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair
from strategy_client.wire import decode_record, runner_key

NATS_URL = "nats://127.0.0.1:4222"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"
RUNNER = "bench-bridge"


def log(msg: str) -> None:
    print(f"[bench_bridge] {msg}", file=sys.stderr, flush=True)


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


class Run:
    def __init__(self, workdir: Path, redis_url: str, kids: Children, batch: int) -> None:
        self.workdir = workdir
        self.redis_url = redis_url
        self.kids = kids
        self.batch = batch
        self.uid = uuid.uuid4().hex[:8]
        self.rds = redis.Redis.from_url(redis_url)
        self.port = free_port_pair()
        self.ctl = SimControl(f"http://127.0.0.1:{self.port}")
        self.payload_bytes = 0  # a real book envelope's size, for the raw floor

    def start_venue_and_runner(self) -> None:
        sim = self.kids.start("sim", ["-m", "benchlib.simproc", "--port-base", str(self.port)])
        sim.wait_for("ready", 60)
        args = ["-m", "exchange_runner.cli", "binance", "--sim-connect", f"127.0.0.1:{self.port}"]
        args += ["--redis-url", self.redis_url, "--name", RUNNER, "--symbols", "BTCUSDT,ETHUSDT"]
        args += ["--log-level", "WARNING"]
        self.kids.start("runner", args, env={"TRADEBUS_DATA_DIR": str(self.workdir / "journal")})
        wait_until(self._runner_ready, 60, "the runner to register")
        self.ctl.firehose(rate=0)  # periodic frames paused: the bridge sees firehose frames only

    def _runner_ready(self) -> bool:
        raw = self.rds.get(runner_key(RUNNER))
        return isinstance(raw, bytes) and decode_record(raw).status == "ready"

    def status(self, name: str) -> BridgeStatus | None:
        raw = self.rds.get(status_key(name))
        return msgspec.json.decode(raw, type=BridgeStatus) if isinstance(raw, bytes) else None

    def sink_args(self, sink: str, tag: str) -> list[str]:
        if sink == "nats":
            return ["--nats", NATS_URL, "--nats-stream", f"TBBENCH_{tag}", "--subject-prefix", f"tbbench_{tag}"]
        return ["--rabbit", RABBIT_URL, "--rabbit-exchange", f"tbbench.{tag}", "--rabbit-queue", f"tbbench.{tag}.q=#"]

    def measure(self, sink: str, rate: int, seconds: float) -> dict[str, Any]:
        tag = f"{self.uid}_{sink}_{rate}"
        name = f"bench-{tag}"
        args = ["-m", "bridge.cli", "run", "--redis-url", self.redis_url, "--name", name, "--runners", RUNNER]
        args += ["--kinds", "ob", "--no-cache", "--data-dir", str(self.workdir / "bridge"), "--batch", str(self.batch)]
        args += ["--log-level", "WARNING", *self.sink_args(sink, tag)]
        bridge: Child = self.kids.start(f"bridge-{sink}-{rate}", args)
        try:
            wait_until(lambda: (st := self.status(name)) and st.sinks and st.sinks[0].up, 60, f"the {sink} sink")
            self.ctl.firehose(rate=rate, max_burst_s=0.25)
            time.sleep(2.0)  # warm-up
            st0, t0 = self.status(name), time.monotonic()
            time.sleep(seconds)
            st1, t1 = self.status(name), time.monotonic()
            self.ctl.firehose(rate=0)
            time.sleep(1.5)  # the last acks arrive, the status is rewritten
            st2 = self.status(name)
        finally:
            self.kids.stop(bridge)
        assert st0 is not None and st1 is not None and st2 is not None
        if sink == "nats":
            self.payload_bytes = max(self.payload_bytes, asyncio.run(last_payload_size(f"TBBENCH_{tag}")))
        dt = t1 - t0
        lane0, lane1 = st0.lanes[0], st1.lanes[0]
        return {
            "sink": sink,
            "rate": rate,
            "seconds": round(dt, 2),
            "offered_per_s": round((st1.subscription["received"] - st0.subscription["received"]) / dt),
            "published_per_s": round((lane1.published - lane0.published) / dt),
            "conflated": lane1.conflated - lane0.conflated,
            "outages": st2.sinks[0].outages,
            "added_us": {k: round(v, 1) for k, v in st2.latency_us.get(sink, {}).items()},
        }


async def last_payload_size(stream: str) -> int:
    nc = await nats.connect(NATS_URL)
    try:
        info = await nc.jetstream().stream_info(stream)
        msg = await nc.jetstream().get_msg(stream, info.state.last_seq)
        return len(msg.data or b"")
    finally:
        await nc.close()


def sample_payload(size: int) -> bytes:
    """A JSON body of ``size`` bytes (the raw floor publishes what the bridge published)."""
    head, tail = b'{"v":1,"event":{"event":"book","pad":"', b'"}}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


async def raw_nats(n: int, batch: int, size: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    stream, subject = f"TBBENCH_RAW_{tag}", f"tbbench_raw_{tag}.ob"
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[f"tbbench_raw_{tag}.>"], duplicate_window=120, max_age=300)
    body = sample_payload(size)
    lat: list[int] = []
    try:
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            sent = time.perf_counter_ns()
            futs = [
                await js.publish_async(subject, body, headers={"Nats-Msg-Id": f"{tag}-{i}"})
                for i in range(start, min(n, start + batch))
            ]
            await asyncio.gather(*futs)
            done = time.perf_counter_ns()
            lat.extend([done - sent] * len(futs))
        dt = time.perf_counter() - t0
    finally:
        await js.delete_stream(stream)
        await nc.close()
    return {"msgs_per_s": round(n / dt), "batch_ack_us": summary_us(lat)}


async def raw_rabbit(n: int, batch: int, size: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    conn = await aio_pika.connect(RABBIT_URL)
    channel = await conn.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(f"tbbench.raw.{tag}", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"tbbench.raw.{tag}.q", durable=True)
    await queue.bind(exchange, routing_key="#")
    body = sample_payload(size)
    lat: list[int] = []
    try:
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            sent = time.perf_counter_ns()
            count = min(n, start + batch) - start
            msgs = [
                aio_pika.Message(body, message_id=f"{tag}-{start + i}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
                for i in range(count)
            ]
            await asyncio.gather(*(exchange.publish(m, routing_key="ob.binance.x.perp.BTCUSDT") for m in msgs))
            done = time.perf_counter_ns()
            lat.extend([done - sent] * count)
        dt = time.perf_counter() - t0
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await conn.close()
    return {"msgs_per_s": round(n / dt), "batch_ack_us": summary_us(lat)}


def cleanup(sinks: list[str], uid: str, rates: list[int]) -> None:
    async def run() -> None:
        if "nats" in sinks:
            nc = await nats.connect(NATS_URL)
            for rate in rates:
                try:
                    await nc.jetstream().delete_stream(f"TBBENCH_{uid}_nats_{rate}")
                except nats.js.errors.NotFoundError:
                    pass
            await nc.close()
        if "rabbitmq" in sinks:
            conn = await aio_pika.connect(RABBIT_URL)
            channel = await conn.channel()
            for rate in rates:
                tag = f"{uid}_rabbitmq_{rate}"
                await channel.queue_delete(f"tbbench.{tag}.q")
                await channel.exchange_delete(f"tbbench.{tag}")
            await conn.close()

    asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="2000,8000", help="offered book events/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per rate")
    parser.add_argument("--sinks", default="nats,rabbitmq")
    parser.add_argument("--batch", type=int, default=256, help="the bridge's batch (and the raw floor's)")
    parser.add_argument("--raw-msgs", type=int, default=20_000, help="messages per raw-floor run")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    sinks = [s for s in args.sinks.split(",") if s]
    rates = [int(r) for r in args.rates.split(",") if r]
    for sink, port in (("nats", 4222), ("rabbitmq", 5672)):
        if sink in sinks and not reachable(port):
            print(f"bench_bridge: {sink} not reachable at 127.0.0.1:{port}", file=sys.stderr)
            return 2
    results: dict[str, Any] = {"machine": machine_facts(), "batch": args.batch, "bridge": [], "raw": {}}
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        workdir = Path(tmp)
        server = LocalRedisServer()
        server.start()
        run: Run | None = None
        try:
            with Children(workdir) as kids:
                run = Run(workdir, server.url, kids, args.batch)
                log("starting the offline venue and the runner")
                run.start_venue_and_runner()
                for sink in sinks:
                    for rate in rates:
                        log(f"{sink}: {rate} book events/s for {args.seconds:.0f} s")
                        results["bridge"].append(run.measure(sink, rate, args.seconds))
                        log(f"  {results['bridge'][-1]}")
        finally:
            server.stop()
            if run is not None:
                cleanup(sinks, run.uid, rates)
    size = results["payload_bytes"] = (run.payload_bytes if run is not None else 0) or 1000
    log(f"raw floor: bare clients, same batch, payloads of {size} bytes")
    if "nats" in sinks:
        results["raw"]["nats"] = asyncio.run(raw_nats(args.raw_msgs, args.batch, size))
    if "rabbitmq" in sinks:
        results["raw"]["rabbitmq"] = asyncio.run(raw_rabbit(args.raw_msgs, args.batch, size))
    print(f"{'sink':9} {'offered/s':>10} {'published/s':>12} {'conflated':>10} {'p50 µs':>9} {'p99 µs':>9}")
    for r in results["bridge"]:
        a = r["added_us"]
        print(
            f"{r['sink']:9} {r['offered_per_s']:>10} {r['published_per_s']:>12} {r['conflated']:>10} "
            f"{a.get('p50', 0):>9} {a.get('p99', 0):>9}"
        )
    for sink, raw in results["raw"].items():
        s = raw["batch_ack_us"]
        print(f"raw {sink:5} {raw['msgs_per_s']:>10} msgs/s   batch publish→ack p50 {s['p50']} µs p99 {s['p99']} µs")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
