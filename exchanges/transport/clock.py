"""A venue's clock estimated from the local one: offset = server time − (t_send + t_recv) / 2.

Venues refuse a signed request whose timestamp is off their clock (Binance -1021 outside
``recvWindow``, Bybit 10002, OKX 50102 / 60006 for a WebSocket login), so requests are stamped
with :meth:`ServerClock.now_ms`. The REST client re-measures when the estimate is older than
``max_age_s`` (drift makes a once-only offset go stale) and after such a refusal
(:meth:`ServerClock.invalidate`); see :mod:`exchanges.transport.http`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["ServerClock"]


class ServerClock:
    """Local wall clock corrected by the last measured offset to the venue's clock.

    ``wall_ms`` and ``monotonic`` are injectable for tests. ``needs_refresh`` is true when the
    estimate is older than ``max_age_s``. ``rtt_ms`` is the round trip of the last measurement (its error bound).
    """

    def __init__(
        self,
        wall_ms: Callable[[], int] | None = None,
        max_age_s: float = 300.0,
        *,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._monotonic = monotonic or time.monotonic
        self._offset_ms = 0
        self._rtt_ms = 0
        self._measured_at: float | None = None
        self._max_age_s = max_age_s

    @property
    def offset_ms(self) -> int:
        return self._offset_ms

    @property
    def rtt_ms(self) -> int:
        return self._rtt_ms

    @property
    def measured(self) -> bool:
        return self._measured_at is not None

    def now_ms(self) -> int:
        return self._wall_ms() + self._offset_ms

    def local_ms(self) -> int:
        return self._wall_ms()

    def update(self, server_time_ms: int, t_send_ms: int, t_recv_ms: int) -> None:
        self._offset_ms = server_time_ms - (t_send_ms + t_recv_ms) // 2
        self._rtt_ms = max(0, t_recv_ms - t_send_ms)
        self._measured_at = self._monotonic()

    def invalidate(self) -> None:
        """Mark the estimate stale (after a timestamp refusal) so the next caller re-measures."""
        self._measured_at = None

    @property
    def needs_refresh(self) -> bool:
        return self._measured_at is None or self._monotonic() - self._measured_at > self._max_age_s
