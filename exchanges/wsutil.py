"""Pieces every venue's WebSocket client shares: a bounded buffer with a written overflow
policy, reconnect backoff with jitter (:class:`Backoff`) paced per stream by a
:class:`ReconnectPacer`, and a tally of bad payloads (counted, logged once per kind, reported
to the metrics).

Reconnect pacing: the attempt counter grows with every connection that failed or closed
before proving healthy, and resets as soon as a connection is healthy — its first good
message (a data frame, a control reply, an auth/login answer, a pong to the ping sent right
after connecting) — not after some minutes of uptime. A stream that is killed again and
again, but comes back healthy each time, therefore always waits the first (shortest) delay;
a venue that refuses the connection or the credentials backs off exponentially.

Market data may be dropped oldest-first (``Overflow.DROP_OLDEST``, counted); user data and
commands never are (``Overflow.BLOCK``: the producer waits).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from loguru import logger

from exchanges import telemetry

__all__ = ["Overflow", "BoundedBuffer", "Backoff", "ReconnectPacer", "ErrorTally"]

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


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits ``min(max_s, initial_s * factor**n)``
    reduced by up to ``jitter`` (a fraction) at random, so many clients do not reconnect in step."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        return base * (1.0 - self.jitter * rng.random())


class ReconnectPacer:
    """The reconnect delays of one stream (see the module doc): :meth:`healthy` when a
    connection proves healthy, :meth:`next_delay` before each reconnect.

    ``history`` keeps the last ``keep`` choices as ``(attempt, delay_s)`` so tests and
    operators can see which delays were chosen (bounded: the oldest are forgotten)."""

    def __init__(self, backoff: Backoff, rng: random.Random, *, keep: int = 64) -> None:
        self.backoff = backoff
        self._rng = rng
        self.attempt = 0
        self.resets = 0
        self.history: deque[tuple[int, float]] = deque(maxlen=keep)

    def healthy(self) -> None:
        """The current connection is healthy: the next reconnect starts from attempt 0."""
        if self.attempt:
            self.resets += 1
        self.attempt = 0

    def next_delay(self) -> float:
        delay = self.backoff.delay(self.attempt, self._rng)
        self.history.append((self.attempt, delay))
        self.attempt += 1
        return delay


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
