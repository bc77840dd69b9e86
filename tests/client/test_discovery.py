"""Discovery over a real Redis: records appear, change (restart), expire (TTL) or are unreadable;
a runner of another protocol version is refused at connect, naming both versions."""

from __future__ import annotations

import time
from collections.abc import Iterator

import msgspec
import pytest
import redis

from exchange_runner.localredis import LocalRedisServer
from strategy_client import ZmqRouter, discover_all, discover_service
from strategy_client.discovery import RunnerWatch
from strategy_client.errors import AmbiguousRoute, DiscoveryError, ProtocolMismatch, RunnerUnavailable
from strategy_client.model import Exchange
from strategy_client.wire import RunnerRecord, encode_record, runner_key

from ..helpers import eventually, free_port
from .conftest import db_url
from .helpers import PERP


def record(name: str, *, pid: int = 100, version: int = 1, exchange: Exchange = Exchange.BINANCE) -> RunnerRecord:
    return RunnerRecord(
        name=name,
        exchange=exchange,
        pub_endpoint=f"tcp://127.0.0.1:{free_port()}",
        router_endpoint=f"tcp://127.0.0.1:{free_port()}",
        pid=pid,
        host="test",
        version="0.0.0",
        protocol_version=version,
        started_at_ms=time.time_ns() // 1_000_000,
        status="ready",
    )


@pytest.fixture()
def directory(redis_server: LocalRedisServer) -> Iterator[tuple[str, redis.Redis]]:
    url = db_url(redis_server, 9)
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url, client
    client.flushdb()
    client.close()


async def test_watch_sees_runners_come_change_and_expire(directory: tuple[str, redis.Redis]) -> None:
    url, r = directory
    watch = RunnerWatch(url)
    try:
        first = record("w1")
        r.set(runner_key("w1"), encode_record(first), px=60_000)
        r.set(runner_key("junk"), b"{not json")
        changes = await watch.poll()
        assert [c.name for c in changes.added] == ["w1"] and watch.bad_records == 1
        heartbeat = msgspec.structs.replace(first, heartbeat_ms=first.heartbeat_ms + 3000, status="degraded")
        r.set(runner_key("w1"), encode_record(heartbeat), px=60_000)
        assert not await watch.poll()  # a heartbeat is not a change
        assert watch.records["w1"].status == "degraded"
        restarted = msgspec.structs.replace(first, pid=101)
        r.set(runner_key("w1"), encode_record(restarted), px=300)  # the TTL of a runner that then dies
        changes = await watch.poll()
        assert changes.changed == ((heartbeat, restarted),)

        async def expired() -> bool:
            return [c.name for c in (await watch.poll()).removed] == ["w1"]

        await eventually(expired, what="record expired")
        assert watch.records == {}
    finally:
        await watch.close()


async def test_discover_service(directory: tuple[str, redis.Redis]) -> None:
    url, r = directory
    r.set(runner_key("bn-1"), encode_record(record("bn-1")))
    assert (await discover_service("binance", url)).name == "bn-1"
    r.set(runner_key("bn-2"), encode_record(record("bn-2")))
    with pytest.raises(AmbiguousRoute, match="bn-1, bn-2"):
        await discover_service(Exchange.BINANCE, url)
    assert (await discover_service("bn-2", url)).name == "bn-2"
    with pytest.raises(RunnerUnavailable, match="no okx runner registered"):
        await discover_service("okx", url)
    with pytest.raises(RunnerUnavailable, match="no runner named 'ghost'"):
        await discover_service("ghost", url, timeout_s=0.3)
    assert set(await discover_all(url)) == {"bn-1", "bn-2"}
    with pytest.raises(DiscoveryError, match="cannot read the runner directory"):
        await discover_all(f"redis://127.0.0.1:{free_port()}/0")


async def test_protocol_mismatch_is_reported_at_connect(directory: tuple[str, redis.Redis]) -> None:
    url, r = directory
    r.set(runner_key("future"), encode_record(record("future", version=2)))
    with pytest.raises(ProtocolMismatch, match=r"runner future .* speaks protocol v2; this client speaks v1"):
        await discover_service("future", url)
    async with ZmqRouter(url) as api:
        with pytest.raises(ProtocolMismatch, match="v2; this client speaks v1"):
            await api.wait_for("future", timeout_s=1)
        assert "future" in api.incompatible()
        with pytest.raises(ProtocolMismatch, match="upgrade the client"):
            await api.get_reference_price(PERP)  # routed to it: the same clear error, not a decode error


async def test_router_needs_its_directory(directory: tuple[str, redis.Redis]) -> None:
    nowhere = ZmqRouter(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(DiscoveryError, match="cannot read the runner directory"):
            await nowhere.start()
    finally:
        await nowhere.close()
    url, _ = directory
    async with ZmqRouter(url) as api:
        with pytest.raises(RunnerUnavailable, match="no runner is registered"):
            await api.wait_for_any(timeout_s=0.3)


async def test_router_drops_a_runner_whose_registration_expires(directory: tuple[str, redis.Redis]) -> None:
    """A crashed runner stops renewing its TTL: the router forgets it without a restart."""
    url, r = directory
    r.set(runner_key("crashed"), encode_record(record("crashed")), px=1500)
    async with ZmqRouter(url, poll_s=0.1) as api:
        assert "crashed" in api.runners()
        await eventually(lambda: "crashed" not in api.runners(), what="registration expired")
        with pytest.raises(RunnerUnavailable, match="no binance runner registered"):
            await api.get_reference_price(PERP)
