"""Bounded queues with a written overflow policy.

* :class:`DropOldestQueue` — market data. When full, the oldest item is dropped to make room
  and ``dropped`` counts it: a strategy wants the newest book, not a backlog.
* :class:`BlockingQueue` — executions and commands. Never drops: a full queue makes the
  producer wait (backpressure), so an execution report is never lost.

Both expose ``depth`` and ``maxsize`` for metrics.

:class:`DropOldestQueue` is on the market-data hot path: a ``deque`` with one waiter future,
so ``put_nowait`` is an append (plus a wake-up only when the consumer sleeps) and
:meth:`DropOldestQueue.get_batch` hands the consumer everything queued in one wake-up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

__all__ = ["DropOldestQueue", "BlockingQueue"]

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """One consumer at a time (``get``/``get_batch`` are not meant to be awaited concurrently)."""

    def __init__(self, maxsize: int, name: str = "") -> None:
        if maxsize <= 0:
            raise ValueError("a bounded queue needs maxsize > 0")
        self.name = name
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        # the consumer is parked on the empty queue (a waiter pending): an item handed to it now
        # would be the only one and would wake it (an attribute, not a property: read per book)
        self.idle = False
        self.dropped = 0
        self.put_count = 0

    def put_nowait(self, item: T) -> None:
        self.put_count += 1
        items = self._items
        if len(items) >= self.maxsize:
            items.popleft()
            self.dropped += 1
        items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            self.idle = False
            if not waiter.done():
                waiter.set_result(None)

    async def _wait(self) -> None:
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            self.idle = True
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
                    self.idle = False

    async def get(self) -> T:
        if not self._items:
            await self._wait()
        return self._items.popleft()

    async def get_batch(self) -> list[T]:
        """Every item queued now (at least one; waits for it), oldest first."""
        if not self._items:
            await self._wait()
        items = list(self._items)
        self._items.clear()
        return items

    def get_nowait(self) -> T:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    @property
    def depth(self) -> int:
        return len(self._items)


class BlockingQueue(Generic[T]):
    def __init__(self, maxsize: int, name: str = "") -> None:
        if maxsize <= 0:
            raise ValueError("a bounded queue needs maxsize > 0")
        self.name = name
        self.maxsize = maxsize
        self._q: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self.put_count = 0

    async def put(self, item: T) -> None:
        self.put_count += 1
        await self._q.put(item)

    def try_put(self, item: T) -> bool:
        """Non-blocking put for callers that must not wait; False when full (caller decides)."""
        try:
            self._q.put_nowait(item)
        except asyncio.QueueFull:
            return False
        self.put_count += 1
        return True

    async def get(self) -> T:
        return await self._q.get()

    def get_nowait(self) -> T:
        return self._q.get_nowait()

    @property
    def depth(self) -> int:
        return self._q.qsize()
