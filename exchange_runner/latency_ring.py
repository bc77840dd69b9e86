"""The last durations of one step on the order path, for quantiles read at scrape time.

``add`` is one store into a pre-allocated array (no allocation, no lock: the event loop's thread
is the only writer); the quantiles are computed from a copy when ``/metrics`` is read or the
runner stops. Used for the journal's intent write (docs/journal.md, "What the intent costs").
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

__all__ = ["LatencyRing"]


class LatencyRing:
    """The last ``size`` durations in nanoseconds and how many were ever added."""

    __slots__ = ("_buf", "_size", "count")

    def __init__(self, size: int = 1024) -> None:
        if size <= 0:
            raise ValueError(f"a latency ring holds at least one duration, not {size}")
        self._buf = array("q", bytes(8 * size))
        self._size = size
        self.count = 0

    def add(self, ns: int) -> None:
        self._buf[self.count % self._size] = ns
        self.count += 1

    def quantiles(self, qs: Iterable[float]) -> dict[float, int]:
        """Nearest-rank quantiles of the durations held (empty when none was added)."""
        held = sorted(self._buf[: min(self.count, self._size)])
        if not held:
            return {}
        last = len(held) - 1
        return {q: held[min(last, max(0, round(q * last)))] for q in qs}
