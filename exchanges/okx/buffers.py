"""Bounded queues, backoff and bad-input tallies shared by the OKX WebSocket streams.

:class:`BoundedBuffer` overflow policies:

- ``Overflow.DROP_OLDEST`` (market data): when full, the oldest *droppable* item is discarded
  and counted in ``dropped``; a newer update supersedes it (and the book integrity checks
  notice the gap and resync). Status items are never dropped.
- ``Overflow.BLOCK`` (private data): nothing is ever dropped; the reader waits for space,
  which stops reading the socket and pushes back on the venue over TCP.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import msgspec
from loguru import logger

from exchanges import telemetry

__all__ = ["Overflow", "Frame", "BoundedBuffer", "Backoff", "ErrorTally"]

T = TypeVar("T")


class Overflow(StrEnum):
    DROP_OLDEST = "drop_oldest"
    BLOCK = "block"


class Frame(msgspec.Struct, frozen=True, gc=False):
    """One data message as received. ``generation`` numbers the connection (1, 2...)."""

    source: str
    data: bytes
    recv_ns: int
    generation: int


class BoundedBuffer(Generic[T]):
    """A bounded FIFO with a chosen :class:`Overflow` policy; ``fail(exc)`` makes readers raise
    ``exc`` once drained, so a dead producer is never a hang."""

    def __init__(self, maxsize: int, overflow: Overflow) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0
        self._items: deque[tuple[T, bool]] = deque()
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
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

    async def put(self, item: T, *, droppable: bool = False) -> None:
        while len(self._items) >= self.maxsize:
            if self.overflow is Overflow.DROP_OLDEST and self._drop_oldest():
                break
            self._not_full.clear()
            await self._not_full.wait()
        self._items.append((item, droppable))
        self._not_empty.set()

    async def get(self) -> T:
        while not self._items:
            if self._error is not None:
                raise self._error
            self._not_empty.clear()
            await self._not_empty.wait()
        item, _ = self._items.popleft()
        self._not_full.set()
        return item

    def fail(self, exc: BaseException) -> None:
        self._error = exc
        self._not_empty.set()


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits ``min(max_s, initial_s * factor**n)``
    reduced by up to ``jitter`` (a fraction) at random."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        return base * (1.0 - self.jitter * rng.random())


class ErrorTally:
    """Bad input counted by kind; the first occurrence of each kind is logged with a sample."""

    def __init__(self, owner: str, sample_bytes: int = 512) -> None:
        self.owner = owner
        self.counts: Counter[str] = Counter()
        self._sample_bytes = sample_bytes

    def record(self, kind: str, sample: bytes | str, error: object = None) -> None:
        self.counts[kind] += 1
        telemetry.decode_error(telemetry.stream_label(self.owner), kind)
        if self.counts[kind] == 1:
            text = sample if isinstance(sample, str) else sample[: self._sample_bytes].decode("utf-8", "replace")
            logger.warning("{}: dropped bad payload ({}): {} | sample: {}", self.owner, kind, error, text)

    @property
    def total(self) -> int:
        return sum(self.counts.values())
