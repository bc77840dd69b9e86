"""One name, one runner (``Registrar.claim``), against the suite's real Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import redis.asyncio as aioredis

from exchange_runner.registrar import NameTaken, Registrar
from strategy_client.model import Exchange
from strategy_client.wire import RunnerRecord, decode_record, runner_key
from tests.helpers import eventually


def _record(pid: int, epoch: str, host: str | None = None) -> RunnerRecord:
    return RunnerRecord(
        name="solo",
        exchange=Exchange.BINANCE,
        pub_endpoint="tcp://127.0.0.1:1",
        router_endpoint="tcp://127.0.0.1:2",
        pid=pid,
        host=host or socket.gethostname(),
        version="0",
        protocol_version=1,
        started_at_ms=0,
        epoch=epoch,
    )


async def _held(url: str) -> RunnerRecord | None:
    client = aioredis.Redis.from_url(url)
    try:
        raw = await client.get(runner_key("solo"))
    finally:
        await client.aclose()
    return decode_record(raw) if isinstance(raw, bytes) else None


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def test_a_live_holder_is_refused_and_replace_takes_over(redis_url: str) -> None:
    other_pid = os.getppid()  # alive, on this host
    first = Registrar(redis_url, _record(other_pid, "aaaa"), heartbeat_s=60, recheck_s=0.05)
    stopped: list[bool] = []
    first.on_replaced = lambda: stopped.append(True)
    second = Registrar(redis_url, _record(os.getpid(), "bbbb"))
    third = Registrar(redis_url, _record(os.getpid(), "cccc"), replace=True)
    try:
        await first.claim()
        with pytest.raises(NameTaken, match=rf"held by pid {other_pid} on host {socket.gethostname()} .*--replace"):
            await second.claim()
        assert (await _held(redis_url)).epoch == "aaaa"  # type: ignore[union-attr]
        await third.claim()
        assert (await _held(redis_url)).epoch == "cccc"  # type: ignore[union-attr]
        # the old holder's next write does not take it back; it notices and stops
        assert await first.register() is False
        assert stopped == [True] and first.replaced_by is not None and first.replaced_by.epoch == "cccc"
        assert (await _held(redis_url)).epoch == "cccc"  # type: ignore[union-attr]
        await first.deregister()  # not its key any more: left alone
        assert (await _held(redis_url)).epoch == "cccc"  # type: ignore[union-attr]
        await third.deregister()
        assert await _held(redis_url) is None
    finally:
        for r in (first, second, third):
            await r.close()


async def test_the_heartbeat_notices_a_takeover_between_beats(redis_url: str) -> None:
    import asyncio

    first = Registrar(redis_url, _record(os.getppid(), "aaaa"), heartbeat_s=60, recheck_s=0.05)
    stopped: list[bool] = []
    first.on_replaced = lambda: stopped.append(True)
    taker = Registrar(redis_url, _record(os.getpid(), "dddd"), replace=True)
    try:
        await first.claim()
        beat = asyncio.create_task(first.heartbeat())
        await taker.claim()
        await eventually(lambda: stopped, timeout=5, what="the takeover noticed")
        await eventually(beat.done, timeout=5, what="the heartbeat ended")
        assert (await _held(redis_url)).epoch == "dddd"  # type: ignore[union-attr]
    finally:
        await first.close()
        await taker.close()


async def test_a_dead_holder_on_this_host_is_taken_over_without_replace(redis_url: str) -> None:
    stale = Registrar(redis_url, _record(_dead_pid(), "eeee"))
    fresh = Registrar(redis_url, _record(os.getpid(), "ffff"))
    try:
        await stale.claim()
        await fresh.claim()  # no NameTaken: that PID is gone
        assert (await _held(redis_url)).epoch == "ffff"  # type: ignore[union-attr]
    finally:
        await stale.close()
        await fresh.close()


async def test_a_holder_on_another_host_counts_as_alive(redis_url: str) -> None:
    remote = Registrar(redis_url, _record(1, "gggg", host="elsewhere"))
    local = Registrar(redis_url, _record(os.getpid(), "hhhh"))
    try:
        await remote.claim()
        with pytest.raises(NameTaken, match="pid 1 on host elsewhere"):
            await local.claim()
    finally:
        await remote.close()
        await local.close()
