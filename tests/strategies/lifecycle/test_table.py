"""The lifecycle table: no illegal transition is ever accepted (hypothesis), the seed's edges are
all there, and the journal's rows move only through it (compare-and-set, control requests)."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategy_client.journal import Journal, ProcessInfo
from strategy_client.journal.lifecycle import LifecycleStore, StaleState, list_instances, open_instance_journal
from strategy_client.model.lifecycle import (
    TRANSITIONS,
    IllegalTransition,
    LifecycleState,
    check_transition,
    is_legal,
)

from ...journal.conftest import PG_URL, drop_schema, pg_reachable

S = LifecycleState
SEED = {
    (S.DRAFT, S.VALIDATING),
    (S.VALIDATING, S.VALIDATION_FAILED),
    (S.VALIDATING, S.BACKTESTING),
    (S.VALIDATION_FAILED, S.DRAFT),
    (S.BACKTESTING, S.BACKTEST_FAILED),
    (S.BACKTESTING, S.PAPER_TRADING),
    (S.BACKTEST_FAILED, S.DRAFT),
    (S.PAPER_TRADING, S.PAPER_FAILED),
    (S.PAPER_TRADING, S.READY_FOR_LIVE),
    (S.PAPER_FAILED, S.DRAFT),
    (S.READY_FOR_LIVE, S.ACTIVE),
    (S.ACTIVE, S.PAUSED),
    (S.PAUSED, S.ACTIVE),
    (S.ACTIVE, S.STOPPED),
    (S.PAUSED, S.STOPPED),
    (S.STOPPED, S.ARCHIVED),
}


def test_every_seed_transition_is_in_the_table_and_archived_is_final() -> None:
    assert all(is_legal(a, b) for a, b in SEED)
    assert set(TRANSITIONS) == set(S)
    assert TRANSITIONS[S.ARCHIVED] == {}
    with pytest.raises(IllegalTransition, match=r"cannot go from archived to active .*nothing \(final\)"):
        check_transition("x", S.ARCHIVED, S.ACTIVE)


@given(st.lists(st.sampled_from(list(S)), max_size=40))
def test_no_illegal_transition_is_ever_accepted(targets: list[LifecycleState]) -> None:
    state = S.DRAFT
    for target in targets:
        legal = target in TRANSITIONS[state]
        try:
            check_transition("p", state, target)
        except IllegalTransition as exc:
            assert not legal and f"from {state.value} to {target.value}" in str(exc)
            continue
        assert legal
        state = target


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    j = Journal.open(None, process=ProcessInfo(role="strategy", name="prop"), data_dir=tmp_path_factory.mktemp("j"))
    yield j
    j.close()


_N = itertools.count()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list(S)), min_size=1, max_size=12))
def test_the_journal_row_moves_only_through_the_table(journal: Journal, path: list[S]) -> None:
    store = LifecycleStore(journal)
    stream = f"strategy:prop{next(_N)}"
    row = store.register(stream=stream, name=stream[9:], strategy="spotperp", mode="live")
    for target in path:
        try:
            store.transition(row, target, reason="t", actor="test")
        except IllegalTransition:
            assert not is_legal(row.state, target)
        else:
            assert is_legal(row.state, target)
        now = store.get(stream)
        assert now is not None
        row = now
    events = store.events(stream)
    assert all(is_legal(e.from_state, e.to_state) for e in events)
    assert (events[-1].to_state if events else S.DRAFT) is row.state


def test_a_stale_row_is_refused_and_requests_are_answered(tmp_path: Path) -> None:
    j = Journal.open(None, process=ProcessInfo(role="strategy", name="cas"), data_dir=tmp_path)
    try:
        store = LifecycleStore(j)
        row = store.register(stream="strategy:cas", name="cas", strategy="spotperp", mode="paper")
        assert row.state is S.DRAFT
        store.transition(row, S.VALIDATING, reason="start", actor="test", take_over=True)
        with pytest.raises(StaleState):  # the same move again from the old row: someone moved it
            store.transition(row, S.VALIDATING, reason="start", actor="test")
        now = store.get("strategy:cas")
        assert now is not None and now.pid == os.getpid() and now.alive  # heartbeat fresh, this pid
        store.transition(now, S.PAPER_TRADING, reason="checks passed", actor="test")
        now = store.get("strategy:cas")
        assert now is not None
        with pytest.raises(IllegalTransition, match="cannot go from paper_trading to active"):
            store.request(now, S.ACTIVE, "test")
        rid = store.request(now, S.PAUSED, "test")
        req = store.pending_request("strategy:cas", 0)
        assert req is not None and req.request_id == rid and req.state is S.PAUSED and req.by == "test"
        store.answer("strategy:cas", rid, "paper_trading → paused")
        assert store.pending_request("strategy:cas", rid) is None
        rows = list_instances(None, tmp_path)
        assert [(r.name, r.state, r.mode, r.answer) for r in rows] == [
            ("cas", S.PAPER_TRADING, "paper", "paper_trading → paused")
        ]
    finally:
        j.close()


@pytest.fixture()
def pg_url() -> Iterator[str]:
    reason = pg_reachable()
    if reason:
        pytest.skip(reason)
    schema = "tlc_" + uuid.uuid4().hex[:12]
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        drop_schema(schema)


def test_instances_in_one_postgresql_schema_are_listed_and_controlled(pg_url: str) -> None:
    url = pg_url
    writers = [Journal.open(url, process=ProcessInfo(role="strategy", name=n)) for n in ("pga", "pgb-paper")]
    try:
        for j, mode in zip(writers, ("live", "paper"), strict=True):
            store = LifecycleStore(j)
            row = store.register(stream=j.stream, name=j.stream[9:], strategy="spotperp", mode=mode)
            store.transition(row, S.VALIDATING, reason="start", actor="test", take_over=True)
        rows = list_instances(url)
        assert [(r.name, r.state, r.mode, r.alive) for r in rows] == [
            ("pga", S.VALIDATING, "live", True),
            ("pgb-paper", S.VALIDATING, "paper", True),
        ]
        control = open_instance_journal("pga", url)
        try:
            store = LifecycleStore(control)
            now = store.get("strategy:pga")
            assert now is not None
            rid = store.request(now, S.STOPPED, "other shell")
            req = LifecycleStore(writers[0]).pending_request("strategy:pga", 0)
            assert req is not None and (req.request_id, req.state) == (rid, S.STOPPED)
        finally:
            control.close()
    finally:
        for j in writers:
            j.close()
