"""Registrar, unit by unit, against a private real redis-server on a free port (stopped and
started again by the tests) and an injected wall clock: the record and its TTL, a record that
vanished, Redis going away and coming back, and a clean stop that deletes only its own record."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from exchange_runner.localredis import LocalRedisServer, RedisUnavailable
from exchange_runner.registrar import Registrar
from strategy_client.model import Exchange
from strategy_client.wire import RunnerRecord, decode_record, encode_record, runner_key
from tests.helpers import eventually

NAME = "unit-registrar"
KEY = runner_key(NAME)


def record(epoch: str = "e1") -> RunnerRecord:
    return RunnerRecord(
        name=NAME,
        exchange=Exchange.BINANCE,
        pub_endpoint="tcp://127.0.0.1:1",
        router_endpoint="tcp://127.0.0.1:2",
        pid=os.getpid(),
        host=socket.gethostname(),
        version="0",
        protocol_version=1,
        started_at_ms=0,
        epoch=epoch,
    )


class Wall:
    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def server() -> Iterator[LocalRedisServer]:
    srv = LocalRedisServer()
    try:
        srv.start()
    except RedisUnavailable as exc:
        pytest.skip(f"no redis-server to start: {exc}")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def redis(server: LocalRedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(server.url, socket_timeout=2.0)
    try:
        yield client
    finally:
        await client.aclose()


async def listed(redis: aioredis.Redis) -> RunnerRecord | None:
    raw = await redis.get(KEY)
    return decode_record(raw) if isinstance(raw, bytes) else None


async def test_the_record_carries_the_clock_and_its_ttl_and_the_status_follows(
    server: LocalRedisServer, redis: aioredis.Redis
) -> None:
    wall = Wall()
    reg = Registrar(server.url, record(), ttl_s=15, wall_ms=wall)
    try:
        assert await reg.register()
        got = await listed(redis)
        assert got is not None and got.heartbeat_ms == 1_700_000_000_000 and got.epoch == "e1"
        assert 0 < await redis.ttl(KEY) <= 15
        wall.ms += 3_000
        reg.set_status("ready")
        assert await reg.register()
        got = await listed(redis)
        assert got is not None and got.heartbeat_ms == 1_700_000_003_000 and got.status == "ready"
        assert reg.redis_ok and reg.beats == 2 and reg.failures == 0
    finally:
        await reg.close()


async def test_a_record_that_vanished_is_written_again_before_the_next_beat(
    server: LocalRedisServer, redis: aioredis.Redis
) -> None:
    reg = Registrar(server.url, record(), heartbeat_s=60, recheck_s=0.05)
    beat = asyncio.create_task(reg.heartbeat())
    try:
        await eventually(lambda: listed(redis), what="registered")
        await redis.flushall()  # a Redis that restarted empty
        await eventually(lambda: listed(redis), what="registered again", timeout=20)
        assert reg.reregistrations == 1
    finally:
        await reg.deregister()
        await asyncio.wait_for(beat, 20)
        await reg.close()


async def test_redis_down_is_reported_and_a_redis_back_gets_the_record_again(
    server: LocalRedisServer,
) -> None:
    reg = Registrar(server.url, record(), heartbeat_s=60, recheck_s=0.05)
    beat = asyncio.create_task(reg.heartbeat())
    try:
        await eventually(lambda: reg.redis_ok, what="registered")
        server.stop()
        await eventually(lambda: not reg.redis_ok and reg.failures >= 1, what="Redis down noticed", timeout=20)
        failures = reg.failures
        await eventually(lambda: reg.failures > failures, what="retried while down", timeout=20)
        server.start()  # same port, empty
        await eventually(lambda: reg.redis_ok, what="registered again", timeout=30)
        client = aioredis.Redis.from_url(server.url)
        try:
            assert await listed(client) is not None
        finally:
            await client.aclose()
    finally:
        await reg.deregister()
        await asyncio.wait_for(beat, 20)
        await reg.close()


async def test_a_clean_stop_deletes_its_own_record_and_never_another_runners(
    server: LocalRedisServer, redis: aioredis.Redis
) -> None:
    mine = Registrar(server.url, record("mine"))
    try:
        assert await mine.register()
        await mine.deregister()
        assert await listed(redis) is None
        assert not await mine.register()  # after a clean stop nothing writes the record again
        assert await listed(redis) is None
    finally:
        await mine.close()
    late = Registrar(server.url, record("late"))
    try:
        await redis.set(KEY, encode_record(record("other")), ex=30)  # another runner took the name meanwhile
        await late.deregister()
        got = await listed(redis)
        assert got is not None and got.epoch == "other"
    finally:
        await late.close()
