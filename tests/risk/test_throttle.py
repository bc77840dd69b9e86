"""Sliding-window throttles: exact (never more than N in any window), O(1), refusals take no slot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_runner.risk import MINUTE_NS, SECOND_NS, ClientThrottle, RiskRejected, SlidingWindow
from strategy_client.model import LimitName, Side

from .builders import BTC_P, Clocks, gate, limit


def _admitted(limit: int, window: int, gaps: list[int]) -> list[int]:
    w = SlidingWindow(limit, window)
    now = 0
    out = []
    for gap in gaps:
        now += gap
        if w.allows(now):
            w.admit(now)
            out.append(now)
    return out


@given(
    limit=st.integers(1, 8),
    window=st.integers(1, 50),
    gaps=st.lists(st.integers(0, 20), max_size=200),
)
def test_never_more_than_limit_in_any_window(limit: int, window: int, gaps: list[int]) -> None:
    times = _admitted(limit, window, gaps)
    # any half-open interval [t, t + window) holds at most `limit` admissions; checking the
    # intervals that start at each admission is enough
    for i, t in enumerate(times):
        inside = [u for u in times[i:] if u < t + window]
        assert len(inside) <= limit


@given(limit=st.integers(1, 8), window=st.integers(1, 50), gaps=st.lists(st.integers(0, 20), max_size=200))
def test_admits_whenever_the_window_has_room(limit: int, window: int, gaps: list[int]) -> None:
    """Exact, not conservative: an order is refused only if `limit` admissions lie in the last window."""
    w = SlidingWindow(limit, window)
    now = 0
    times: list[int] = []
    for gap in gaps:
        now += gap
        recent = sum(1 for t in times if t > now - window)
        assert w.allows(now) == (recent < limit)
        assert w.count(now) == recent
        if w.allows(now):
            w.admit(now)
            times.append(now)


def test_window_frees_a_slot_exactly_when_the_oldest_leaves() -> None:
    w = SlidingWindow(2, 100)
    w.admit(0)
    w.admit(10)
    assert not w.allows(99)
    assert w.allows(100)
    w.admit(100)
    assert not w.allows(109)
    assert w.allows(110)


def test_window_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        SlidingWindow(0, SECOND_NS)


def test_client_table_forgets_idle_clients_only() -> None:
    t = ClientThrottle(1, None, max_clients=2)
    a = t.windows("a", 0)
    assert a is not None
    a.all[0].admit(0)
    b = t.windows("b", 0)
    assert b is not None
    b.all[0].admit(0)
    # both active within the last second: a third client is refused, nobody is forgotten
    assert t.windows("c", SECOND_NS // 2) is None
    assert len(t) == 2 and t.forgotten == 0
    # a second later "a" (least recently seen) is idle: forgotten for "c"
    c = t.windows("c", SECOND_NS)
    assert c is not None and t.forgotten == 1 and len(t) == 2


def test_gate_throttles_total_per_second_and_a_refusal_takes_no_slot() -> None:
    clocks = Clocks()
    g = gate({"orders_per_second": 3}, clocks=clocks)
    order = limit(BTC_P, Side.BUY, "0.01", "50000")
    for _ in range(3):
        g.check(order, "a")
    with pytest.raises(RiskRejected) as err:
        g.check(order, "b")
    b = err.value.breach
    assert (b.limit, b.limit_value, b.requested, b.current) == (LimitName.RATE_PER_SECOND, 3, 4, 3)
    # refused orders do not fill the window
    clocks.advance(0.999999999)
    with pytest.raises(RiskRejected):
        g.check(order, "b")
    clocks.advance(0.000000001)
    g.check(order, "b")


def test_gate_throttles_per_minute_across_seconds() -> None:
    clocks = Clocks()
    g = gate({"orders_per_minute": 5}, clocks=clocks)
    order = limit(BTC_P, Side.BUY, "0.01", "50000")
    for _ in range(5):
        g.check(order)
        clocks.advance(10)
    with pytest.raises(RiskRejected) as err:
        g.check(order)
    assert err.value.limit is LimitName.RATE_PER_MINUTE
    clocks.advance(10)  # the first admission is now 60 s old
    g.check(order)


def test_gate_throttles_each_client_on_its_own() -> None:
    clocks = Clocks()
    g = gate({"client_orders_per_second": 2, "client_orders_per_minute": 3}, clocks=clocks)
    order = limit(BTC_P, Side.BUY, "0.01", "50000")
    g.check(order, "a")
    g.check(order, "a")
    with pytest.raises(RiskRejected) as err:
        g.check(order, "a")
    assert err.value.limit is LimitName.CLIENT_RATE_PER_SECOND
    g.check(order, "b")  # another client has its own windows
    clocks.advance(1)
    g.check(order, "a")
    clocks.advance(1)
    with pytest.raises(RiskRejected) as err:
        g.check(order, "a")
    assert err.value.limit is LimitName.CLIENT_RATE_PER_MINUTE
    assert g.refused[LimitName.CLIENT_RATE_PER_SECOND] == 1
    assert g.refused[LimitName.CLIENT_RATE_PER_MINUTE] == 1


@given(gaps=st.lists(st.integers(0, 400_000_000), min_size=1, max_size=120), clients=st.data())
def test_gate_total_and_client_windows_hold_together(gaps: list[int], clients: st.DataObject) -> None:
    clocks = Clocks()
    g = gate({"orders_per_second": 4, "client_orders_per_second": 2}, clocks=clocks)
    order = limit(BTC_P, Side.BUY, "0.01", "50000")
    admitted: list[tuple[int, str]] = []
    for gap in gaps:
        clocks.mono += gap
        who = clients.draw(st.sampled_from("ab"))
        try:
            g.check(order, who)
        except RiskRejected:
            continue
        admitted.append((clocks.mono, who))

    def most_in_a_second(times: list[int]) -> int:
        return max((sum(1 for u in times[i:] if u < t + SECOND_NS) for i, t in enumerate(times)), default=0)

    assert most_in_a_second([t for t, _ in admitted]) <= 4
    for who in "ab":
        assert most_in_a_second([t for t, w in admitted if w == who]) <= 2


def test_tightening_a_rate_keeps_history() -> None:
    clocks = Clocks()
    g = gate({"orders_per_minute": 10}, clocks=clocks)
    order = limit(BTC_P, Side.BUY, "0.01", "50000")
    for _ in range(4):
        g.check(order)
        clocks.advance(1)
    g.set_limit("orders_per_minute", "4")
    with pytest.raises(RiskRejected) as err:
        g.check(order)  # the 4 orders of the last minute still count against the new limit
    assert err.value.limit is LimitName.RATE_PER_MINUTE
    clocks.advance(MINUTE_NS / 1e9 - 4 + 0.000000001)
    g.check(order)
