"""Issue 12 at the CoreApi boundary: every fault the live runs met, scripted (see fakevenue.py).

Each test reproduces one observed defect: a 5xx on an exit leg froze the exit; a submit that
failed ``venue_unavailable`` (retryable) while the venue filled lost the fill; an unknown
outcome must wait for the venue (UNKNOWN stays UNKNOWN) and never be resent; a stop ends within
its grace and says what it left; no enter/exit churn; spot fees paid in BTC leave no drift.
The hypothesis state machine at the end injects arbitrary fault sequences and checks that the
ledger always equals the fills the venue made.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from strategies.arbitrage.engine import ArbitrageEngine
from strategies.arbitrage.execution import FirstLeg, LegOrderType
from strategies.arbitrage.state import ArbState
from strategy_client.wire import BookEvent

from ..helpers import eventually
from .fakevenue import (
    FAST,
    PERP,
    SPOT,
    Fault,
    FaultyVenue,
    Scripted,
    book,
    decision_config,
    make_engine,
    market,
    start_engine,
)

D = Decimal
SIZE = D("0.01")
SPOT_STEP = D("0.00001")


async def hedged(engine: ArbitrageEngine, venue: FaultyVenue, *, basis: int = 60) -> None:
    await start_engine(engine)
    market(engine, venue, basis)
    engine.evaluate()
    assert engine.busy, engine.last_decision
    await eventually(lambda: not engine.busy, timeout=10, what="entry settled")


async def exited(engine: ArbitrageEngine, venue: FaultyVenue) -> None:
    market(engine, venue, -10)  # converged (past it: the expected funding is not worth holding for)
    engine.evaluate()
    assert engine.busy, engine.last_decision
    await eventually(lambda: not engine.busy, timeout=10, what="exit settled")


def ledger_by_client_id(engine: ArbitrageEngine) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for t in engine.ledger.trades:
        out[t.client_id] = out.get(t.client_id, D(0)) + t.qty
    return out


def assert_books_match(engine: ArbitrageEngine, venue: FaultyVenue) -> None:
    """The ledger holds exactly the venue's fills: per order, and as net holdings per instrument."""
    assert ledger_by_client_id(engine) == venue.filled_by_client_id()
    net = engine.ledger.net_base(next(iter(engine.slots)))
    truth = venue.net_base()
    for key in (SPOT, PERP):
        assert net.get(key, D(0)) == truth.get(key, D(0)), key


def slot_state(engine: ArbitrageEngine) -> ArbState:
    slots = list(engine.slots.values())
    assert len(slots) <= 1
    return slots[0].machine.state if slots else ArbState.IDLE


# --------------------------------------------------------------------------- exits finish


@pytest.mark.parametrize("runner", ["today", "new"])
async def test_a_5xx_on_the_exit_leg_is_retried_and_the_exit_finishes(runner: str) -> None:
    """Issue 12 #3: one 504 (-1001) on an exit leg → 'phase failed', stuck in exiting."""
    engine, venue = make_engine(runner)
    await hedged(engine, venue)
    assert slot_state(engine) is ArbState.HEDGED
    venue.script = [Scripted(Fault.FAIL_5XX)]  # the exit's first leg
    await exited(engine, venue)
    assert slot_state(engine) is ArbState.CLOSED and not engine.errors
    exits = [o for o in venue.submitted if "-ex" in o.client_id]
    assert len(exits) == 2 and exits[0].client_id != exits[1].client_id  # resent only once proven unplaced
    assert engine.retries == 1
    assert_books_match(engine, venue)


async def test_a_5xx_on_an_exit_hedge_is_retried_not_left_naked() -> None:
    engine, venue = make_engine()
    await hedged(engine, venue)
    venue.script = [Scripted(Fault.OK), Scripted(Fault.FAIL_5XX), Scripted(Fault.FAIL_5XX)]
    await exited(engine, venue)
    assert slot_state(engine) is ArbState.CLOSED and not engine.errors
    assert len([o for o in venue.submitted if "-xh" in o.client_id]) == 3
    assert_books_match(engine, venue)


async def test_a_refused_hedge_unwinds_at_once() -> None:
    engine, venue = make_engine()
    venue.script = [Scripted(Fault.OK), Scripted(Fault.REFUSED)]  # spot fills, the perp hedge is refused
    await hedged(engine, venue)
    await eventually(lambda: slot_state(engine) is ArbState.CLOSED, timeout=10, what="unwound")
    (slot,) = engine.slots.values()
    assert [o.client_id.rsplit("-", 1)[1][:2] for o in venue.submitted] == ["en", "hg", "uw"]
    assert ArbState.UNWINDING in [t.to_state for t in slot.machine.history]
    assert slot.machine.flat
    assert_books_match(engine, venue)


# --------------------------------------------------------------------------- unknown outcomes


@pytest.mark.parametrize("runner", ["today", "new"])
async def test_a_retryable_5xx_while_the_venue_filled_books_the_fill_and_never_resends(runner: str) -> None:
    """Issue 12 #2: venue_unavailable retryable=true for an order the venue FILLED; the ledger
    lost the fill. The fill arrives late on the exec topic (today) or via UNKNOWN → FILLED (new)."""
    engine, venue = make_engine(runner)
    venue.script = [Scripted(Fault.OK), Scripted(Fault.FILLED_5XX, event_delay_s=0.02, unknown_queries=2)]
    await hedged(engine, venue)
    assert slot_state(engine) is ArbState.HEDGED and not engine.errors
    assert len([o for o in venue.submitted if o.key == PERP]) == 1  # the filled hedge was not resent
    (slot,) = engine.slots.values()
    assert slot.machine.b_base == SIZE and not slot.machine.unhedged
    assert_books_match(engine, venue)
    await exited(engine, venue)  # and the position it really holds is closed: nothing left anywhere
    assert slot_state(engine) is ArbState.CLOSED
    assert venue.net_base()[PERP] == 0 and D(0) <= venue.net_base()[SPOT] < SPOT_STEP
    assert_books_match(engine, venue)


@pytest.mark.parametrize("lose_events", [True, False])
async def test_outcome_unknown_then_filled_via_get_order_or_exec_events(lose_events: bool) -> None:
    engine, venue = make_engine("new")
    venue.script = [Scripted(Fault.OK), Scripted(Fault.UNKNOWN, unknown_queries=4, lose_events=lose_events)]
    await hedged(engine, venue)
    assert slot_state(engine) is ArbState.HEDGED
    assert len(venue.submitted) == 2
    reconciled = [t for t in engine.ledger.trades if "reconciled" in t.trade_id]
    assert len(reconciled) == (1 if lose_events else 0)
    assert_books_match(engine, venue)


async def test_a_timeout_on_a_filled_order_is_resolved_not_resent() -> None:
    engine, venue = make_engine("new")
    venue.script = [Scripted(Fault.FILLED_TIMEOUT, lose_events=True)]  # the entry leg itself
    await hedged(engine, venue)
    assert slot_state(engine) is ArbState.HEDGED
    assert [o.key for o in venue.submitted] == [SPOT, PERP]
    assert_books_match(engine, venue)


async def test_a_late_fill_event_after_a_reconcile_is_not_booked_twice() -> None:
    engine, venue = make_engine("new")
    # the runner answers FILLED right away but the exec event comes long after the fill settle
    venue.script = [Scripted(Fault.OK), Scripted(Fault.FILLED_TIMEOUT, event_delay_s=0.3)]
    await hedged(engine, venue)
    assert [t.trade_id for t in engine.ledger.trades if "reconciled" in t.trade_id]
    await eventually(lambda: engine.tracker.covered == 1, timeout=5, what="the late event seen")
    assert_books_match(engine, venue)


@pytest.mark.parametrize("cause", [Fault.NEVER_SENT, Fault.FAIL_5XX])
async def test_an_entry_proven_unplaced_is_retried_with_a_new_client_id(cause: Fault) -> None:
    engine, venue = make_engine("new")
    venue.script = [Scripted(cause)]
    await hedged(engine, venue)
    assert slot_state(engine) is ArbState.HEDGED
    spot = [o.client_id for o in venue.submitted if o.key == SPOT]
    assert len(spot) == 2 and len(set(spot)) == 2
    assert_books_match(engine, venue)


async def test_unknown_stays_unknown_nothing_is_resent_or_booked_and_the_stop_says_so() -> None:
    engine, venue = make_engine("new")
    venue.script = [Scripted(Fault.OK), Scripted(Fault.UNKNOWN, unknown_queries=10**9)]
    await start_engine(engine)
    market(engine, venue, 60)
    engine.evaluate()
    await eventually(lambda: len(venue.submitted) == 2, timeout=5, what="hedge sent")
    for _ in range(20):  # a while: the engine keeps asking and waits
        await asyncio.sleep(0.02)
        market(engine, venue, 60)
        assert engine.evaluate() is None
    assert engine.busy and len(venue.submitted) == 2
    assert not [t for t in engine.ledger.trades if t.key == PERP]  # no fill guessed
    hedge = engine.tracker.orders[venue.submitted[1].client_id]
    assert hedge.order is not None and hedge.order.status.value == "unknown"
    t0 = time.monotonic()
    left = await engine.stop(close_positions=True, timeout_s=0.3)
    assert time.monotonic() - t0 < 3
    assert any("outcome still unknown" in x and venue.submitted[1].client_id in x for x in left), left
    assert any("UNHEDGED" in x for x in left), left
    assert len(venue.submitted) == 2


async def test_unknown_resolved_later_hedges_and_exits_cleanly() -> None:
    engine, venue = make_engine("new")
    venue.script = [Scripted(Fault.OK), Scripted(Fault.UNKNOWN, unknown_queries=10**9)]
    await start_engine(engine)
    market(engine, venue, 60)
    engine.evaluate()
    await eventually(lambda: len(venue.submitted) == 2, timeout=5, what="hedge sent")
    await asyncio.sleep(0.2)
    assert engine.busy
    venue.resolve_all()  # the venue says: FILLED
    await eventually(lambda: not engine.busy, timeout=10, what="resolved")
    assert slot_state(engine) is ArbState.HEDGED and len(venue.submitted) == 2
    left = await engine.stop(close_positions=True, timeout_s=5)
    assert left == [] and slot_state(engine) is ArbState.CLOSED
    assert_books_match(engine, venue)


async def test_stop_ends_within_its_grace_while_unwinding_and_explains_the_remainder() -> None:
    """Issue 12: a 25 s run ended at 85 s after SIGTERM while unwinding."""
    engine, venue = make_engine("new")
    venue.script = [Scripted(Fault.OK)] + [Scripted(Fault.REFUSED)] * 10_000  # nothing after the entry leg
    await start_engine(engine)
    market(engine, venue, 60)
    engine.evaluate()
    await eventually(lambda: slot_state(engine) is ArbState.UNWINDING, timeout=5, what="unwinding")
    t0 = time.monotonic()
    left = await engine.stop(close_positions=True, timeout_s=0.5)
    assert time.monotonic() - t0 < 0.5 + 2.5
    assert len(left) == 1 and "UNHEDGED" in left[0] and "refused" in left[0], left


async def test_a_refused_exit_leaves_an_explained_hedged_remainder() -> None:
    engine, venue = make_engine("new")
    await hedged(engine, venue)
    venue.script = [Scripted(Fault.REFUSED)] * 10_000
    left = await engine.stop(close_positions=True, timeout_s=0.3)
    assert len(left) == 1 and "hedged remainder" in left[0] and "refused" in left[0], left
    assert slot_state(engine) is ArbState.HEDGED


async def test_a_phase_that_raises_is_settled_from_the_exposure_and_unwound() -> None:
    """A planner error mid-phase (here: the perp's bids vanish before the hedge is priced as a
    marketable limit) used to leave the position in 'entering' for ever."""
    engine, venue = make_engine(execution=msgspec.structs.replace(FAST, order_type=LegOrderType.LIMIT_IOC))

    def bids_vanish() -> None:
        one_sided = book(PERP, D(100_400))
        engine.on_event(BookEvent(book=msgspec.structs.replace(one_sided, bids=())))

    venue.script = [Scripted(Fault.OK, after=bids_vanish)]
    await start_engine(engine)
    market(engine, venue, 60)
    engine.evaluate()
    await eventually(lambda: bool(engine.errors), timeout=5, what="the phase failed")
    assert "PlanError" in engine.errors[0]
    assert slot_state(engine) is ArbState.UNWINDING  # not stuck in entering
    market(engine, venue, 60)
    engine.evaluate()  # picks the unwind up
    await eventually(lambda: slot_state(engine) is ArbState.CLOSED, timeout=5, what="unwound")
    assert_books_match(engine, venue)


# --------------------------------------------------------------------------- churn, fees


async def test_no_entry_into_a_carry_that_would_exit_it_at_once() -> None:
    """Issue 12 #8: 12 round trips in 12 s on funding_flip with funding_flip_bps_per_hour = 0."""
    decision = decision_config(funding_flip_bps_per_hour=D(0), min_hold_s=30, reentry_cooldown_s=10)
    engine, venue = make_engine(decision=decision)
    await start_engine(engine)
    for _ in range(50):
        market(engine, venue, 60, rate="-0.00001")  # wide basis, carry slightly against the short
        engine.evaluate()
        await asyncio.sleep(0.005)
        await eventually(lambda: not engine.busy, timeout=5, what="idle")
    assert engine.entries == 0 and venue.submitted == []


async def test_min_hold_and_cooldown_bound_the_round_trips() -> None:
    decision = decision_config(funding_flip_bps_per_hour=D(0), min_hold_s=0.3, reentry_cooldown_s=0.3)
    engine, venue = make_engine(decision=decision)
    await start_engine(engine)
    t0 = time.monotonic()
    flip = False
    while time.monotonic() - t0 < 1.2:
        market(engine, venue, 60, rate="-0.0005" if flip else "0.0005")  # the carry flips every evaluation
        flip = not flip
        engine.evaluate()
        await asyncio.sleep(0.01)
    await eventually(lambda: not engine.busy, timeout=5, what="idle")
    # one round trip takes ≥ 0.3 s held + 0.3 s cooldown: at most 2 entries in 1.2 s (the old code: dozens)
    assert 1 <= engine.entries <= 2, engine.entries


@pytest.mark.parametrize("first", [FirstLeg.A, FirstLeg.B])
async def test_spot_fees_in_btc_leave_no_drift(first: FirstLeg) -> None:
    """Issue 12 #8: the spot base drifted down by the taker fee on every round trip."""
    engine, venue = make_engine(execution=msgspec.structs.replace(FAST, first_leg=first))
    for _ in range(3):
        dust = venue.net_base().get(SPOT, D(0))
        await hedged(engine, venue)
        held = venue.net_base()
        # long spot holds the hedge size (plus less than one step) after the BTC fee
        assert SIZE <= held[SPOT] - dust < SIZE + SPOT_STEP, held[SPOT] - dust
        assert held[PERP] == -SIZE
        await exited(engine, venue)
        assert engine.slots[list(engine.slots)[-1]].machine.state is ArbState.CLOSED
        engine.last_closed_ms = 0
    total = venue.net_base()
    assert total[PERP] == 0
    assert D(0) <= total[SPOT] < 3 * SPOT_STEP  # less than a step of dust per round trip, never below 0
    assert all(t.qty > SIZE for t in engine.ledger.trades if t.key == SPOT and t.side.value == "buy")


# --------------------------------------------------------------------------- property

FAULTS = st.sampled_from(list(Fault))
STEPS = st.builds(
    Scripted,
    fault=FAULTS,
    unknown_queries=st.integers(0, 4),
    event_delay_s=st.sampled_from([0.0, 0.0, 0.01, 0.08]),
    lose_events=st.booleans(),
)


class LedgerEqualsVenue(RuleBasedStateMachine):
    """Whatever errors are injected, the ledger books exactly the fills the venue made, no
    client id is sent twice (the fake asserts it), and an unhedged position is always being
    hedged or unwound."""

    @initialize(runner=st.sampled_from(["today", "new"]), steps=st.lists(STEPS, min_size=1, max_size=6))
    def setup(self, runner: str, steps: list[Scripted]) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine, self.venue = make_engine(runner)
        self.venue.script.extend(steps)
        self.loop.run_until_complete(start_engine(self.engine))
        self._market(60, "0.0001")  # every run trades at least once

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.run_until_complete(self._quiet())
            self.loop.close()

    async def _quiet(self) -> None:
        self.venue.resolve_all()
        await self.engine.stop(close_positions=False, timeout_s=5)
        for task in list(self.venue.tasks):
            task.cancel()
        await asyncio.gather(*self.venue.tasks, return_exceptions=True)

    async def _settle(self) -> None:
        deadline = time.monotonic() + 20
        while (self.engine.busy or self.venue.tasks) and time.monotonic() < deadline:
            if self.engine.busy and not self.venue.tasks:
                self.venue.resolve_all()  # the venue answers eventually (UNKNOWN is not forever here)
            await asyncio.sleep(0.01)
        assert not self.engine.busy, "the phase never finished"

    @rule(steps=st.lists(STEPS, min_size=1, max_size=6))
    def inject(self, steps: list[Scripted]) -> None:
        self.venue.script.extend(steps)

    def _market(self, basis: int, rate: str) -> None:
        async def go() -> None:
            market(self.engine, self.venue, basis, rate)
            self.engine.last_closed_ms = 0
            self.engine.evaluate()
            await self._settle()

        self.loop.run_until_complete(go())

    @rule()
    def basis_opens(self) -> None:
        self._market(60, "0.0001")

    @rule()
    def basis_converges(self) -> None:
        self._market(-10, "0.0001")

    @rule()
    def funding_flips(self) -> None:
        self._market(60, "-0.0005")

    @rule()
    def stop_and_close(self) -> None:
        async def go() -> None:
            market(self.engine, self.venue, 0)
            await self.engine.stop(close_positions=True, timeout_s=5)
            await self._settle()
            self.engine.stopping = False

        self.loop.run_until_complete(go())

    @invariant()
    def ledger_equals_venue(self) -> None:
        if not hasattr(self, "engine"):
            return
        self.loop.run_until_complete(self._settle())
        assert ledger_by_client_id(self.engine) == self.venue.filled_by_client_id()
        booked: dict[object, Decimal] = {}
        for t in self.engine.ledger.trades:
            booked[t.key] = booked.get(t.key, D(0)) + t.base_delta
        truth = self.venue.net_base()
        assert {k: v for k, v in booked.items() if v} == {k: v for k, v in truth.items() if v}

    @invariant()
    def nothing_unhedged_is_left_alone(self) -> None:
        if not hasattr(self, "engine"):
            return
        for slot in self.engine.slots.values():
            assert slot.machine.invariant_holds(), slot.machine.history[-3:]


LedgerEqualsVenue.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_ledger_equals_the_venue_whatever_fails = LedgerEqualsVenue.TestCase
