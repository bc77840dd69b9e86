"""Versioned migrations (alembic): upgrade on open, refuse a newer schema, cheap when current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from strategy_client.journal import (
    HEAD,
    KNOWN_REVISIONS,
    Journal,
    JournalSchemaTooNew,
    ProcessInfo,
    resolve_target,
)
from strategy_client.journal.migrate import MIGRATIONS_DIR, upgrade

from ..integration.conftest import ROOT
from .conftest import Backend
from .factories import request


def test_known_revisions_are_alembics_chain() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_heads() == [HEAD]
    chain = [rev.revision for rev in script.walk_revisions()]  # head first
    assert tuple(reversed(chain)) == KNOWN_REVISIONS


def _target(backend: Backend):  # type: ignore[no-untyped-def]
    return resolve_target(backend.url, stream="runner:binance:main", data_dir=backend.data_dir)


def test_an_older_journal_is_upgraded_on_open_and_keeps_its_rows(backend: Backend) -> None:
    target = _target(backend)
    if target.dialect == "sqlite":
        Path(target.path).parent.mkdir(parents=True)
    upgrade(target, "0001")  # a journal written by a tradebus that knew only the runner tables
    old = backend.open()  # opening upgrades it to the head …
    old.write_intent(request("before"))
    old.close()
    # … and a second open finds it current and its rows intact
    again = backend.open()
    assert again.intent("before") is not None
    assert again.pairs(include_closed=True) == []  # 0002's table exists


def test_an_empty_journal_at_0001_upgrades_with_data(backend: Backend) -> None:
    """Rows written under revision 0001 survive the upgrade to the head."""
    target = _target(backend)
    if target.dialect == "sqlite":
        Path(target.path).parent.mkdir(parents=True)
    upgrade(target, "0001")
    import sqlalchemy as sa

    from strategy_client.journal.migrate import _engine

    engine = _engine(target)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO order_intents (stream, run_id, client_id, ts_ns, key, side, type, tif, qty, price, "
                "reduce_only, origin, request) VALUES ('runner:binance:main', 'r', 'old-1', 1, "
                "'binance:perp:BTCUSDT', 'buy', 'market', 'gtc', '1.5', NULL, false, '', :req)"
            ),
            {"req": msgspec.msgpack.encode(request("old-1", price=None))},
        )
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    engine.dispose()
    j = backend.open()
    (pending,) = j.unresolved_orders()
    assert pending.client_id == "old-1"


def test_a_newer_schema_is_refused_with_one_line(backend: Backend) -> None:
    j = backend.open()
    j.write_intent(request("keep"))
    j.close()
    target = _target(backend)
    import sqlalchemy as sa

    from strategy_client.journal.migrate import _engine

    engine = _engine(target)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(JournalSchemaTooNew) as err:
        backend.open()
    line = err.value.line
    assert "0099" in line and HEAD in line and "newer than this tradebus" in line and "\n" not in line
    assert (err.value.found, err.value.known) == ("0099", HEAD)
    with pytest.raises(JournalSchemaTooNew):
        backend.reader()  # history refuses too: it would misread the rows


def test_opening_a_current_journal_imports_no_sqlalchemy(tmp_path: Path) -> None:
    Journal.open(process=ProcessInfo(role="runner", name="x"), data_dir=tmp_path).close()
    probe = (
        "import sys\n"
        "from strategy_client.journal import Journal, ProcessInfo\n"
        f"j = Journal.open(process=ProcessInfo(role='runner', name='x'), data_dir={str(tmp_path)!r})\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'psycopg') if m in sys.modules]\n"
        "print(heavy); sys.exit(1 if heavy else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_importing_strategy_client_does_not_import_the_journals_drivers() -> None:
    probe = (
        "import sys, strategy_client, strategy_client.model, strategy_client.journal\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'psycopg', 'platformdirs') if m in sys.modules]\n"
        "print(heavy); sys.exit(1 if heavy else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
