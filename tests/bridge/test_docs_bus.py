"""docs/bus.md's consumer examples, run as written (only the stream/exchange/queue names are
replaced by this test's own) against a real runner, a bridge and the real brokers."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import aio_pika
import httpx
import nats
import pytest

from bridge import Bridge, BridgeConfig, NatsOptions, RabbitOptions
from bridge.checkpoint import CheckpointStore
from strategy_client import Received, ZmqRouter
from strategy_client.model import InstrumentKey, OrderRequest, OrderType, Side

from ..helpers import eventually, free_port
from ..integration.conftest import ROOT, RunnerProc, start_runner
from .brokers import NATS_URL, RABBIT_URL, reachable

PERP = InstrumentKey.parse("binance:perp:BTCUSDT")
DOC = ROOT / "docs" / "bus.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture()
def runner(redis_url: str, tmp_path: Path) -> Iterator[RunnerProc]:
    if not (reachable("127.0.0.1", 4222) and reachable("127.0.0.1", 5672)):
        pytest.skip("NATS (127.0.0.1:4222) or RabbitMQ (127.0.0.1:5672) not reachable")
    proc = start_runner(redis_url, tmp_path, f"d-{uuid.uuid4().hex[:6]}")
    try:
        proc.record(timeout=60)
        yield proc
    finally:
        proc.stop()


async def _run(code: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-3000:]
    return out.decode()


async def test_the_docs_consumers_read_every_order_event(runner: RunnerProc, redis_url: str, tmp_path: Path) -> None:
    nats_block, rabbit_block = _blocks()
    uid = uuid.uuid4().hex[:10]
    stream, prefix, exchange, queue = f"TBDOC_{uid}", f"tbdoc_{uid}", f"tbdoc.{uid}.events", f"tbdoc.{uid}.order"
    config = BridgeConfig(
        name=f"doc-{uid}",
        redis_url=redis_url,
        runners=(runner.name,),
        kinds=("exec", "acct"),
        nats=NatsOptions(url=NATS_URL, stream=stream, prefix=prefix, storage="memory"),
        rabbit=RabbitOptions(url=RABBIT_URL, exchange=exchange, queues=((queue, "exec.#"),)),
        cache=False,
        data_dir=str(tmp_path / "bridge"),
        metrics_port=free_port(),
    )
    bridge = Bridge(config)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        async with ZmqRouter(redis_url) as router:
            await router.wait_for(runner.name, timeout_s=30)
            api = router.runner(runner.name)
            live = await router.subscribe(kinds="exec", runners=runner.name, snapshot=False)
            for side in (Side.BUY, Side.SELL):
                await api.submit_order(OrderRequest(key=PERP, side=side, type=OrderType.MARKET, qty=Decimal("0.002")))
            got: list[Received] = []
            while sum(1 for item in got if item.event.kind.value == "fill") < 2:  # both orders done
                item = await live.get(10)
                assert isinstance(item, Received), item
                got.append(item)
            await live.close()
            last = (await api.replay_events("binance", 0, limit=1)).last_seq
            rep = await api.replay_events("binance", 0, topic=b"exec|")
            execs = [ev.jseq for ev in rep.events]
            # the live subscription's items carry the journal sequence the bridge keys on
            assert [item.jseq for item in got] == execs
        await eventually(
            lambda: all(lane.acked >= last for lane in bridge.lanes.values()) and len(bridge.lanes) == 2,
            timeout=60,
            what="both sinks to acknowledge every event",
        )
        # Prometheus: the sinks up, the acknowledged point per runner and sink
        url = f"http://127.0.0.1:{bridge.metrics_port}/metrics"
        acked = re.compile(rf'tradebus_bridge_acked_jseq{{runner="{runner.name}",sink="rabbitmq"}} ([0-9.]+)')
        metrics = await eventually(
            lambda: (m := acked.search(text := httpx.get(url, timeout=5).text)) and float(m[1]) >= last and text,
            timeout=30,
            what="the metrics",
        )
        assert 'tradebus_bridge_sink_up{sink="nats"} 1.0' in metrics
        assert 'tradebus_bridge_sink_outages_total{sink="rabbitmq"} 0.0' in metrics
        assert 'tradebus_bridge_published_total{sink="nats"}' in metrics
        sinks = {st.name: st for st in bridge.status().sinks}
        assert sinks["rabbitmq"].unroutable > 0  # acct events: no queue is bound for acct.#
        assert sinks["nats"].unroutable == 0
        nats_code = nats_block.replace('STREAM = "TRADEBUS"', f'STREAM = "{stream}"')
        nats_code = nats_code.replace('"tradebus.exec.>"', f'"{prefix}.exec.>"')
        rabbit_code = rabbit_block.replace('"tradebus.events"', f'"{exchange}"').replace(
            '"ws-gateway.order"', f'"{queue}"'
        )
        assert nats_code != nats_block and rabbit_code != rabbit_block
        for code in (nats_code, rabbit_code):
            lines = (await _run(code)).splitlines()
            assert [int(line.split()[1]) for line in lines] == execs, lines
            assert all(line.startswith(runner.name + " ") for line in lines)
            assert {line.split()[2] for line in lines} >= {"new", "fill"}
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        # the checkpoint names each destination, so another stream or exchange starts afresh
        store = CheckpointStore(bridge.path)
        keys = {(a.sink, a.runner) for a in store.all()}
        store.close()
        assert keys == {(f"nats:{stream}", runner.name), (f"rabbitmq:{exchange}", runner.name)}
        nc = await nats.connect(NATS_URL)
        await nc.jetstream().delete_stream(stream)
        await nc.close()
        conn = await aio_pika.connect(RABBIT_URL)
        channel = await conn.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)
        await conn.close()
