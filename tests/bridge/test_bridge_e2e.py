"""The bridge over real runners and the machine's real NATS JetStream and RabbitMQ.

Three runners on the embedded simulator trade; a ``bridge run`` process relays their events to a
JetStream stream and a RabbitMQ topic exchange of this test's own (uuid names, deleted after),
through TCP proxies the test cuts and restores — a broker down at the bridge's start and again
mid-run, without touching the shared servers — and the bridge is killed with SIGKILL mid-stream
and restarted. Afterwards every journaled event of every runner (journal sequence 1..last) is in
the stream exactly once and in order, and in the RabbitMQ queue in order with no gap (repeats
only with the same id), and the bridge logged one line per outage.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import msgspec
import nats
import pytest
import redis

from bridge import BridgeStatus, status_key
from strategy_client import ZmqRouter
from strategy_client.model import InstrumentKey, OrderRequest, OrderType, Side

from ..helpers import eventually
from ..integration.conftest import ROOT, RunnerProc, start_runner
from .brokers import NATS_URL, RABBIT_URL, CutProxy, reachable, read_jetstream, read_queue

PERP = InstrumentKey.parse("binance:perp:BTCUSDT")


def _need_brokers() -> None:
    if not reachable("127.0.0.1", 4222):
        pytest.skip("NATS JetStream not reachable at 127.0.0.1:4222")
    if not reachable("127.0.0.1", 5672):
        pytest.skip("RabbitMQ not reachable at 127.0.0.1:5672")


class Names:
    def __init__(self) -> None:
        uid = uuid.uuid4().hex[:10]
        self.uid = uid
        self.stream = f"TBTEST_{uid}"
        self.prefix = f"tbtest_{uid}"
        self.exchange = f"tbtest.{uid}.events"
        self.queue = f"tbtest.{uid}.all"
        self.bridge = f"br-{uid}"


async def _cleanup(names: Names) -> None:
    try:
        nc = await nats.connect(NATS_URL)
        try:
            await nc.jetstream().delete_stream(names.stream)
        except nats.js.errors.NotFoundError:
            pass
        await nc.close()
    except (nats.errors.Error, OSError):
        pass
    try:
        conn = await aio_pika.connect(RABBIT_URL)
        channel = await conn.channel()
        await channel.queue_delete(names.queue)
        await channel.exchange_delete(names.exchange)
        await conn.close()
    except (aio_pika.exceptions.AMQPError, OSError):
        pass


class BridgeProc:
    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        fh = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "run", *self.args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        fh.close()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=5)


def read_status(redis_url: str, name: str) -> BridgeStatus | None:
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.get(status_key(name))
    finally:
        client.close()
    return msgspec.json.decode(raw, type=BridgeStatus) if isinstance(raw, bytes) else None


@pytest.fixture()
def runners(redis_url: str, tmp_path: Path) -> Iterator[list[RunnerProc]]:
    procs = [start_runner(redis_url, tmp_path, f"r{i}-{uuid.uuid4().hex[:6]}") for i in range(3)]
    try:
        for p in procs:
            p.record(timeout=60)
        yield procs
    finally:
        for p in procs:
            p.stop()


@pytest.fixture()
async def names() -> AsyncIterator[Names]:
    _need_brokers()
    n = Names()
    try:
        yield n
    finally:
        await _cleanup(n)


async def _trade(router: ZmqRouter, runner_names: list[str], rounds: int) -> None:
    for i in range(rounds):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        await asyncio.gather(
            *(
                router.runner(n).submit_order(
                    OrderRequest(key=PERP, side=side, type=OrderType.MARKET, qty=Decimal("0.002"))
                )
                for n in runner_names
            )
        )


async def _last_seqs(router: ZmqRouter, runner_names: list[str]) -> dict[str, int]:
    out = {}
    for n in runner_names:
        rep = await router.runner(n).replay_events("binance", 0, limit=1)
        out[n] = rep.last_seq
    return out


async def _caught_up(redis_url: str, bridge: str, last: dict[str, int], sinks: int) -> bool:
    st = read_status(redis_url, bridge)
    if st is None:
        return False
    acked = {(lane.runner, lane.sink): lane.acked_jseq for lane in st.lanes}
    done = [acked.get((r, s.name), 0) >= seq for r, seq in last.items() for s in st.sinks]
    return len(st.sinks) == sinks and all(done)


def _check_jetstream(msgs: list[tuple[str, dict[str, str], bytes]], last: dict[str, int]) -> None:
    by_runner: dict[str, list[int]] = {r: [] for r in last}
    ids: list[str] = []
    for _subject, headers, body in msgs:
        env = msgspec.json.decode(body)
        ids.append(headers["Nats-Msg-Id"])
        assert headers["Tradebus-Wire-Version"] == "1" and headers["traceparent"].startswith("00-")
        if env["jseq"] and env["runner"] in by_runner:
            by_runner[env["runner"]].append(env["jseq"])
    assert len(ids) == len(set(ids)), "JetStream holds a message id twice"
    for runner, seqs in by_runner.items():
        # 1, 2, 3 … with no gap and no repeat, through at least the acknowledged point
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= last[runner], (
            f"{runner}: {seqs} vs {last[runner]}"
        )


def _check_queue(msgs: list[tuple[str, dict[str, Any], bytes]], last: dict[str, int]) -> int:
    """In order, no gap; a repeat has the same id and body as its first copy. Returns repeats."""
    first: dict[str, bytes] = {}
    by_runner: dict[str, list[int]] = {r: [] for r in last}
    repeats = 0
    for mid, _headers, body in msgs:
        if mid in first:
            assert first[mid] == body
            repeats += 1
            continue
        first[mid] = body
        env = msgspec.json.decode(body)
        if env["jseq"] and env["runner"] in by_runner:
            by_runner[env["runner"]].append(env["jseq"])
    for runner, seqs in by_runner.items():
        # 1, 2, 3 … with no gap and no repeat, through at least the acknowledged point
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= last[runner], (
            f"{runner}: {seqs} vs {last[runner]}"
        )
    return repeats


async def test_three_runners_in_order_after_outages_and_kill9(
    runners: list[RunnerProc], names: Names, redis_url: str, tmp_path: Path
) -> None:
    runner_names = [p.name for p in runners]
    nats_proxy = CutProxy("127.0.0.1", 4222)
    rabbit_proxy = CutProxy("127.0.0.1", 5672)
    bridge = BridgeProc(
        [
            "--redis-url", redis_url,
            "--name", names.bridge,
            "--runners", ",".join(runner_names),
            "--kinds", "exec,pos,acct,fund,status",
            "--nats", f"nats://127.0.0.1:{nats_proxy.port}",
            "--nats-stream", names.stream,
            "--subject-prefix", names.prefix,
            "--rabbit", f"amqp://guest:guest@127.0.0.1:{rabbit_proxy.port}/",
            "--rabbit-exchange", names.exchange,
            "--rabbit-queue", f"{names.queue}=#",
            "--data-dir", str(tmp_path / "bridge"),
            "--no-cache",
            "--batch", "16",
        ],
        tmp_path / "bridge.log",
    )  # fmt: skip
    async with ZmqRouter(redis_url) as router:
        for n in runner_names:
            await router.wait_for(n, timeout_s=30)
        try:
            # 1. both brokers down at the bridge's start (nothing listens on the proxies' ports)
            bridge.start()
            await _trade(router, runner_names, 2)
            await eventually(
                lambda: (
                    (st := read_status(redis_url, names.bridge))
                    and len(st.sinks) == 2
                    and all(not s.up and s.outages == 1 and s.last_error for s in st.sinks)
                ),
                timeout=30,
                what="the bridge's status to say both sinks are down",
            )
            await nats_proxy.restore()
            await rabbit_proxy.restore()
            last = await _last_seqs(router, runner_names)
            await eventually(lambda: _caught_up(redis_url, names.bridge, last, 2), timeout=60, what="catch-up (1)")

            # 2. kill -9 while events flow, restart
            trading = asyncio.create_task(_trade(router, runner_names, 6))
            await eventually(
                lambda: (
                    (st := read_status(redis_url, names.bridge))
                    and any(lane.acked_jseq > last[lane.runner] for lane in st.lanes)
                ),
                timeout=30,
                what="the bridge to acknowledge new events",
            )
            bridge.kill9()
            await trading
            bridge.start()
            await _trade(router, runner_names, 2)
            last = await _last_seqs(router, runner_names)
            await eventually(lambda: _caught_up(redis_url, names.bridge, last, 2), timeout=60, what="catch-up (2)")

            # 3. both brokers cut mid-run, events meanwhile, restored
            await nats_proxy.cut()
            await rabbit_proxy.cut()
            await _trade(router, runner_names, 3)
            await eventually(
                lambda: (
                    (st := read_status(redis_url, names.bridge)) and all(not s.up and s.outages == 1 for s in st.sinks)
                ),
                timeout=30,
                what="the status to say the sinks are down mid-run",
            )
            await nats_proxy.restore()
            await rabbit_proxy.restore()
            last = await _last_seqs(router, runner_names)
            await eventually(lambda: _caught_up(redis_url, names.bridge, last, 2), timeout=60, what="catch-up (3)")
            shown = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "bridge.cli", "status", "--name", names.bridge, "--redis-url", redis_url],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=ROOT,
            )
            assert shown.returncode == 0, shown.stderr
            assert "sink nats: UP" in shown.stdout and "sink rabbitmq: UP" in shown.stdout
            for name in runner_names:
                assert re.search(rf"{name} → nats: acked jseq (\d+), head \1, lag 0", shown.stdout), shown.stdout
            final = read_status(redis_url, names.bridge)
            assert final is not None
            # what the bridge acknowledged in the end (runners may journal more, e.g. account updates)
            acked = {lane.runner: lane.acked_jseq for lane in final.lanes if lane.sink == "nats"}
            assert all(acked[r] >= last[r] for r in last), (acked, last)
        except AssertionError as exc:
            st = read_status(redis_url, names.bridge)
            raise AssertionError(f"{exc}\nstatus: {st}\nbridge log:\n{bridge.log.read_text()[-4000:]}") from exc
        finally:
            code = bridge.stop()
            await nats_proxy.cut()
            await rabbit_proxy.cut()
    assert code == 0, bridge.log.read_text()[-3000:]
    log = bridge.log.read_text()
    assert all(n > 5 for n in last.values()), last
    _check_jetstream(await read_jetstream(names.stream, f"{names.prefix}.>"), acked)
    repeats = _check_queue(await read_queue(names.queue), acked)
    # one warning per outage and sink: down at start (run 1), cut mid-run (run 2)
    assert log.count("sink nats DOWN") == 2, log
    assert log.count("sink rabbitmq DOWN") == 2, log
    print(f"rabbitmq repeats (same id): {repeats}; last journal sequences: {last}")
