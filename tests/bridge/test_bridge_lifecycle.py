"""Strategy lifecycle transitions (Redis pub/sub, as a strategy publishes them) reach both brokers
through a running bridge: NATS subject <prefix>.lifecycle.<instance> in the bridge's stream,
RabbitMQ routing key lifecycle.<instance>; a message that is not a transition is counted and dropped."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import aio_pika
import nats
import pytest
import redis.asyncio as aioredis

from bridge import Bridge, BridgeConfig, NatsOptions, RabbitOptions
from strategies.lifecycle import CHANNEL, EventPublisher
from strategy_client.journal.lifecycle import LifecycleEvent
from strategy_client.model.lifecycle import LifecycleState

from ..helpers import eventually, free_port
from .brokers import NATS_URL, RABBIT_URL, reachable, read_jetstream, read_queue


async def test_lifecycle_transitions_reach_both_brokers(redis_url: str, tmp_path: Path) -> None:
    if not (reachable("127.0.0.1", 4222) and reachable("127.0.0.1", 5672)):
        pytest.skip("NATS (127.0.0.1:4222) or RabbitMQ (127.0.0.1:5672) not reachable")
    uid = uuid.uuid4().hex[:10]
    stream, prefix, exchange, queue = f"TBLC_{uid}", f"tblc_{uid}", f"tblc.{uid}.events", f"tblc.{uid}.lifecycle"
    conn = await aio_pika.connect(RABBIT_URL)
    channel = await conn.channel()
    ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    q = await channel.declare_queue(queue, durable=True)
    await q.bind(ex, routing_key="lifecycle.#")
    bridge = Bridge(
        BridgeConfig(
            name=f"lc-{uid}",
            redis_url=redis_url,
            nats=NatsOptions(url=NATS_URL, stream=stream, prefix=prefix, storage="memory"),
            rabbit=RabbitOptions(url=RABBIT_URL, exchange=exchange),
            cache=False,
            data_dir=str(tmp_path / "bridge"),
            metrics_port=free_port(),
        )
    )
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    publisher = EventPublisher(redis_url)
    pub = asyncio.create_task(publisher.run())
    try:
        await asyncio.wait_for(bridge.ready.wait(), 30)
        ev = LifecycleEvent(
            instance="spotperp",
            stream="strategy:spotperp",
            strategy="spotperp",
            mode="live",
            from_state=LifecycleState.ACTIVE,
            to_state=LifecycleState.PAUSED,
            transition="pause",
            reason="paused by request",
            actor="`strategy pause`",
            ts_ms=1_765_100_000_000,
            pid=1,
            host="h",
        )

        async def relayed() -> bool:
            relay = bridge.lifecycle
            assert relay is not None
            if relay.relayed == 0:
                publisher(ev)  # again until the relay has subscribed (pub/sub keeps nothing)
            return relay.relayed >= 1

        await eventually(relayed, timeout=20, interval=0.2, what="the transition relayed")
        client = aioredis.Redis.from_url(redis_url)
        await client.publish(CHANNEL, b'{"not": "a transition"}')
        await client.aclose()
        await eventually(lambda: bridge.lifecycle is not None and bridge.lifecycle.bad == 1, timeout=10)
        msgs = await read_jetstream(stream, f"{prefix}.lifecycle.>")
        assert msgs and msgs[0][0] == f"{prefix}.lifecycle.spotperp"
        body = json.loads(msgs[0][2])
        assert (body["from"], body["to"], body["actor"]) == ("active", "paused", "`strategy pause`")
        assert msgs[0][1]["Nats-Msg-Id"] == "lifecycle/strategy:spotperp/1765100000000/active-paused"
        got = await read_queue(queue)
        assert got and got[0][0] == "lifecycle/strategy:spotperp/1765100000000/active-paused"
        assert json.loads(got[0][2])["to"] == "paused"
    finally:
        pub.cancel()
        stop.set()
        await asyncio.wait_for(task, 30)
        nc = await nats.connect(NATS_URL)
        await nc.jetstream().delete_stream(stream)
        await nc.close()
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)
        await conn.close()


async def test_the_relay_stops_even_when_redis_py_hangs_closing_its_pub_sub(redis_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """redis-py's asyncio close can wait forever for the socket's ``wait_closed``
    (redis/redis-py#3941): the close is injected to hang, the relay is cancelled as the bridge
    stops it, and it must still end (within its bounded close, 2 s per close)."""
    from redis.asyncio.client import PubSub

    from bridge.lifecycle import LifecycleRelay

    async def hangs(self: PubSub) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(PubSub, "aclose", hangs)
    relay = LifecycleRelay(redis_url, None, None)
    task = asyncio.create_task(relay.run())
    probe = aioredis.Redis.from_url(redis_url)
    try:

        async def listening() -> int | None:
            counts = await probe.pubsub_numsub(CHANNEL)
            return int(counts[0][1]) or None

        assert await eventually(listening, timeout=10, what="the relay subscribed") == 1
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        assert task in done, "the relay did not stop: its pub/sub close hung"
    finally:
        await probe.aclose()
