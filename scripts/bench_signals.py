"""The signal chain's latency: a signal published on the broker → its order read by the venue.

    python scripts/bench_signals.py [--signals 200] [--interval-ms 50] [--brokers rabbitmq,nats]
                                    [--redis-url URL] [--json PATH]

Starts a private Redis (unless ``--redis-url``), a Binance runner with its embedded offline venue,
and for each broker a ``strategy signals`` process on queue/stream names of its own (deleted
after). Publishes ``--signals`` market signals (0.002 BTCUSDT perp, alternately buy and sell), one
every ``--interval-ms``, each stamped with the wall clock right before the publish call, and then
reads the venue's own order book (``GET /_sim/orders``): the order's ``created_ms`` (the venue's
clock: this machine's wall clock, in milliseconds) minus the publish time is the sample.

Also reported, per signal, from the enriched events the chain published: ``received_to_submit_us``
(taken off the broker → sent to the runner) and ``received_to_ack_us`` (→ the runner's answer,
i.e. the venue's ack), and the **raw floor** in the same run: a bare client publishing to a
queue/subject and a bare consumer taking it (publish → delivered), the broker's own share.

Needs RabbitMQ at 127.0.0.1:5672 (guest/guest) and/or NATS JetStream at 127.0.0.1:4222. Prints a
table and writes JSON with ``--json``. Resolution of the end-to-end figure: 1 ms (the venue's
timestamps).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal as signals
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aio_pika
import httpx
import nats
import nats.js.errors
from benchlib.stats import percentile
from kill_restart import Harness, wait

from strategies.signals.plan import client_id

ROOT = Path(__file__).resolve().parents[1]
RABBIT = "amqp://guest:guest@127.0.0.1:5672/"
NATS = "nats://127.0.0.1:4222"
PERP = "binance:perp:BTCUSDT"


def stats(values: list[float]) -> dict[str, float | int]:
    s = sorted(values)
    if not s:
        return {"n": 0}
    return {
        "n": len(s),
        "p50": round(percentile(s, 50), 2),
        "p90": round(percentile(s, 90), 2),
        "p99": round(percentile(s, 99), 2),
        "max": round(s[-1], 2),
    }


def signal_body(sid: str, i: int) -> bytes:
    return json.dumps(
        {
            "id": sid,
            "instrument": PERP,
            "side": "buy" if i % 2 == 0 else "sell",
            "qty": "0.002",
            "urgency": "high",
            "ts_ms": time.time_ns() // 1_000_000,
            "ttl_ms": 60_000,
            "source": "bench",
        }
    ).encode()


class Broker:
    """The broker-specific parts: the flags for ``strategy signals``, a publisher, the events, the floor."""

    def __init__(self, kind: str, uid: str) -> None:
        self.kind, self.uid = kind, uid
        if kind == "rabbitmq":
            self.queue, self.exchange, self.events = f"bsig.{uid}.in", f"bsig.{uid}.ev", f"bsig.{uid}.orders"
        else:
            self.queue, self.stream, self.prefix = f"bsig_{uid}.in", f"BSIG_{uid}", f"bsig_{uid}"
            self.events_stream = f"BSIGEV_{uid}"

    def flags(self) -> list[str]:
        if self.kind == "rabbitmq":
            return [
                "--rabbit",
                RABBIT,
                "--queue",
                self.queue,
                "--events-exchange",
                self.exchange,
                "--events-queue",
                f"{self.events}=signals.order.#",
            ]
        return [
            "--nats",
            NATS,
            "--queue",
            self.queue,
            "--stream",
            self.stream,
            "--subject-prefix",
            self.prefix,
            "--events-stream",
            self.events_stream,
        ]

    async def publish_all(self, ids: list[str], interval_s: float) -> dict[str, int]:
        sent: dict[str, int] = {}
        if self.kind == "rabbitmq":
            conn = await aio_pika.connect(RABBIT)
            async with conn:
                ch = await conn.channel(publisher_confirms=False)
                for i, sid in enumerate(ids):
                    body = signal_body(sid, i)
                    sent[sid] = time.time_ns()
                    await ch.default_exchange.publish(aio_pika.Message(body, message_id=sid), routing_key=self.queue)
                    await asyncio.sleep(interval_s)
            return sent
        nc = await nats.connect(NATS)
        try:
            for i, sid in enumerate(ids):
                body = signal_body(sid, i)
                sent[sid] = time.time_ns()
                await nc.publish(self.queue, body, headers={"Nats-Msg-Id": sid})  # core publish: the stream stores it
                await asyncio.sleep(interval_s)
            await nc.flush()
        finally:
            await nc.close()
        return sent

    async def read_events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.kind == "rabbitmq":
            conn = await aio_pika.connect(RABBIT)
            async with conn:
                ch = await conn.channel()
                q = await ch.get_queue(self.events)
                while (msg := await q.get(no_ack=True, fail=False, timeout=1)) is not None:
                    out.append(json.loads(msg.body))
            return out
        nc = await nats.connect(NATS)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(f"{self.prefix}.signals.order.>", stream=self.events_stream, ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except (TimeoutError, nats.errors.TimeoutError):
                    break
                out.append(json.loads(msg.data))
        finally:
            await nc.close()
        return out

    async def floor(self, n: int, interval_s: float) -> list[float]:
        """A bare publisher and a bare consumer on a queue/subject of their own: publish → delivered (ms)."""
        got: list[float] = []
        if self.kind == "rabbitmq":
            conn = await aio_pika.connect(RABBIT)
            async with conn:
                ch = await conn.channel(publisher_confirms=False)
                q = await ch.declare_queue(f"bsig.{self.uid}.floor", durable=True)

                async def on(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
                    got.append((time.time_ns() - int(msg.body)) / 1e6)
                    await msg.ack()

                tag = await q.consume(on)
                for _ in range(n):
                    await ch.default_exchange.publish(
                        aio_pika.Message(str(time.time_ns()).encode()), routing_key=q.name
                    )
                    await asyncio.sleep(interval_s)
                await asyncio.sleep(0.5)
                await q.cancel(tag)
                await q.delete(if_unused=False, if_empty=False)
            return got
        nc = await nats.connect(NATS)
        try:
            js = nc.jetstream()
            stream = f"BSIGFL_{self.uid}"
            await js.add_stream(name=stream, subjects=[f"bsig_{self.uid}.floor"])
            sub = await js.pull_subscribe(f"bsig_{self.uid}.floor", durable="floor", stream=stream)

            async def pull() -> None:
                while len(got) < n:
                    try:
                        msgs = await sub.fetch(64, timeout=1)
                    except (TimeoutError, nats.errors.TimeoutError):
                        continue
                    for m in msgs:
                        got.append((time.time_ns() - int(m.data)) / 1e6)
                        await m.ack()

            task = asyncio.create_task(pull())
            for _ in range(n):
                await nc.publish(f"bsig_{self.uid}.floor", str(time.time_ns()).encode())
                await asyncio.sleep(interval_s)
            await asyncio.wait_for(task, 30)
            await js.delete_stream(stream)
        finally:
            await nc.close()
        return got

    async def cleanup(self) -> None:
        if self.kind == "rabbitmq":
            conn = await aio_pika.connect(RABBIT)
            async with conn:
                ch = await conn.channel()
                for q in (self.queue, self.queue + ".dlq", self.events):
                    await ch.queue_delete(q)
                await ch.exchange_delete(self.exchange)
            return
        nc = await nats.connect(NATS)
        try:
            js = nc.jetstream()
            for name in (self.stream, self.events_stream):
                try:
                    await js.delete_stream(name)
                except nats.js.errors.NotFoundError:
                    pass
        finally:
            await nc.close()


def run_broker(h: Harness, kind: str, n: int, interval_ms: int) -> dict[str, Any]:
    uid = uuid.uuid4().hex[:8]
    broker = Broker(kind, uid)
    name = f"bench{uid}"
    log = (h.work / f"signals-{kind}.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strategies.cli",
            "signals",
            "--redis-url",
            h.redis_url,
            "--name",
            name,
            "--data-dir",
            str(h.data),
            *broker.flags(),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=h.env,
    )
    log.close()
    text = lambda: (h.work / f"signals-{kind}.log").read_text(errors="replace")  # noqa: E731
    try:
        wait(lambda: "taking signals from" in text() or proc.poll() is not None, 60, "strategy signals")
        if proc.poll() is not None:
            raise RuntimeError(text()[-3000:])
        ids = [f"b{uid}-{i}" for i in range(n)]
        warm = asyncio.run(broker.publish_all([f"w{uid}-{i}" for i in range(5)], interval_ms / 1000))
        sent = asyncio.run(broker.publish_all(ids, interval_ms / 1000))
        cids = {client_id(sid, "entry"): sid for sid in ids}

        def venue() -> list[dict[str, Any]]:
            rep = httpx.get(f"http://127.0.0.1:{h.port_base}/_sim/orders", timeout=10).json()
            return [o for o in rep["orders"] if o["client_order_id"] in cids]

        try:
            wait(lambda: len(venue()) >= n, 60, "every order at the venue")
        except TimeoutError:
            raise RuntimeError(
                f"{len(venue())}/{n} orders at the venue; strategy signals said:\n{text()[-4000:]}"
            ) from None
        e2e = [o["created_ms"] - sent[cids[o["client_order_id"]]] / 1e6 for o in venue()]
        proc.send_signal(signals.SIGTERM)  # its last events are published before it exits
        proc.wait(60)
        # the entry's final event carries the latencies (the answer may come before or after the fill event)
        events = [e for e in asyncio.run(broker.read_events()) if e.get("final") and e["signal_id"] in sent]
        submit = [e["latency"]["received_to_submit_us"] / 1000 for e in events]
        ack = [e["latency"]["received_to_ack_us"] / 1000 for e in events]
        floor = asyncio.run(broker.floor(n, interval_ms / 1000))
        del warm
    finally:
        if proc.poll() is None:
            proc.send_signal(signals.SIGTERM)
            proc.wait(30)
        asyncio.run(broker.cleanup())
    return {
        "broker": kind,
        "signals": n,
        "interval_ms": interval_ms,
        "published_to_venue_ms": stats(e2e),
        "received_to_submit_ms": stats(submit),
        "received_to_ack_ms": stats(ack),
        "raw_floor_publish_to_consumer_ms": stats(floor),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--signals", type=int, default=200)
    ap.add_argument("--interval-ms", type=int, default=50)
    ap.add_argument("--brokers", default="rabbitmq,nats")
    ap.add_argument("--redis-url")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-signals-") as tmp:
        h = Harness(Path(tmp), args.redis_url, None, 1)
        try:
            h.start_runner()
            results = [run_broker(h, b.strip(), args.signals, args.interval_ms) for b in args.brokers.split(",")]
        finally:
            h.close()
    out = {"results": results, "load_avg": os.getloadavg(), "cpus": os.cpu_count(), "ts": time.time()}
    print(f"{'broker':10} {'what':34} {'n':>5} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}  (ms)")
    for r in results:
        for what in (
            "published_to_venue_ms",
            "received_to_submit_ms",
            "received_to_ack_ms",
            "raw_floor_publish_to_consumer_ms",
        ):
            s = r[what]
            print(
                f"{r['broker']:10} {what:34} {s.get('n', 0):>5} {s.get('p50', '-'):>8} {s.get('p90', '-'):>8} "
                f"{s.get('p99', '-'):>8} {s.get('max', '-'):>8}"
            )
    print(f"load average {out['load_avg'][0]:.1f} on {out['cpus']} cores")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
        print(f"json: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
