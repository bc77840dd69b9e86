"""BoundedBuffer overflow policies (counted drops, status never dropped, BLOCK waits), the
reconnect pacer, and the bad-payload tally."""

from __future__ import annotations

import asyncio
import random

import pytest

from exchanges.base import StreamStatus
from exchanges.transport.backoff import Backoff, ReconnectPacer
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame


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


def test_pacer_grows_until_healthy_then_starts_over() -> None:
    pacer = ReconnectPacer(Backoff(initial_s=1, max_s=8, jitter=0), random.Random(1))
    assert [pacer.next_delay() for _ in range(5)] == [1, 2, 4, 8, 8]
    pacer.healthy()
    assert pacer.next_delay() == 1 and pacer.resets == 1
    assert [a for a, _ in pacer.history] == [0, 1, 2, 3, 4, 0]


async def test_drop_oldest_discards_oldest_frames_and_keeps_statuses() -> None:
    buf: BoundedBuffer[Frame | StreamStatus] = BoundedBuffer(3, Overflow.DROP_OLDEST)
    status = StreamStatus(stream="s", connected=True)
    await buf.put(status)
    for n in range(5):
        await buf.put(Frame("s", str(n).encode(), 0, 1), droppable=True)
    assert buf.dropped == 3 and len(buf) == 3
    assert await buf.get() == status
    assert [(await buf.get()).data for _ in range(2)] == [b"3", b"4"]  # type: ignore[union-attr]


async def test_block_policy_applies_backpressure_and_never_drops() -> None:
    buf: BoundedBuffer[int] = BoundedBuffer(2, Overflow.BLOCK)
    await buf.put(1)
    await buf.put(2)
    producer = asyncio.create_task(buf.put(3))
    await asyncio.sleep(0)
    assert not producer.done() and len(buf) == 2
    assert await buf.get() == 1
    await asyncio.wait_for(producer, 1)
    assert [await buf.get(), await buf.get()] == [2, 3] and buf.dropped == 0


async def test_failed_buffer_raises_after_draining() -> None:
    buf: BoundedBuffer[int] = BoundedBuffer(2, Overflow.BLOCK)
    await buf.put(1)
    buf.fail(RuntimeError("producer died"))
    assert await buf.get() == 1
    with pytest.raises(RuntimeError, match="producer died"):
        await buf.get()
    with pytest.raises(ValueError):
        BoundedBuffer(0, Overflow.BLOCK)


def test_backoff_grows_caps_and_jitters() -> None:
    rng = random.Random(7)
    backoff = Backoff(initial_s=0.5, max_s=8.0, factor=2.0, jitter=0.5)
    for attempt, base in enumerate([0.5, 1, 2, 4, 8, 8, 8]):
        delays = {backoff.delay(attempt, rng) for _ in range(20)}
        assert all(base * 0.5 <= d <= base for d in delays)
        assert len(delays) > 1
    assert Backoff(jitter=0).delay(1000, rng) == 30.0


def test_error_tally_counts_by_kind() -> None:
    tally = ErrorTally("t")
    tally.record("a", b"x" * 2000, ValueError("bad"))
    tally.record("a", b"y")
    tally.record("b", "text sample")
    assert tally.counts == {"a": 2, "b": 1} and tally.total == 3
