"""Journal fixtures: a fresh SQLite data directory, and a private schema in the machine's real
PostgreSQL (127.0.0.1:5432, database ``test``; ``TRADEBUS_TEST_PG`` overrides), dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from strategy_client.journal import Journal, ProcessInfo, StoreOptions

PG_URL = os.environ.get("TRADEBUS_TEST_PG", "postgresql://127.0.0.1:5432/test")


def pg_reachable() -> str:
    """'' when PostgreSQL answers, else the reason."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, and say why
        return f"PostgreSQL at {PG_URL} unreachable: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}"
    return ""


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Backend:
    """Opens journals on one backend; every journal opened here is closed at the end."""

    def __init__(self, kind: str, url: str | None, data_dir: Path) -> None:
        self.kind = kind
        self.url = url
        self.data_dir = data_dir
        self.opened: list[Journal] = []

    def open(self, name: str = "binance:main", role: str = "runner", **kw: Any) -> Journal:
        kw.setdefault("options", StoreOptions(busy_timeout_s=1.0))
        j = Journal.open(self.url, process=ProcessInfo(role=role, name=name), data_dir=self.data_dir, **kw)
        self.opened.append(j)
        return j

    def reader(self, stream: str = "runner:binance:main") -> Journal:
        j = Journal.open(self.url, stream=stream, data_dir=self.data_dir)
        self.opened.append(j)
        return j

    def close_all(self) -> None:
        for j in self.opened:
            j.close()


@pytest.fixture()
def pg_schema() -> Iterator[str]:
    reason = pg_reachable()
    if reason:
        print(reason)
        pytest.skip(reason)
    schema = "tj_" + uuid.uuid4().hex[:12]
    try:
        yield schema
    finally:
        drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b = Backend("sqlite", None, tmp_path / "data")
        try:
            yield b
        finally:
            b.close_all()
        return
    schema = request.getfixturevalue("pg_schema")
    b = Backend("postgresql", f"{PG_URL}?schema={schema}", tmp_path / "unused")
    try:
        yield b
    finally:
        b.close_all()


OpenFn = Callable[..., Journal]
