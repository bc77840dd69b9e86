"""Injected time: the engine never reads the system clock itself."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["SimClock", "WallClock", "ManualClock"]


class SimClock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class WallClock:
    """The real time, for a simulator serving live clients."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to (tests, reproducible runs)."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("a ManualClock never goes back")
        self._now += ms
        return self._now

    def set(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise ValueError("a ManualClock never goes back")
        self._now = now_ms
