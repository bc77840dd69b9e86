"""The ring that holds the journal intent's recent costs (exchange_runner/latency_ring.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_runner.latency_ring import LatencyRing


def test_empty_ring_has_no_quantiles() -> None:
    assert LatencyRing(4).quantiles((0.5,)) == {}
    with pytest.raises(ValueError, match="at least one"):
        LatencyRing(0)


def test_keeps_only_the_last_durations() -> None:
    ring = LatencyRing(4)
    for ns in (1_000_000, 1_000_000, 10, 20, 30, 40):  # the two large ones are overwritten
        ring.add(ns)
    assert ring.count == 6
    assert ring.quantiles((0.0, 0.5, 1.0)) == {0.0: 10, 0.5: 30, 1.0: 40}


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=50))
def test_quantiles_are_held_values_in_order(values: list[int]) -> None:
    ring = LatencyRing(16)
    for v in values:
        ring.add(v)
    held = values[-16:]
    q = ring.quantiles((0.0, 0.5, 0.9, 1.0))
    assert q[0.0] == min(held) and q[1.0] == max(held)
    assert q[0.0] <= q[0.5] <= q[0.9] <= q[1.0] and q[0.5] in held
