"""Schema migrations: alembic over SQLAlchemy Core, run programmatically (no alembic.ini).

The revision files live in ``migrations/versions/``. :data:`KNOWN_REVISIONS` lists them oldest
first so that opening a journal that is already current costs one query and imports neither
alembic nor SQLAlchemy; only an empty or older journal brings them in to upgrade it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import JournalError, JournalSchemaTooNew, JournalUnavailable
from .paths import JournalTarget
from .sql import VERSION_TABLE
from .store import setup_lock

__all__ = ["HEAD", "KNOWN_REVISIONS", "MIGRATIONS_DIR", "VERSION_TABLE", "check_revision", "engine", "upgrade"]

#: Every revision this code understands, oldest first; the last is the head.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004")
HEAD = KNOWN_REVISIONS[-1]
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def check_revision(found: str | None, where: str) -> bool:
    """True when ``found`` needs an upgrade, False when current; raises when it is newer."""
    if found == HEAD:
        return False
    if found is None or found in KNOWN_REVISIONS:
        return True
    raise JournalSchemaTooNew(
        f"journal {where} has schema revision {found}, newer than this tradebus understands "
        f"(up to {HEAD}): upgrade tradebus, or use another --journal/--data-dir",
        found=found,
        known=HEAD,
    )


def engine(target: JournalTarget, *, pooled: bool = False) -> Any:
    """A SQLAlchemy engine on ``target`` (PostgreSQL: the schema first on the search path).
    ``pooled``: keep connections (a long-lived reader/writer such as the gateway's store)."""
    return _engine(target, pooled=pooled)


def _engine(target: JournalTarget, *, pooled: bool = False) -> Any:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    pool: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if target.dialect == "sqlite":
        return sa.create_engine(target.sqlalchemy_url, **pool)
    return sa.create_engine(
        target.sqlalchemy_url,
        **pool,
        connect_args={"options": f"-csearch_path={target.schema}", "connect_timeout": 5},
    )


def _translate(orig: BaseException | None, target: JournalTarget) -> JournalError:
    consequence = "the journal schema could not be created or upgraded"
    if isinstance(orig, sqlite3.Error):
        from .store import sqlite_error

        return sqlite_error(orig, target.describe(), consequence, 0)
    if orig is not None and type(orig).__module__.startswith("psycopg"):
        import psycopg

        from .pgstore import pg_error

        if isinstance(orig, psycopg.Error):
            return pg_error(orig, target.describe(), consequence)
    first = (str(orig).strip().splitlines() or ["unknown error"])[0]
    return JournalUnavailable(f"journal {target.describe()}: migration failed: {first}")


def upgrade(
    target: JournalTarget,
    revision: str = HEAD,
    *,
    script_location: Path = MIGRATIONS_DIR,
    version_table: str = VERSION_TABLE,
    lock_name: str = "tradebus-journal",
) -> None:
    """Bring the journal at ``target`` up to ``revision`` (default: the head). Another set of
    tables kept beside a journal (the gateway's) passes its own revisions' ``script_location``,
    ``version_table`` and ``lock_name``."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    script = ScriptDirectory.from_config(cfg)

    def steps(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs(revision, rev)

    with _sqlite_migration_lock(target):
        _run_upgrade(target, cfg, script, steps, revision, version_table, lock_name)


@contextlib.contextmanager
def _sqlite_migration_lock(target: JournalTarget) -> Iterator[None]:
    """Two processes opening one empty SQLite journal at once (a strategy starting while
    ``strategy ls`` reads its file): the second waits for the first's migration, then finds the
    schema current (PostgreSQL takes an advisory lock instead)."""
    if target.dialect != "sqlite":
        yield
        return
    with setup_lock(target.path):
        yield


def _run_upgrade(
    target: JournalTarget, cfg: Any, script: Any, steps: Any, revision: str, version_table: str, lock_name: str
) -> None:
    import sqlalchemy as sa
    from alembic.runtime.environment import EnvironmentContext

    engine = _engine(target)
    try:
        with engine.begin() as conn:
            schema: str | None = None
            if target.dialect == "postgresql":
                schema = target.schema
                # two processes opening one empty schema at once: the second waits, then finds it current
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"{lock_name}:{schema}"})
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            with EnvironmentContext(cfg, script, fn=steps, destination_rev=revision) as env:
                env.configure(connection=conn, version_table=version_table, version_table_schema=schema)
                with env.begin_transaction():
                    env.run_migrations()
    except JournalError:
        raise
    except sa.exc.DBAPIError as exc:
        raise _translate(exc.orig, target) from exc
    finally:
        engine.dispose()
