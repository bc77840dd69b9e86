"""Pacing of new WebSocket connections: OKX allows 3 connection requests per second per IP
(reference §4) and refuses more with HTTP 429, so every socket an adapter opens — public
books, funding, the private stream, the order socket — waits its turn at one shared gate."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["ConnectGate", "OKX_CONNECTS_PER_S"]

OKX_CONNECTS_PER_S = 3


class ConnectGate:
    """At most ``per_second`` connection attempts in any rolling second (0 = no pacing)."""

    def __init__(
        self,
        per_second: int = OKX_CONNECTS_PER_S,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self._monotonic = monotonic
        self._sleep = sleep
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.waits = 0

    async def wait(self) -> None:
        """Return when one more attempt fits in the rolling second (first come, first served)."""
        if self.per_second <= 0:
            return
        async with self._lock:
            while True:
                now = self._monotonic()
                while self._times and now - self._times[0] >= 1.0:
                    self._times.popleft()
                if len(self._times) < self.per_second:
                    self._times.append(now)
                    return
                self.waits += 1
                await self._sleep(self._times[0] + 1.0 - now)
