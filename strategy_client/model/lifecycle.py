"""A strategy instance's lifecycle: its states and the one table of legal transitions.

The seed's machine (Draft → Validating → Backtesting → PaperTrading → ReadyForLive → Active →
Paused → Stopped → Archived, with the three failure states and their "revise" edges back to
Draft), plus the edges a tradebus process run takes (marked ``tradebus`` below): tradebus has no
backtester, so a ``--paper`` run goes Validating → PaperTrading and a live run, started by its
operator, Validating → Active; a paper instance pauses and resumes like a live one; a stopped
instance is validated again when its process restarts. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = [
    "LifecycleState",
    "TRANSITIONS",
    "RUNNING_STATES",
    "IllegalTransition",
    "allowed_from",
    "check_transition",
    "is_legal",
    "resume_target",
]


class LifecycleState(StrEnum):
    DRAFT = "draft"
    VALIDATING = "validating"
    VALIDATION_FAILED = "validation_failed"
    BACKTESTING = "backtesting"
    BACKTEST_FAILED = "backtest_failed"
    PAPER_TRADING = "paper_trading"
    PAPER_FAILED = "paper_failed"
    READY_FOR_LIVE = "ready_for_live"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    ARCHIVED = "archived"


S = LifecycleState

#: from → {to: the transition's name}. The only place a transition is allowed.
TRANSITIONS: Mapping[LifecycleState, Mapping[LifecycleState, str]] = {
    S.DRAFT: {S.VALIDATING: "validate"},
    S.VALIDATING: {
        S.VALIDATION_FAILED: "fail",
        S.BACKTESTING: "proceed",
        S.PAPER_TRADING: "paper",  # tradebus: a --paper run (no backtester)
        S.ACTIVE: "activate",  # tradebus: a live run started by its operator
        S.STOPPED: "stop",  # tradebus: stopped during its start checks
    },
    S.VALIDATION_FAILED: {S.DRAFT: "revise"},
    S.BACKTESTING: {S.BACKTEST_FAILED: "fail", S.PAPER_TRADING: "proceed"},
    S.BACKTEST_FAILED: {S.DRAFT: "revise"},
    S.PAPER_TRADING: {
        S.PAPER_FAILED: "fail",
        S.READY_FOR_LIVE: "success",
        S.PAUSED: "pause",  # tradebus
        S.STOPPED: "stop",  # tradebus
    },
    S.PAPER_FAILED: {S.DRAFT: "revise"},
    S.READY_FOR_LIVE: {S.ACTIVE: "activate"},
    S.ACTIVE: {S.PAUSED: "pause", S.STOPPED: "stop"},
    S.PAUSED: {S.ACTIVE: "resume", S.PAPER_TRADING: "resume", S.STOPPED: "stop"},
    S.STOPPED: {S.ARCHIVED: "archive", S.VALIDATING: "validate"},  # tradebus: validate = a restart
    S.ARCHIVED: {},
}

#: states in which a process is trading (or paused) — what ``strategy ls`` calls running
RUNNING_STATES = frozenset({S.VALIDATING, S.PAPER_TRADING, S.ACTIVE, S.PAUSED})


class IllegalTransition(ValueError):
    """A transition the table does not allow; the message names what is allowed instead."""

    def __init__(self, instance: str, from_state: LifecycleState, to_state: LifecycleState) -> None:
        self.instance, self.from_state, self.to_state = instance, from_state, to_state
        allowed = ", ".join(s.value for s in allowed_from(from_state)) or "nothing (final)"
        super().__init__(
            f"{instance}: cannot go from {from_state.value} to {to_state.value} "
            f"(from {from_state.value} the lifecycle allows: {allowed})"
        )


def allowed_from(state: LifecycleState) -> list[LifecycleState]:
    return list(TRANSITIONS[state])


def is_legal(from_state: LifecycleState, to_state: LifecycleState) -> bool:
    return to_state in TRANSITIONS[from_state]


def check_transition(instance: str, from_state: LifecycleState, to_state: LifecycleState) -> str:
    """The transition's name, or :class:`IllegalTransition`."""
    name = TRANSITIONS[from_state].get(to_state)
    if name is None:
        raise IllegalTransition(instance, from_state, to_state)
    return name


def resume_target(paper: bool) -> LifecycleState:
    """Where ``resume`` goes: back to paper trading for a paper instance, else active."""
    return S.PAPER_TRADING if paper else S.ACTIVE
