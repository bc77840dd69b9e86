"""A runner killed (SIGKILL) and restarted mid-session: calls fail fast while it is gone, and the
same router and subscription carry on — after a restart on the same ports (ZeroMQ reconnects)
and after one on new ports (discovery sees the new record and the router follows)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
import redis

from exchange_runner.localredis import LocalRedisServer
from strategy_client import Subscription, ZmqRouter
from strategy_client.endpoints import router_endpoint
from strategy_client.errors import RequestTimeout, RunnerUnavailable
from strategy_client.events import Received, Snapshot
from strategy_client.wire import BookEvent

from ..helpers import eventually, free_port
from ..integration.conftest import RunnerProc, start_runner
from .conftest import db_url
from .helpers import PERP


async def reconnect_snapshot(sub: Subscription, runner: str) -> Snapshot:
    async with asyncio.timeout(20):
        while True:
            item = await sub.get()
            if isinstance(item, Snapshot) and item.reason == "reconnect" and item.runner == runner:
                return item


async def test_runner_killed_and_restarted_mid_session(redis_server: LocalRedisServer, tmp_path: Path) -> None:
    url = db_url(redis_server, 8)
    with redis.Redis.from_url(url) as r:
        r.flushdb()
    name = f"cl-r-{os.getpid()}"
    fixed = ("--router-port", str(free_port()), "--pub-port", str(free_port()))
    procs: list[RunnerProc] = [start_runner(url, tmp_path, name, *fixed)]
    try:
        first = procs[0].record()
        async with ZmqRouter(url, poll_s=0.2) as api:
            await api.wait_for(name, timeout_s=30)
            await api.get_reference_price(PERP)
            sub = await api.subscribe(kinds="book", keys=[PERP], runners=name)
            initial = await sub.get(5)
            assert isinstance(initial, Snapshot) and initial.reason == "initial"

            async def answers() -> bool:
                try:
                    return (await api.get_reference_price(PERP, timeout_s=2)).price > 0
                except (RunnerUnavailable, RequestTimeout):
                    return False

            # killed: the connection drop is noticed and calls fail at once, not after 30 s
            procs[0].stop(signal.SIGKILL)
            client = api.client(name)
            await eventually(lambda: not client.connected, what="disconnect noticed")
            with pytest.raises(RunnerUnavailable, match="is not connected"):
                await api.get_reference_price(PERP, timeout_s=30)

            # back on the same ports: the same client reconnects by itself
            procs.append(start_runner(url, tmp_path, name, *fixed))
            second = procs[1].record()
            assert second.pid != first.pid and second.router_endpoint == first.router_endpoint
            await eventually(answers, timeout=20, what="calls answered after the restart")
            assert api.client(name) is client
            snap = await reconnect_snapshot(sub, name)
            assert snap.books is not None and not snap.error

            # killed again, back on new ports: the router follows the new registration
            procs[1].stop(signal.SIGKILL)
            procs.append(start_runner(url, tmp_path, name))
            third = procs[2].record()
            assert third.router_endpoint != second.router_endpoint
            await eventually(answers, timeout=20, what="calls answered on the new ports")
            assert api.client(name).endpoint == router_endpoint(third)  # ipc:// on this host, else tcp://
            await reconnect_snapshot(sub, name)
            async with asyncio.timeout(10):
                while True:  # and events flow again, from the new process
                    item = await sub.get()
                    if isinstance(item, Received) and isinstance(item.event, BookEvent):
                        break
            assert sub.stats()["runners"] == 1
            await sub.close()
    finally:
        for rp in procs:
            rp.stop()
