"""The arbitrage-position state machine: idle → entering → hedged → exiting → closed, plus broken/unwinding.

One :class:`PositionMachine` per arbitrage position. The engine reports *facts* — it started an
entry or exit, a leg filled, the working orders of a phase are all final, a hedge or unwind
attempt failed, the venue's positions after a reconcile — and the machine decides the state
from the exposure it tracks (base units: ``a_base`` long on leg A, ``b_base`` short on leg B;
what the fills leave held — net of a fee charged in the base asset, as the engine reports it).

Transition table (``event``: from → to; ``*`` = decided by the exposure):

=======================  ==============================  =======================================
event                    from                            to
=======================  ==============================  =======================================
``START_ENTRY``          idle                            entering
``START_EXIT``           hedged                          exiting
``FILL``                 entering, exiting, unwinding    (same state; exposure updated) — broken →
                                                         unwinding if it leaves the position
                                                         unhedged after the hedge gave up
``FILL``                 idle, hedged, closed            * unhedged → broken → unwinding;
                                                         hedged and now flat → closed; idle or
                                                         closed and now hedged → hedged
``LEGS_SETTLED``         entering                        * flat → closed, hedged → hedged,
                                                         unhedged → broken → unwinding
``LEGS_SETTLED``         exiting                         * flat → closed, hedged → hedged
                                                         (exit abandoned), unhedged → broken →
                                                         unwinding
``LEGS_SETTLED``         unwinding                       * flat → closed, hedged → hedged,
                                                         unhedged → unwinding (next attempt)
``HEDGE_FAILED``         entering, exiting               same state while retries remain, then
                                                         broken → unwinding if unhedged
``UNWIND_FAILED``        unwinding                       unwinding (after ``max_unwind_attempts``
                                                         the machine is ``escalated``)
``RECONCILE``            idle, hedged, closed            * as for ``FILL``, with the venues'
                                                         exposure replacing the tracked one
=======================  ==============================  =======================================

``broken`` is where an unhedged position is detected; the machine moves on to ``unwinding`` in
the same step (both transitions are recorded), so **no sequence of events leaves an unhedged
position without a hedge attempt or an unwind in flight**: whenever :attr:`unhedged` is true
the state is ``entering``/``exiting`` (hedge retries left) or ``unwinding``
(:meth:`PositionMachine.invariant_holds`, a hypothesis property in the tests). Unwinding never
gives up: after its attempts it keeps the state and sets :attr:`escalated` so the engine can
stop new entries and alert.

Every transition is recorded (:attr:`history`) as a :class:`Transition` with its time, event,
reason, from, to and the exposure after it, and passed to ``on_transition`` so the engine can
log and publish it. The machine is pure: time comes in with each event.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum

import msgspec

from strategy_client.model import Side

from .errors import IllegalTransition
from .pair import LegId

__all__ = [
    "ArbState",
    "ArbEvent",
    "Transition",
    "PositionMachine",
    "EDGES",
    "ACCEPTS",
    "ACTIVE_STATES",
]

ZERO = Decimal(0)


class ArbState(StrEnum):
    IDLE = "idle"
    ENTERING = "entering"
    HEDGED = "hedged"
    EXITING = "exiting"
    BROKEN = "broken"
    UNWINDING = "unwinding"
    CLOSED = "closed"


class ArbEvent(StrEnum):
    START_ENTRY = "start_entry"
    START_EXIT = "start_exit"
    FILL = "fill"
    LEGS_SETTLED = "legs_settled"
    HEDGE_FAILED = "hedge_failed"
    UNWIND_FAILED = "unwind_failed"
    RECONCILE = "reconcile"


S = ArbState
E = ArbEvent

#: Every edge the machine may take (self-loops are recorded retries).
EDGES: dict[ArbState, frozenset[ArbState]] = {
    S.IDLE: frozenset({S.ENTERING, S.BROKEN, S.HEDGED}),
    S.ENTERING: frozenset({S.ENTERING, S.HEDGED, S.CLOSED, S.BROKEN}),
    S.HEDGED: frozenset({S.EXITING, S.BROKEN, S.CLOSED}),
    S.EXITING: frozenset({S.EXITING, S.CLOSED, S.HEDGED, S.BROKEN}),
    S.BROKEN: frozenset({S.UNWINDING}),
    S.UNWINDING: frozenset({S.UNWINDING, S.CLOSED, S.HEDGED}),
    S.CLOSED: frozenset({S.BROKEN, S.HEDGED}),
}

#: The states each event is accepted in; anything else raises :class:`IllegalTransition`.
ACCEPTS: dict[ArbEvent, frozenset[ArbState]] = {
    E.START_ENTRY: frozenset({S.IDLE}),
    E.START_EXIT: frozenset({S.HEDGED}),
    E.FILL: frozenset({S.IDLE, S.ENTERING, S.HEDGED, S.EXITING, S.UNWINDING, S.CLOSED}),
    E.LEGS_SETTLED: frozenset({S.ENTERING, S.EXITING, S.UNWINDING}),
    E.HEDGE_FAILED: frozenset({S.ENTERING, S.EXITING}),
    E.UNWIND_FAILED: frozenset({S.UNWINDING}),
    E.RECONCILE: frozenset({S.IDLE, S.HEDGED, S.CLOSED}),
}

#: States in which orders of the position are working (a hedge or an unwind in flight).
ACTIVE_STATES = frozenset({S.ENTERING, S.EXITING, S.UNWINDING})


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    position_id: str
    seq: int
    ts_ms: int
    from_state: ArbState
    to_state: ArbState
    event: ArbEvent
    reason: str
    a_base: Decimal
    b_base: Decimal


class PositionMachine:
    """State of one arbitrage position (see the module docstring for the table).

    ``tolerance`` is the largest base-unit imbalance (and leg size, for "flat") regarded as
    hedged — dust that neither leg can trade (0: exact). ``max_hedge_retries`` failed hedge
    attempts are retried (the engine re-plans them); the next failure unwinds.
    """

    def __init__(
        self,
        position_id: str,
        *,
        tolerance: Decimal = ZERO,
        max_hedge_retries: int = 3,
        max_unwind_attempts: int = 5,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        if tolerance < 0:
            raise ValueError("tolerance must not be negative")
        self.position_id = position_id
        self.tolerance = tolerance
        self.max_hedge_retries = max_hedge_retries
        self.max_unwind_attempts = max_unwind_attempts
        self.on_transition = on_transition
        self.state = S.IDLE
        self.a_base = ZERO
        self.b_base = ZERO
        self.hedge_failures = 0
        self.unwind_failures = 0
        self.escalated = False
        self.history: list[Transition] = []

    # ------------------------------------------------------------------ exposure

    @property
    def imbalance(self) -> Decimal:
        """``a_base − b_base``: > 0 too long on A (sell A or sell B to fix), < 0 too short."""
        return self.a_base - self.b_base

    @property
    def unhedged(self) -> bool:
        return abs(self.imbalance) > self.tolerance

    @property
    def flat(self) -> bool:
        return abs(self.a_base) <= self.tolerance and abs(self.b_base) <= self.tolerance

    @property
    def is_terminal(self) -> bool:
        return self.state is S.CLOSED

    def invariant_holds(self) -> bool:
        """An unhedged position always has a hedge (with retries left) or an unwind in flight."""
        if not self.unhedged:
            return True
        if self.state is S.UNWINDING:
            return True
        return self.state in (S.ENTERING, S.EXITING) and self.hedge_failures <= self.max_hedge_retries

    # ------------------------------------------------------------------ events

    def start_entry(self, ts_ms: int, reason: str = "") -> None:
        self._accept(E.START_ENTRY)
        self._go(S.ENTERING, E.START_ENTRY, ts_ms, reason or "entry started")

    def start_exit(self, ts_ms: int, reason: str = "") -> None:
        self._accept(E.START_EXIT)
        self._go(S.EXITING, E.START_EXIT, ts_ms, reason or "exit started")

    def fill(self, leg: LegId, side: Side, base_qty: Decimal, ts_ms: int) -> None:
        """A fill of ``base_qty`` base units on ``leg``; outside a working phase it may break the position."""
        self._accept(E.FILL)
        if base_qty < 0:
            raise ValueError("base_qty must not be negative")
        if leg is LegId.A:
            self.a_base += base_qty * side.sign
        else:
            self.b_base -= base_qty * side.sign
        if self.state not in ACTIVE_STATES:
            self._check_resting(E.FILL, ts_ms, f"unexpected {side} {base_qty} on leg {leg}")
        elif self.state is not S.UNWINDING and self.unhedged and self.hedge_failures > self.max_hedge_retries:
            # a late fill after the hedge already gave up: nothing will hedge it
            self._break(E.FILL, ts_ms, f"{side} {base_qty} on leg {leg} after the hedge gave up")

    def legs_settled(self, ts_ms: int, reason: str = "") -> None:
        """Every order of the current phase is final: decide where the position stands."""
        self._accept(E.LEGS_SETTLED)
        note = f"; {reason}" if reason else ""
        if self.flat:
            self._go(S.CLOSED, E.LEGS_SETTLED, ts_ms, f"flat after {self.state}{note}")
        elif not self.unhedged:
            self._go(S.HEDGED, E.LEGS_SETTLED, ts_ms, f"hedged after {self.state}{note}")
        elif self.state is S.UNWINDING:
            self._unwind_failed(E.LEGS_SETTLED, ts_ms, f"unwind left {self.imbalance} unhedged{note}")
        else:
            self._break(E.LEGS_SETTLED, ts_ms, f"{self.state} left {self.imbalance} unhedged{note}")

    def hedge_failed(self, ts_ms: int, reason: str = "") -> None:
        """One hedge (or second exit leg) attempt failed; unwinds once retries are exhausted."""
        self._accept(E.HEDGE_FAILED)
        self.hedge_failures += 1
        note = f": {reason}" if reason else ""
        if self.hedge_failures <= self.max_hedge_retries or not self.unhedged:
            self._go(
                self.state,
                E.HEDGE_FAILED,
                ts_ms,
                f"hedge attempt {self.hedge_failures}/{self.max_hedge_retries + 1} failed{note}",
            )
        else:
            self._break(E.HEDGE_FAILED, ts_ms, f"hedge failed after {self.hedge_failures} attempts{note}")

    def unwind_failed(self, ts_ms: int, reason: str = "") -> None:
        self._accept(E.UNWIND_FAILED)
        self._unwind_failed(E.UNWIND_FAILED, ts_ms, reason or "unwind attempt failed")

    def reconcile(self, a_base: Decimal, b_base: Decimal, ts_ms: int) -> None:
        """Replace the tracked exposure with the venues' (outside working phases)."""
        self._accept(E.RECONCILE)
        self.a_base, self.b_base = a_base, b_base
        self._check_resting(E.RECONCILE, ts_ms, "reconciled with the venues")

    # ------------------------------------------------------------------ internals

    def _accept(self, event: ArbEvent) -> None:
        if self.state not in ACCEPTS[event]:
            raise IllegalTransition(self.state.value, event.value)

    def _check_resting(self, event: ArbEvent, ts_ms: int, reason: str) -> None:
        if self.unhedged:
            self._break(event, ts_ms, f"{reason}: {self.imbalance} unhedged")
        elif self.state is S.HEDGED and self.flat:
            self._go(S.CLOSED, event, ts_ms, f"{reason}: flat")
        elif self.state in (S.IDLE, S.CLOSED) and not self.flat:
            self._go(S.HEDGED, event, ts_ms, f"{reason}: hedged position adopted")

    def _break(self, event: ArbEvent, ts_ms: int, reason: str) -> None:
        self._go(S.BROKEN, event, ts_ms, reason)
        self._go(S.UNWINDING, event, ts_ms, "unwinding the naked leg")

    def _unwind_failed(self, event: ArbEvent, ts_ms: int, reason: str) -> None:
        self.unwind_failures += 1
        if self.unwind_failures >= self.max_unwind_attempts and not self.escalated:
            self.escalated = True
            reason = f"{reason}; escalated after {self.unwind_failures} attempts"
        self._go(S.UNWINDING, event, ts_ms, reason)

    def _go(self, to: ArbState, event: ArbEvent, ts_ms: int, reason: str) -> None:
        if to not in EDGES[self.state]:
            raise IllegalTransition(self.state.value, event.value, f"no edge to {to.value}")
        frm = self.state
        if to is not frm:
            self.hedge_failures = 0
            if to is not S.UNWINDING:
                self.unwind_failures = 0
                self.escalated = False
        self.state = to
        record = Transition(
            position_id=self.position_id,
            seq=len(self.history) + 1,
            ts_ms=ts_ms,
            from_state=frm,
            to_state=to,
            event=event,
            reason=reason,
            a_base=self.a_base,
            b_base=self.b_base,
        )
        self.history.append(record)
        if self.on_transition is not None:
            self.on_transition(record)
