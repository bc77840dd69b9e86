"""Funding schedule and history of one perpetual."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from decimal import Decimal

from .views import FundingRecord

__all__ = ["FundingSchedule", "first_funding_ms"]


def first_funding_ms(now_ms: int, interval_ms: int) -> int:
    """The first settlement strictly after ``now_ms``, aligned to multiples of the interval
    since the epoch (8 h → 00:00, 08:00, 16:00 UTC)."""
    return (now_ms // interval_ms + 1) * interval_ms


class FundingSchedule:
    """When the next settlement is due, what was settled, and the index average since the last one."""

    __slots__ = ("symbol", "interval_ms", "next_ms", "history", "_times", "_idx_sum", "_idx_ms", "_idx_last")

    def __init__(self, symbol: str, interval_ms: int, now_ms: int, index: float) -> None:
        if interval_ms <= 0:
            raise ValueError("funding interval must be positive")
        self.symbol = symbol
        self.interval_ms = interval_ms
        self.next_ms = first_funding_ms(now_ms, interval_ms)
        self.history: list[FundingRecord] = []
        self._times: list[int] = []
        self._idx_sum = 0.0
        self._idx_ms = 0
        self._idx_last = index

    def sample_index(self, index: float, dt_ms: int) -> None:
        """Accumulate the time-weighted index (for the estimated settle price)."""
        if dt_ms > 0:
            self._idx_sum += index * dt_ms
            self._idx_ms += dt_ms
        self._idx_last = index

    def estimated_settle(self) -> float:
        if self._idx_ms == 0:
            return self._idx_last
        return self._idx_sum / self._idx_ms

    def record(self, rate: Decimal, mark: Decimal, ts_ms: int) -> FundingRecord:
        rec = FundingRecord(symbol=self.symbol, rate=rate, funding_ms=ts_ms, mark=mark)
        if self._times and ts_ms < self._times[-1]:
            i = bisect_right(self._times, ts_ms)
            self._times.insert(i, ts_ms)
            self.history.insert(i, rec)
        else:
            self._times.append(ts_ms)
            self.history.append(rec)
        self._idx_sum = 0.0
        self._idx_ms = 0
        return rec

    def query(self, start_ms: int | None, end_ms: int | None, limit: int) -> list[FundingRecord]:
        """Ascending by time. Without ``start_ms`` the latest ``limit`` records (up to
        ``end_ms``); with it the first ``limit`` from ``start_ms``."""
        if limit <= 0:
            return []
        lo = 0 if start_ms is None else bisect_left(self._times, start_ms)
        hi = len(self._times) if end_ms is None else bisect_right(self._times, end_ms)
        if hi <= lo:
            return []
        if start_ms is None:
            return self.history[max(lo, hi - limit) : hi]
        return self.history[lo : min(hi, lo + limit)]
