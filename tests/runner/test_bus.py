from __future__ import annotations

import asyncio

import pytest

from exchange_runner.bus import BlockingQueue, DropOldestQueue


async def test_drop_oldest_keeps_newest_and_counts() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(3)
    for i in range(10):
        q.put_nowait(i)
    assert q.dropped == 7 and q.depth == 3
    assert [await q.get() for _ in range(3)] == [7, 8, 9]


async def test_blocking_queue_never_drops() -> None:
    q: BlockingQueue[int] = BlockingQueue(2)
    await q.put(1)
    await q.put(2)
    assert not q.try_put(3)
    waiter = asyncio.create_task(q.put(3))
    await asyncio.sleep(0)
    assert not waiter.done()
    assert await q.get() == 1
    await waiter
    assert [await q.get(), await q.get()] == [2, 3]


def test_unbounded_is_refused() -> None:
    with pytest.raises(ValueError):
        DropOldestQueue(0)
    with pytest.raises(ValueError):
        BlockingQueue(0)
