"""``scripts/bench.py --journal postgresql://…``: the runner journals into a schema the bench
makes for the run and drops after (never the server's own tables); a URL's password is never
printed."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from bench import own_schema, redact_url
from bench_journal import pg_reachable

PG = "postgresql://127.0.0.1:5432/test"


def _schemas(conn: psycopg.Connection[tuple[object, ...]], name: str) -> int:
    row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (name,)).fetchone()
    return int(str(row[0])) if row else 0


def test_a_postgresql_journal_gets_its_own_schema_dropped_after() -> None:
    if why := pg_reachable(PG):
        pytest.skip(why)
    with own_schema(PG) as url:
        assert url.startswith(PG + "?schema=bench_")
        schema = url.rsplit("=", 1)[1]
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')  # what the runner's migrations do
            conn.execute(f'CREATE TABLE "{schema}".t (x int)')
            assert _schemas(conn, schema) == 1
    with psycopg.connect(PG, autocommit=True) as conn:
        assert _schemas(conn, schema) == 0


def test_anything_else_passes_through() -> None:
    with own_schema("") as url:
        assert url == ""
    assert redact_url("postgresql://bench:s3cret@db:5432/test") == "postgresql://bench:***@db:5432/test"
