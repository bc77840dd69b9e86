"""A JetStream publish waiting for its acknowledgements ends when its connection is lost — not
``ack_timeout_s`` later (nats-py leaves a lost connection's acknowledgements pending, and a lane
sat out the whole timeout after the broker was back: an extra outage 30 s after a cut)."""

from __future__ import annotations

import asyncio

import pytest

from bridge.sinks import NatsOptions, NatsSink, SinkDown

from .brokers import CutProxy, status_event


async def test_a_publish_in_flight_ends_when_its_connection_is_lost(stream: str) -> None:
    proxy = CutProxy("127.0.0.1", 4222)
    await proxy.restore()
    lost: list[str] = []
    sink = NatsSink(
        NatsOptions(url=f"nats://127.0.0.1:{proxy.port}", stream=stream, prefix=stream.lower(), storage="memory")
    )
    sink.on_lost = lost.append
    try:
        await sink.connect()
        assert await sink.publish([status_event("r1", 1)]) == 0  # acknowledged through the proxy
        proxy.hold()  # the broker hangs: the next batch's acknowledgements never come
        publishing = asyncio.create_task(sink.publish([status_event("r1", 2), status_event("r1", 3)]))
        done, _ = await asyncio.wait({publishing}, timeout=0.3)
        assert not done  # waiting for its acknowledgements (ack_timeout_s is 30 s)
        await proxy.cut()
        done, _ = await asyncio.wait({publishing}, timeout=10)
        assert publishing in done, "the publish still waited after its connection was lost"
        with pytest.raises(SinkDown, match="connection lost"):
            publishing.result()
        assert lost and "lost" in lost[0]
        with pytest.raises(SinkDown, match="not connected"):
            await sink.publish([status_event("r1", 4)])  # until connect() again
    finally:
        await sink.close()
        await proxy.cut()
