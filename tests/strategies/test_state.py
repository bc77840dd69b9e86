"""The position state machine: scenarios, the transition table, and the hedging invariant."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arbitrage.errors import IllegalTransition
from strategies.arbitrage.pair import LegId
from strategies.arbitrage.state import ACCEPTS, EDGES, ArbEvent, ArbState, PositionMachine, Transition
from strategy_client.model import Side

D = Decimal
S = ArbState


def state(m: PositionMachine) -> ArbState:
    """The current state, read through a call so the type checker does not pin it."""
    return m.state


def test_happy_path_records_every_transition() -> None:
    seen: list[Transition] = []
    m = PositionMachine("p1", on_transition=seen.append)
    m.start_entry(1, "edge 12 bps")
    m.fill(LegId.B, Side.SELL, D("0.5"), 2)  # first leg (the perp) fills...
    assert m.state is S.ENTERING and m.unhedged and m.invariant_holds()
    m.fill(LegId.A, Side.BUY, D("0.5"), 3)  # ...and is hedged on spot
    m.legs_settled(4)
    assert state(m) is S.HEDGED
    m.start_exit(5, "converged")
    m.fill(LegId.A, Side.SELL, D("0.5"), 6)
    m.fill(LegId.B, Side.BUY, D("0.5"), 7)
    m.legs_settled(8)
    assert state(m) is S.CLOSED and m.flat
    assert [(t.from_state, t.to_state) for t in m.history] == [
        (S.IDLE, S.ENTERING),
        (S.ENTERING, S.HEDGED),
        (S.HEDGED, S.EXITING),
        (S.EXITING, S.CLOSED),
    ]
    assert seen == m.history
    assert [t.seq for t in seen] == [1, 2, 3, 4]
    assert seen[0].reason == "edge 12 bps" and seen[0].ts_ms == 1
    assert seen[1].a_base == seen[1].b_base == D("0.5")


def test_a_hedge_that_fails_after_its_retries_unwinds_the_naked_leg() -> None:
    m = PositionMachine("p2", max_hedge_retries=2)
    m.start_entry(1)
    m.fill(LegId.A, Side.BUY, D("1"), 2)
    m.fill(LegId.B, Side.SELL, D("0.4"), 3)  # partial hedge
    m.hedge_failed(4, "timeout")
    m.hedge_failed(5, "rejected")
    assert m.state is S.ENTERING  # retries left
    m.hedge_failed(6, "timeout")
    assert state(m) is S.UNWINDING  # through broken
    assert [t.to_state for t in m.history[-2:]] == [S.BROKEN, S.UNWINDING]
    assert m.imbalance == D("0.6")
    m.fill(LegId.A, Side.SELL, D("0.6"), 7)  # unwind the naked part on A
    m.legs_settled(8)
    assert state(m) is S.HEDGED and m.a_base == m.b_base == D("0.4")


def test_unwinding_never_gives_up_but_escalates() -> None:
    m = PositionMachine("p3", max_hedge_retries=0, max_unwind_attempts=2)
    m.start_entry(1)
    m.fill(LegId.A, Side.BUY, D("1"), 2)
    m.legs_settled(3)  # hedge never filled
    assert m.state is S.UNWINDING and not m.escalated
    m.unwind_failed(4)
    m.legs_settled(5)
    assert m.state is S.UNWINDING and m.escalated
    m.fill(LegId.A, Side.SELL, D("1"), 6)
    m.legs_settled(7)
    assert m.state is S.CLOSED and not m.escalated


def test_entry_with_nothing_filled_closes_and_exit_abandoned_stays_hedged() -> None:
    m = PositionMachine("p4")
    m.start_entry(1)
    m.legs_settled(2)
    assert m.state is S.CLOSED
    m2 = PositionMachine("p5")
    m2.start_entry(1)
    m2.fill(LegId.A, Side.BUY, D(1), 2)
    m2.fill(LegId.B, Side.SELL, D(1), 2)
    m2.legs_settled(3)
    m2.start_exit(4)
    m2.legs_settled(5)  # nothing filled on exit: still hedged
    assert m2.state is S.HEDGED


def test_illegal_events_raise_and_change_nothing() -> None:
    m = PositionMachine("p6")
    with pytest.raises(IllegalTransition, match=r"start_exit.*idle"):
        m.start_exit(1)
    with pytest.raises(IllegalTransition):
        m.legs_settled(1)
    assert m.state is S.IDLE and m.history == []


def test_an_unexpected_fill_on_a_hedged_position_breaks_it() -> None:
    m = PositionMachine("p7")
    m.reconcile(D(1), D(1), 1)
    assert m.state is S.HEDGED  # adopted from the venues
    m.fill(LegId.B, Side.BUY, D("0.3"), 2)  # someone reduced the perp by hand
    assert state(m) is S.UNWINDING and m.imbalance == D("0.3")


def test_tolerance_treats_dust_as_hedged() -> None:
    m = PositionMachine("p8", tolerance=D("0.00005"))
    m.start_entry(1)
    m.fill(LegId.A, Side.BUY, D("1.00004"), 2)
    m.fill(LegId.B, Side.SELL, D("1"), 3)
    m.legs_settled(4)
    assert m.state is S.HEDGED


# ----------------------------------------------------------------------------- property

qty = st.decimals(min_value=D("0"), max_value=D("2"), places=2)
events = st.one_of(
    st.tuples(st.just("start_entry")),
    st.tuples(st.just("start_exit")),
    st.tuples(st.just("fill"), st.sampled_from(list(LegId)), st.sampled_from(list(Side)), qty),
    st.tuples(st.just("legs_settled")),
    st.tuples(st.just("hedge_failed")),
    st.tuples(st.just("unwind_failed")),
    st.tuples(st.just("reconcile"), qty, qty),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(events, max_size=40), st.integers(0, 3), st.sampled_from([D(0), D("0.01")]))
def test_no_event_sequence_leaves_an_unhedged_position_without_a_hedge_or_unwind_in_flight(
    sequence: list[tuple[object, ...]], retries: int, tolerance: Decimal
) -> None:
    seen: list[Transition] = []
    m = PositionMachine("px", tolerance=tolerance, max_hedge_retries=retries, on_transition=seen.append)
    for ts, ev in enumerate(sequence):
        name = str(ev[0])
        before = (m.state, m.a_base, m.b_base, len(m.history))
        try:
            if name == "fill":
                m.fill(ev[1], ev[2], ev[3], ts)  # type: ignore[arg-type]
            elif name == "reconcile":
                m.reconcile(ev[1], ev[2], ts)  # type: ignore[arg-type]
            else:
                getattr(m, name)(ts)
        except IllegalTransition:
            assert m.state not in ACCEPTS[ArbEvent(name)]
            assert (m.state, m.a_base, m.b_base, len(m.history)) == before
        # the invariant, after every step
        assert m.invariant_holds(), (m.state, m.a_base, m.b_base, m.hedge_failures)
        if m.unhedged:
            assert m.state in (S.ENTERING, S.EXITING, S.UNWINDING)
        assert m.state is not S.BROKEN  # broken is only ever passed through
    # the record is complete and follows the table
    assert seen == m.history
    state = S.IDLE
    for i, t in enumerate(m.history):
        assert t.seq == i + 1
        assert t.from_state is state
        assert t.to_state in EDGES[t.from_state]
        state = t.to_state
    assert state is m.state
