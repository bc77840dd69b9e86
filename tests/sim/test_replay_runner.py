"""Recording → replay → the same books come back, end to end: the shipped recording replayed by
``python -m exchanges.sim binance --replay … --hold`` (held at its start while a runner connects
with ``--sim-connect``), then released at ``--speed 20``; a strategy_client subscriber takes the
runner's books, and every one is the recorded book in force at its venue time (read back with the
recorder's own reader); spot partial depth carries no time, so there every book must be a
recorded one, in the recorded order. The runner's quality control is off (``[runner.quality]
enabled = false``): its time checks cannot follow a clock that runs 20 × real time."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from bisect import bisect_right
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair
from strategy_client import Received, ZmqRouter
from strategy_client.model import MarketKind, OrderBook
from strategy_client.wire import BookEvent

from ..helpers import eventually, eventually_sync
from ..integration.conftest import RunnerProc
from .test_replay import FIXTURE, ROOT, recorded_books


def _admin(port: int, body: dict[str, object] | None = None) -> dict[str, object]:
    url = f"http://127.0.0.1:{port}/_sim/replay"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=5) as r:
        out: dict[str, object] = json.loads(r.read())
        return out


def _reachable(port: int, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(log.read_text())
    try:
        _admin(port)
    except OSError:
        return False
    return True


@pytest.fixture()
def venue_port(tmp_path: Path) -> Iterator[int]:
    """The replaying venue, held at the recording's start."""
    port = free_port_pair()
    log = tmp_path / "venue.log"
    args = [sys.executable, "-m", "exchanges.sim", "binance", "--port-base", str(port)]
    args += ["--replay", str(FIXTURE), "--speed", "20", "--hold", "--no-rate-limits"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        eventually_sync(lambda: _reachable(port, proc, log), timeout=30, interval=0.05, what="the venue")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture()
def runner(venue_port: int, redis_server: LocalRedisServer, tmp_path: Path) -> Iterator[RunnerProc]:
    """A runner on the replaying venue (``--sim-connect``), ready."""
    name = f"replay-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "runner.log"
    args = [sys.executable, "-m", "exchange_runner.cli", "binance", "--redis-url", redis_server.url, "--name", name]
    args += ["--sim-connect", f"127.0.0.1:{venue_port}", "--symbols", "BTCUSDT", "--no-journal"]
    # quality control's time checks compare recorded times (20 × real time) with the runner's
    # estimate of the venue's clock, measured once a second: off for a replay faster than real time
    config = tmp_path / "runner.toml"
    config.write_text("[runner.quality]\nenabled = false\n")
    args += ["--config", str(config)]
    with log.open("wb") as fh:
        env = {**os.environ, "TRADEBUS_DATA_DIR": str(tmp_path)}
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    rp = RunnerProc(proc, name, redis_server.url, venue_port, log)
    try:
        rp.record(60.0)
        yield rp
    finally:
        rp.stop()


async def test_a_subscriber_gets_the_recorded_books_back(venue_port: int, runner: RunnerProc) -> None:
    name = runner.name
    expected = recorded_books("binance")
    final = {key: books[-1] for key, (_, books) in expected.items()}
    got: list[tuple[tuple[MarketKind, str], int, Levels]] = []
    async with ZmqRouter(runner.redis_url) as router:
        sub = await router.subscribe(kinds=("book",), runners=[name], snapshot=False)
        async with sub:
            _admin(venue_port, {"hold": False})
            last: dict[tuple[MarketKind, str], Levels] = {}

            async def take() -> None:
                async for item in sub:
                    if isinstance(item, Received) and isinstance(item.event, BookEvent):
                        book = item.event.book
                        key = (book.key.kind, book.key.symbol)
                        got.append((key, book.venue_ts_ms, _levels(book)))
                        last[key] = got[-1][2]

            taker = asyncio.create_task(take())
            try:
                await eventually(lambda: _admin(venue_port)["finished"], timeout=60, interval=0.2, what="the end")
                await eventually(lambda: last == final, timeout=10, what="the last recorded books")
            finally:
                taker.cancel()
    seen = dict.fromkeys(expected, 0)
    cursor = dict.fromkeys(expected, 0)
    for key, venue_ts, levels in got:
        times, books = expected[key]
        if key[0] is MarketKind.PERP:  # the futures stream carries the venue's time: the book then in force
            assert levels == books[bisect_right(times, venue_ts) - 1], f"{key} at {venue_ts}"
        else:  # spot partial depth has no time: every book is a recorded one, in the recorded order
            j = cursor[key]
            while j < len(books) and books[j] != levels:
                j += 1
            assert j < len(books), f"{key}: a book not in the recording (or out of order) at #{seen[key]}"
            cursor[key] = j
        seen[key] += 1
    assert all(n >= 20 for n in seen.values()), seen


Levels = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]


def _levels(book: OrderBook) -> Levels:
    return ([(lv.price, lv.qty) for lv in book.bids], [(lv.price, lv.qty) for lv in book.asks])
