"""BoundedBuffer overflow policies (counted drops, status never dropped, BLOCK waits), the
reconnect pacer, and the bad-payload tally."""

from __future__ import annotations

import asyncio
import random

import pytest

from exchanges.transport.backoff import Backoff, ReconnectPacer
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.tally import ErrorTally


async def test_drop_oldest_counts_every_dropped_item_and_keeps_the_newest() -> None:
    buf: BoundedBuffer[int] = BoundedBuffer(3, Overflow.DROP_OLDEST)
    for i in range(10):
        await buf.put(i, droppable=True)
    assert buf.dropped == 7 and await buf.get_batch() == [7, 8, 9]


async def test_drop_oldest_never_drops_an_item_put_as_not_droppable() -> None:
    buf: BoundedBuffer[str] = BoundedBuffer(2, Overflow.DROP_OLDEST)
    await buf.put("status")  # e.g. a StreamStatus
    for frame in ("f1", "f2", "f3"):
        await buf.put(frame, droppable=True)
    assert buf.dropped == 2 and await buf.get_batch() == ["status", "f3"]


async def test_block_never_drops_the_producer_waits_for_space() -> None:
    buf: BoundedBuffer[int] = BoundedBuffer(2, Overflow.BLOCK)
    await buf.put(1, droppable=True)
    await buf.put(2, droppable=True)
    producer = asyncio.create_task(buf.put(3, droppable=True))
    await asyncio.sleep(0)
    assert not producer.done() and len(buf) == 2
    assert await buf.get() == 1
    await asyncio.wait_for(producer, 5)
    assert await buf.get_batch() == [2, 3] and buf.dropped == 0


async def test_a_failed_buffer_raises_once_drained() -> None:
    buf: BoundedBuffer[int] = BoundedBuffer(2, Overflow.BLOCK)
    await buf.put(1)
    buf.fail(RuntimeError("producer died"))
    assert await buf.get() == 1
    with pytest.raises(RuntimeError, match="producer died"):
        await buf.get()


def test_pacer_grows_until_healthy_then_starts_over() -> None:
    pacer = ReconnectPacer(Backoff(initial_s=1, max_s=8, jitter=0), random.Random(1))
    assert [pacer.next_delay() for _ in range(5)] == [1, 2, 4, 8, 8]
    pacer.healthy()
    assert pacer.next_delay() == 1 and pacer.resets == 1
    assert [a for a, _ in pacer.history] == [0, 1, 2, 3, 4, 0]


def test_tally_counts_by_kind() -> None:
    tally = ErrorTally("t:market")
    tally.record("depth", b'{"bad"', ValueError("truncated"))
    tally.record("depth", b'{"bad"')
    tally.record("event", "text sample")
    assert tally.counts == {"depth": 2, "event": 1} and tally.total == 3
