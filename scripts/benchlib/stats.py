"""Percentiles the way the benchmark reports them (nearest rank, no interpolation)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile", "summary_us"]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values; ``q`` in [0, 100]."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def summary_us(values_ns: Sequence[int], quantiles: Sequence[int] = (50, 90, 99)) -> dict[str, float | int]:
    """``{p50, p90, p99, max, n}`` in microseconds (one decimal) of nanosecond samples."""
    if not values_ns:
        return {**{f"p{q}": 0.0 for q in quantiles}, "max": 0.0, "n": 0}
    s = sorted(v / 1000 for v in values_ns)
    out: dict[str, float | int] = {f"p{q}": round(percentile(s, q), 1) for q in quantiles}
    out["max"] = round(s[-1], 1)
    out["n"] = len(s)
    return out
