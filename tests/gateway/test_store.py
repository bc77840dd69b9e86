"""The gateway's database on SQLite and PostgreSQL (own schema, dropped after): hashed keys,
the command outbox with idempotency and atomic claims, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.models import CommandStatus, Problem, Role
from gateway.store import GatewayStore, IdempotencyConflict, NewCommand
from tests.journal.conftest import PG_URL, pg_schema

__all__ = ["pg_schema"]  # the journal tests' fixture: a schema of our own, dropped after


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GatewayStore]:
    if request.param == "sqlite":
        s = GatewayStore.open(None, tmp_path / "data", "t")
        try:
            yield s
        finally:
            s.close()
        return
    schema = request.getfixturevalue("pg_schema")  # skips with the reason when unreachable; dropped after
    s = GatewayStore.open(f"{PG_URL}?schema={schema}", None, "t")
    try:
        yield s
    finally:
        s.close()


def test_keys_are_hashed_and_revocable(store: GatewayStore) -> None:
    info, key = store.create_key(Role.TRADE, "bot")
    assert key.startswith(f"tbk_{info.key_id}_") and len(key.split("_", 2)[2]) >= 43  # 256 bits
    row = store.verify_key(key)
    assert row is not None and row.role is Role.TRADE and key.split("_", 2)[2] not in row.secret_hash
    assert store.verify_key(key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    assert store.verify_key("tbk_nothing_here") is None
    assert store.revoke_key(info.key_id) and not store.revoke_key(info.key_id)
    assert store.verify_key(key) is None
    assert [k.revoked_ms is not None for k in store.list_keys()] == [True]
    # a second open of the same database (a restart) finds it current
    again = GatewayStore(store.target)
    try:
        assert [k.key_id for k in again.list_keys()] == [info.key_id]
    finally:
        again.close()


def test_outbox_idempotency_and_claims(store: GatewayStore) -> None:
    new = NewCommand(kind="submit_order", key_id="k1", request={"qty": "0.01"}, idempotency_key="abc")
    first, created = store.accept(new)
    assert created and first.status is CommandStatus.ACCEPTED and first.client_id.startswith("gw")
    again, created = store.accept(new)
    assert not created and again.id == first.id
    with pytest.raises(IdempotencyConflict):
        store.accept(NewCommand(kind="submit_order", key_id="k1", request={"qty": "0.02"}, idempotency_key="abc"))
    other, created = store.accept(
        NewCommand(kind="submit_order", key_id="k2", request={"qty": "0.02"}, idempotency_key="abc")
    )
    assert created and other.id != first.id  # idempotency keys are per API key
    assert [c.id for c in store.open_commands()] == [first.id, other.id]
    assert store.claim(first.id, CommandStatus.ACCEPTED) and not store.claim(first.id, CommandStatus.ACCEPTED)
    running = store.get(first.id)
    assert running is not None and running.status is CommandStatus.RUNNING
    assert store.claim(first.id, CommandStatus.RUNNING)  # a re-run after a crash counts an attempt
    store.finish(
        first.id,
        CommandStatus.FAILED,
        None,
        Problem(type="t", title="x", status=422, code="venue_rejected", retryable=False),
    )
    done = store.get(first.id)
    assert done is not None and done.attempts == 2 and done.error is not None and done.error.code == "venue_rejected"
    assert [c.id for c in store.open_commands()] == [other.id]
    store.audit(
        key_id="k1",
        method="POST",
        path="/api/v1/orders",
        body="{}",
        status=202,
        outcome="ok",
        command_id=first.id,
        remote="::1",
    )
    (row,) = store.audit_rows()
    assert row.command_id == first.id and row.status == 202


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_journal_reader_finds_strategies(request: pytest.FixtureRequest, tmp_path: Path, dialect: str) -> None:
    """The gateway's journal reads on one SQLite file per process and on a shared PostgreSQL schema."""
    from gateway.journals import JournalReader
    from strategy_client.journal import Decision, HistoryFilter, Journal, PairState, ProcessInfo

    url = None if dialect == "sqlite" else f"{PG_URL}?schema={request.getfixturevalue('pg_schema')}"
    j = Journal.open(url, process=ProcessInfo(role="strategy", name="rd"), data_dir=tmp_path)
    try:
        async with j.running():
            await j.append(
                PairState(strategy="spotperp", pair_id="p", version=1, ts_ms=1, phase="hedged", leg_a="a", leg_b="b")
            )
            await j.append(Decision(strategy="spotperp", ts_ms=2, action="enter"))
    finally:
        j.close()
    reader = JournalReader(url, tmp_path)
    assert reader.shared is (dialect == "postgresql")
    (view,) = reader.strategies()
    assert view.name == "rd" and view.open_pairs == 1 and view.lifecycle is None
    assert [p.pair_id for p in reader.pairs("rd", True) or []] == ["p"]
    assert [d.action for d in reader.decisions("rd", HistoryFilter()) or []] == ["enter"]
    assert reader.rows("strategy", "orders", HistoryFilter(limit=10)) == []
    assert reader.pairs("nobody", True) is None
