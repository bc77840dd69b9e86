"""PostgreSQL backend (psycopg 3): the same schema as SQLite, in one schema of one database.

Three connections: intents (autocommit: one INSERT is one commit), the writer (one transaction
per batch) and reads. A connection that broke is replaced on its next use; an error on the way
is a :class:`JournalUnavailable` and the record stays unwritten (the intent raises; the batch
is retried by the writer).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pgerr

from .errors import (
    DuplicateIntent,
    JournalClosed,
    JournalError,
    JournalFull,
    JournalLocked,
    JournalUnavailable,
    JournalWriteFailed,
)
from .paths import JournalTarget
from .sql import TABLES, VERSION_TABLE
from .store import Stmt, Store, StoreOptions

__all__ = ["PostgresStore", "pg_error"]


def pg_error(exc: psycopg.Error, where: str, consequence: str) -> JournalError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, pgerr.DiskFull | pgerr.OutOfMemory):
        return JournalFull(f"journal {where} is full ({first}): {consequence}")
    if isinstance(exc, pgerr.LockNotAvailable | pgerr.DeadlockDetected):
        return JournalLocked(f"journal {where} is locked by another session ({first}): {consequence}")
    if isinstance(exc, pgerr.QueryCanceled) and "lock" in first:
        return JournalLocked(f"journal {where} is locked by another session ({first}): {consequence}")
    if isinstance(exc, psycopg.OperationalError | pgerr.AdminShutdown | pgerr.InvalidCatalogName):
        return JournalUnavailable(f"journal {where} is unreachable ({first}): {consequence}")
    return JournalWriteFailed(f"journal {where}: {first}: {consequence}")


class _Conn:
    """One psycopg connection, reopened when it broke."""

    def __init__(self, store: PostgresStore, role: str, *, autocommit: bool) -> None:
        self.store = store
        self.role = role
        self.autocommit = autocommit
        self.conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.lock = threading.Lock()
        self.closed = False

    def get(self, consequence: str) -> psycopg.Connection[tuple[Any, ...]]:
        if self.closed:
            raise JournalClosed(f"journal {self.store.where} is closed")
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = self.store.connect(self.role, self.autocommit, consequence)
        return self.conn

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.conn is not None:
                self.conn.close()
                self.conn = None


class PostgresStore(Store):
    dialect = "postgresql"

    def __init__(self, target: JournalTarget, options: StoreOptions) -> None:
        super().__init__(target, options)
        self._intent = _Conn(self, "intent", autocommit=True)
        self._writer = _Conn(self, "writer", autocommit=False)
        self._reader = _Conn(self, "reader", autocommit=True)

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def connect(self, role: str, autocommit: bool, consequence: str) -> psycopg.Connection[tuple[Any, ...]]:
        lock_ms = max(1, int(self.options.busy_timeout_s * 1000))
        try:
            return psycopg.connect(
                self.target.conninfo,
                autocommit=autocommit,
                application_name=f"tradebus-journal-{role}",
                connect_timeout=max(1, int(self.options.connect_timeout_s)),
                options=(
                    f"-csearch_path={self.target.schema} -clock_timeout={lock_ms} "
                    f"-csynchronous_commit={self.options.pg_synchronous_commit}"
                ),
            )
        except psycopg.Error as exc:
            raise pg_error(exc, self.where, consequence) from exc

    def open(self) -> None:
        consequence = "the journal cannot be opened"
        conn = self._reader.get(consequence)
        with self._reader.lock:
            try:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.target.schema}"')
            except pgerr.UniqueViolation:
                pass  # another process created it at the same moment
            except psycopg.Error as exc:
                raise pg_error(exc, self.where, consequence) from exc

    def schema_revision(self) -> str | None:
        rows = self.query(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            (self.target.schema, VERSION_TABLE),
        )
        if not rows:
            return None
        found = self.query(f"SELECT version_num FROM {VERSION_TABLE}")
        return str(found[0][0]) if found else None

    def insert_intent(self, sql: str, params: tuple[Any, ...]) -> None:
        consequence = "the order intent is not journaled; do not send the order"
        with self._intent.lock:
            conn = self._intent.get(consequence)
            try:
                conn.execute(sql, params)
            except pgerr.UniqueViolation as exc:
                raise DuplicateIntent(
                    f"order intent {params[2]!r} is already journaled in {self.where}: a client id is used once"
                ) from exc
            except psycopg.Error as exc:
                raise pg_error(exc, self.where, consequence) from exc

    def write_batch(self, groups: Sequence[Sequence[Stmt]]) -> dict[str, int]:
        consequence = f"{len(groups)} records kept in memory, retrying"
        dups: dict[str, int] = {}
        with self._writer.lock:
            conn = self._writer.get(consequence)
            try:
                with conn.cursor() as cur:
                    for group in groups:
                        for stmt in group:
                            cur.execute(stmt.sql, stmt.params)
                            if stmt.dup and cur.rowcount == 0:
                                dups[stmt.dup] = dups.get(stmt.dup, 0) + 1
                                if stmt.gate:
                                    break
                conn.commit()
            except psycopg.Error as exc:
                if not conn.broken:
                    try:
                        conn.rollback()
                    except psycopg.Error:
                        pass
                raise pg_error(exc, self.where, consequence) from exc
        return dups

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._reader.lock:
            conn = self._reader.get("the query failed")
            try:
                return conn.execute(self.sql(sql), tuple(params)).fetchall()
            except psycopg.Error as exc:
                raise pg_error(exc, self.where, "the query failed") from exc

    def maintenance(
        self, stmts: Sequence[tuple[str, tuple[Any, ...]]], consequence: str = "nothing was changed"
    ) -> list[int]:
        counts: list[int] = []
        with self._writer.lock:
            conn = self._writer.get(consequence)
            try:
                with conn.cursor() as cur:
                    for sql, params in stmts:
                        cur.execute(self.sql(sql), params)
                        counts.append(cur.rowcount)
                conn.commit()
            except psycopg.Error as exc:
                if not conn.broken:
                    conn.rollback()
                raise pg_error(exc, self.where, consequence) from exc
        return counts

    def vacuum(self) -> None:
        with self._reader.lock:
            conn = self._reader.get("vacuum did not run")
            try:
                # autocommit connection (VACUUM cannot run in a transaction); our schema's tables only
                for table in TABLES:
                    conn.execute(f'VACUUM (ANALYZE) "{self.target.schema}"."{table}"')
            except psycopg.Error as exc:
                raise pg_error(exc, self.where, "vacuum did not run") from exc

    def backend_pid(self, role: str) -> int | None:
        """The server process of one of our connections (``intent``, ``writer``, ``reader``), if open."""
        conn = {"intent": self._intent, "writer": self._writer, "reader": self._reader}[role].conn
        return None if conn is None or conn.closed else int(conn.info.backend_pid)

    def close(self) -> None:
        for c in (self._intent, self._writer, self._reader):
            c.close()
