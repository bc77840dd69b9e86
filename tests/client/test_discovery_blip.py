"""Discovery through a Redis blip (issue 12, defect 6).

A Redis that restarts empty loses every runner record until the runners write them again. The
old router dropped the healthy runners at its next poll (9 of 129 calls failed "no binance
runner registered" in 0.8–3 s); now it keeps the last known record for its TTL, re-verified by
ping, and the runner's registrar writes its record again within ``recheck_s`` of Redis coming
back. These tests restart a private redis-server of their own (never the suite's shared one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.registrar import Registrar
from strategy_client import ZmqRouter
from strategy_client.errors import RunnerUnavailable
from strategy_client.model import Exchange
from strategy_client.wire import RunnerRecord, encode_record, runner_key

from ..helpers import eventually, free_port
from ..integration.conftest import RunnerProc, start_runner
from .helpers import PERP


@pytest.fixture()
def private_redis() -> Iterator[LocalRedisServer]:
    server = LocalRedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def listed(url: str, name: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return bool(client.exists(runner_key(name)))
    except redis.RedisError:
        return False
    finally:
        client.close()


def record(name: str) -> RunnerRecord:
    return RunnerRecord(
        name=name,
        exchange=Exchange.BINANCE,
        pub_endpoint=f"tcp://127.0.0.1:{free_port()}",
        router_endpoint=f"tcp://127.0.0.1:{free_port()}",
        pid=1,
        host="test",
        version="0.0.0",
        protocol_version=1,
        started_at_ms=time.time_ns() // 1_000_000,
        status="ready",
    )


async def test_calls_keep_working_while_redis_restarts_empty(private_redis: LocalRedisServer, tmp_path: Path) -> None:
    url = private_redis.url
    rp: RunnerProc = start_runner(url, tmp_path, "blip-bn")
    try:
        await asyncio.to_thread(rp.record)
        async with ZmqRouter(url, poll_s=0.1) as api:
            await api.wait_for("blip-bn", timeout_s=30)
            ok = 0
            failed: list[str] = []
            stop = asyncio.Event()

            async def calls() -> None:
                nonlocal ok
                while not stop.is_set():
                    try:
                        await api.get_reference_price(PERP, timeout_s=5)
                        ok += 1
                    except Exception as exc:  # noqa: BLE001 - every failure is what this test counts
                        failed.append(repr(exc))
                    await asyncio.sleep(0.01)

            caller = asyncio.create_task(calls())
            await eventually(lambda: ok >= 10, what="calls before the blip")
            private_redis.stop()  # the directory goes away ...
            await asyncio.to_thread(private_redis.start)  # ... and comes back empty, on the same port
            # the runner writes its record again (between heartbeats) and the router lists it again
            await eventually(lambda: listed(url, "blip-bn"), timeout=15, what="runner registered again")
            await eventually(lambda: not api.unlisted(), what="listed again")
            before = ok
            await eventually(lambda: ok >= before + 10, what="calls after the blip")
            stop.set()
            await caller
            assert failed == [], failed
            assert "blip-bn" in api.runners()
    finally:
        rp.stop()


async def test_an_unlisted_runner_that_does_not_answer_is_dropped(private_redis: LocalRedisServer) -> None:
    """Kept only while its pings are answered: a dead runner is not kept for the whole TTL."""
    url = private_redis.url
    client = redis.Redis.from_url(url)
    try:
        client.set(runner_key("ghost"), encode_record(record("ghost")))
        async with ZmqRouter(url, poll_s=0.1, verify_timeout_s=0.2) as api:
            assert "ghost" in api.runners()
            client.flushall()  # Redis "restarted empty"; nothing answers at the ghost's endpoint
            await eventually(lambda: "ghost" not in api.runners(), timeout=5, what="ghost dropped")
            with pytest.raises(RunnerUnavailable, match="no binance runner registered"):
                await api.get_reference_price(PERP)
    finally:
        client.close()


async def test_registrar_writes_its_record_again_between_heartbeats(private_redis: LocalRedisServer) -> None:
    """The heartbeat is 60 s here: the record comes back because of the between-beats check."""
    url = private_redis.url
    reg = Registrar(url, record("reg-1"), heartbeat_s=60.0, recheck_s=0.05)
    task = asyncio.create_task(reg.heartbeat())
    try:
        await eventually(lambda: listed(url, "reg-1"), what="registered")
        client = redis.Redis.from_url(url)
        try:
            client.flushall()
        finally:
            client.close()
        await eventually(lambda: listed(url, "reg-1"), timeout=5, what="registered again")
        assert reg.reregistrations == 1 and reg.beats == 2
        # down, then back empty: written again as soon as Redis answers
        private_redis.stop()
        await eventually(lambda: not reg.redis_ok, what="redis down noticed")
        await asyncio.to_thread(private_redis.start)
        await eventually(lambda: listed(url, "reg-1") and reg.redis_ok, timeout=5, what="registered after restart")
        # a clean stop deregisters for good: the between-beats check never writes it back
        await reg.deregister()
        await eventually(task.done, what="heartbeat ended after deregister")
        assert not listed(url, "reg-1")
    finally:
        task.cancel()
        await reg.close()
