"""Bounded queues with a written overflow policy.

* :class:`DropOldestQueue` — market data. When full, the oldest item is dropped to make room
  and ``dropped`` counts it: a strategy wants the newest book, not a backlog.
* :class:`BlockingQueue` — executions and commands. Never drops: a full queue makes the
  producer wait (backpressure), so an execution report is never lost.

Both expose ``depth`` and ``maxsize`` for metrics.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

__all__ = ["DropOldestQueue", "BlockingQueue"]

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    def __init__(self, maxsize: int, name: str = "") -> None:
        if maxsize <= 0:
            raise ValueError("a bounded queue needs maxsize > 0")
        self.name = name
        self.maxsize = maxsize
        self._q: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.put_count = 0

    def put_nowait(self, item: T) -> None:
        self.put_count += 1
        while True:
            try:
                self._q.put_nowait(item)
                return
            except asyncio.QueueFull:
                try:
                    self._q.get_nowait()
                    self.dropped += 1
                except asyncio.QueueEmpty:  # pragma: no cover - only if maxsize changed
                    pass

    async def get(self) -> T:
        return await self._q.get()

    def get_nowait(self) -> T:
        return self._q.get_nowait()

    @property
    def depth(self) -> int:
        return self._q.qsize()


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
