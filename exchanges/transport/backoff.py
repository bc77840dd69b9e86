"""Reconnect backoff with jitter (:class:`Backoff`), paced per stream by a :class:`ReconnectPacer`.

The attempt counter grows with every connection that failed or closed before proving healthy,
and resets as soon as a connection is healthy — its first good message (a data frame, a control
reply, a login answer, a pong to the ping sent right after connecting) — not after some minutes
of uptime. A stream that is killed again and again, but comes back healthy each time, therefore
always waits the first (shortest) delay; a venue that refuses the connection or the credentials
backs off exponentially.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

__all__ = ["Backoff", "ReconnectPacer"]


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
