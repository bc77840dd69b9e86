"""Books reach the price actor through one queue (issue 19): the adapter parses each depth frame
in its socket reader and pushes the book into the price actor's feed — the one bounded
drop-oldest queue with counted drops — with no relay task and no frame buffer in between.
A real runner in process on the offline Binance venue."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from exchange_runner.config import RunnerConfig
from exchange_runner.ports import free_port_pair
from exchange_runner.runner import ExchangeRunner
from exchanges.base import PushesBooks
from exchanges.binance.adapter import BinanceAdapter
from tests.helpers import eventually

from .inprocess import in_process_runner


@pytest.fixture()
async def runner(redis_url: str) -> AsyncIterator[ExchangeRunner]:
    cfg = RunnerConfig(
        redis_url=redis_url,
        name=f"bookpush-{os.getpid()}",
        symbols=["BTCUSDT", "ETHUSDT"],
        sim_port_base=free_port_pair(),
    )
    async with in_process_runner(cfg) as r:
        yield r


async def test_books_are_pushed_from_the_socket_reader_into_the_price_feed(runner: ExchangeRunner) -> None:
    adapter = runner.adapter
    assert isinstance(adapter, BinanceAdapter) and isinstance(adapter, PushesBooks)
    await eventually(lambda: runner.prices.books_in >= 20, timeout=30, what="books at the price actor")
    depth = [ws for name, ws in adapter.market._connections.items() if ":depth#" in name]
    assert depth and all(ws.sink is not None for ws in depth)  # push mode: no frame buffer
    assert all(len(ws.buffer) == 0 and ws.buffer.dropped == 0 for ws in depth)
    # every book the adapter pushed went straight into the feed (counted once, one queue)
    feed = runner.prices.feed
    assert runner.stream_messages["books"] == feed.put_count > 0
    stats = runner.queue_stats()["price.feed"]
    assert stats.capacity == feed.maxsize and stats.dropped == feed.dropped
    assert runner.streams["books"] is True
    assert not any(t.get_name() == "fwd.books" for t in asyncio.all_tasks())
