"""The bounded buffer between a venue socket and its consumer, with a written overflow policy.

* ``Overflow.DROP_OLDEST`` (market data): when full, the oldest *droppable* item is discarded
  and counted in ``dropped``; a newer update supersedes it (a book that then sees a gap
  resyncs). Items put with ``droppable=False`` (stream status) are never discarded.
* ``Overflow.BLOCK`` (user data, order replies): nothing is ever dropped; the producer waits for
  space, which stops reading the socket and pushes back on the venue over TCP.
"""

from __future__ import annotations

import asyncio
from collections import deque
from enum import StrEnum
from typing import Generic, TypeVar

__all__ = ["Overflow", "BoundedBuffer"]

T = TypeVar("T")


class Overflow(StrEnum):
    DROP_OLDEST = "drop_oldest"
    BLOCK = "block"


class BoundedBuffer(Generic[T]):
    """A bounded FIFO with a chosen :class:`Overflow` policy.

    ``put(item, droppable=True)`` marks items that DROP_OLDEST may discard; other items are
    never discarded (if the buffer is full of them, ``put`` waits). ``fail(exc)`` makes
    readers raise ``exc`` once the buffer is drained, so a dead producer is never a hang.
    :meth:`get_batch` takes everything queued in one wake-up (the market-data readers use it).
    Waiting readers and writers park on plain futures, woken when the buffer changes.
    """

    def __init__(self, maxsize: int, overflow: Overflow) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0
        self._items: deque[tuple[T, bool]] = deque()
        self._getters: list[asyncio.Future[None]] = []
        self._putters: list[asyncio.Future[None]] = []
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    def _drop_oldest(self) -> bool:
        for i, (_, droppable) in enumerate(self._items):
            if droppable:
                del self._items[i]
                self.dropped += 1
                return True
        return False

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        waiters.clear()

    @staticmethod
    async def _park(waiters: list[asyncio.Future[None]]) -> None:
        fut = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()
            if fut in waiters:
                waiters.remove(fut)

    async def put(self, item: T, *, droppable: bool = False) -> None:
        items = self._items
        while len(items) >= self.maxsize:
            if self.overflow is Overflow.DROP_OLDEST and self._drop_oldest():
                break
            await self._park(self._putters)
        items.append((item, droppable))
        if self._getters:
            self._wake(self._getters)

    async def get(self) -> T:
        while not self._items:
            if self._error is not None:
                raise self._error
            await self._park(self._getters)
        item, _ = self._items.popleft()
        if self._putters:
            self._wake(self._putters)
        return item

    async def get_batch(self) -> list[T]:
        """Everything queued now, oldest first (at least one item: waits for it)."""
        while not self._items:
            if self._error is not None:
                raise self._error
            await self._park(self._getters)
        batch = [item for item, _ in self._items]
        self._items.clear()
        if self._putters:
            self._wake(self._putters)
        return batch

    def fail(self, exc: BaseException) -> None:
        self._error = exc
        self._wake(self._getters)
