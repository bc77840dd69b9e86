"""The two storage backends behind :class:`~strategy_client.journal.Journal`: raw DBAPI
connections (sqlite3, psycopg 3), no ORM on the write path.

A store has three duties: the synchronous intent insert (its own fast path), batched writes
for the writer task (one transaction per batch, run in a worker thread) and reads. Every
driver error leaves here as a :class:`~strategy_client.journal.errors.JournalError`.

SQLite: one write connection shared by the intent path and the writer thread under a
``threading.Lock`` (the intent waits for at most one batch, never for SQLite's busy handler),
plus one read connection (WAL readers do not block the writer). PostgreSQL: one connection each
for intents, the writer and reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from .errors import (
    DuplicateIntent,
    JournalClosed,
    JournalCorrupt,
    JournalError,
    JournalFull,
    JournalLocked,
    JournalUnavailable,
    JournalWriteFailed,
)
from .intent_log import DEFAULT_LOG_SIZE
from .paths import JournalTarget
from .sql import VERSION_TABLE

__all__ = ["Stmt", "Store", "SqliteStore", "StoreOptions"]

OPEN_BUSY_S = 30.0  # how long opening a SQLite journal waits for another process's open or migration


@contextlib.contextmanager
def setup_lock(path: str) -> Iterator[None]:
    """Opening and migrating one SQLite journal file are serialised between processes and
    threads: an exclusive ``flock`` on ``<file>.migrate``. SQLite answers a journal-mode switch
    that meets another connection opening the same new file with "database is locked" at once
    (its busy timeout does not apply there), and two first opens of an empty file would both
    migrate it. Where the lock file cannot be made (a directory this user may only read) the
    open goes on unserialised: such a process cannot migrate or write the journal either."""
    try:
        fh = open(path + ".migrate", "a")  # noqa: SIM115 - closed below, after the lock's block
    except OSError:
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Stmt(msgspec.Struct, frozen=True, array_like=True):
    """One statement of a batch. ``dup`` names a counter bumped when an ``ON CONFLICT DO NOTHING``
    insert wrote nothing; ``gate`` (first statement of a record) skips the record's remaining
    statements when it was such a duplicate."""

    sql: str
    params: tuple[Any, ...]
    dup: str = ""
    gate: bool = False


class StoreOptions(msgspec.Struct, frozen=True, kw_only=True):
    busy_timeout_s: float = 2.0  # SQLite busy timeout; PostgreSQL lock_timeout
    synchronous: str = "normal"  # SQLite: normal (WAL: durable across process crashes) | full (and power loss)
    connect_timeout_s: float = 5.0  # PostgreSQL
    # PostgreSQL synchronous_commit for the journal's sessions: "on" waits for the WAL flush at every
    # commit; "off" may lose the last few hundred ms of commits if the *server* crashes (never corrupts)
    pg_synchronous_commit: str = "on"
    # SQLite with synchronous=normal: order intents go to a memory-mapped log first (no system
    # call on the order path) and the writer task inserts them; False commits each synchronously
    intent_log: bool = True
    intent_log_size: int = DEFAULT_LOG_SIZE  # bytes (a multiple of the page size)


class Store(ABC):
    dialect: str

    def __init__(self, target: JournalTarget, options: StoreOptions) -> None:
        self.target = target
        self.options = options
        self.where = target.describe()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def schema_revision(self) -> str | None: ...

    @abstractmethod
    def insert_intent(self, sql: str, params: tuple[Any, ...]) -> None: ...

    @abstractmethod
    def write_batch(self, groups: Sequence[Sequence[Stmt]]) -> dict[str, int]: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def maintenance(
        self, stmts: Sequence[tuple[str, tuple[Any, ...]]], consequence: str = "nothing was changed"
    ) -> list[int]: ...

    @abstractmethod
    def vacuum(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def sql(self, text: str) -> str:
        """Statements are written with ``?`` placeholders; PostgreSQL's driver wants ``%s``."""
        return text


# ----------------------------------------------------------------------------- SQLite


def sqlite_error(exc: sqlite3.Error, where: str, consequence: str, busy_s: float) -> JournalError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    msg = str(exc)
    if name.startswith("SQLITE_FULL") or "disk is full" in msg:
        return JournalFull(f"journal {where} is full ({msg}): {consequence}")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "is locked" in msg:
        return JournalLocked(f"journal {where} is locked by another process (waited {busy_s:g} s): {consequence}")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "not a database" in msg or "malformed" in msg:
        return JournalCorrupt(
            f"journal {where} is corrupt ({msg}): move the file aside (with its -wal and -shm) or restore a backup"
        )
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
        return JournalUnavailable(f"journal {where} cannot be written ({msg}): {consequence}")
    return JournalWriteFailed(f"journal {where}: {msg}: {consequence}")


class SqliteStore(Store):
    dialect = "sqlite"

    def __init__(self, target: JournalTarget, options: StoreOptions) -> None:
        super().__init__(target, options)
        self._w: sqlite3.Connection | None = None
        self._r: sqlite3.Connection | None = None
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()

    def _connect(self, busy_s: float) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.target.path,
            timeout=busy_s,
            isolation_level=None,  # autocommit; batches use explicit BEGIN/COMMIT
            check_same_thread=False,  # guarded by our locks
            cached_statements=256,
        )
        return conn

    def open(self) -> None:
        path = Path(self.target.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalUnavailable(f"journal directory {path.parent} cannot be created: {exc.strerror}") from exc
        consequence = "the journal cannot be opened"
        # Opening may wait on another process's open or migration of the same file (several
        # processes starting at once, on a loaded machine): not on any hot path, so it waits
        # longer than a write does; the configured busy timeout applies once open.
        open_s = max(self.options.busy_timeout_s, OPEN_BUSY_S)
        busy_ms = int(self.options.busy_timeout_s * 1000)
        with setup_lock(self.target.path):
            self._w = self._open_connections(open_s, busy_ms, consequence)

    def _open_connections(self, open_s: float, busy_ms: int, consequence: str) -> sqlite3.Connection:
        try:
            w = self._connect(open_s)
        except sqlite3.Error as exc:
            raise sqlite_error(exc, self.where, consequence, open_s) from exc
        try:
            mode = w.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise JournalUnavailable(f"journal {self.where}: SQLite refused WAL mode (got {mode!r})")
            sync = self.options.synchronous.upper()
            if sync not in ("NORMAL", "FULL", "EXTRA"):
                raise JournalUnavailable(f"journal synchronous={self.options.synchronous!r}: use normal, full or extra")
            w.execute(f"PRAGMA synchronous={sync}")
            w.execute("PRAGMA foreign_keys=OFF")
            w.execute(f"PRAGMA busy_timeout={busy_ms}")
            self._r = self._connect(self.options.busy_timeout_s)
            self._r.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            w.close()
            raise sqlite_error(exc, self.where, consequence, open_s) from exc
        except JournalError:
            w.close()
            raise
        return w

    def _wconn(self) -> sqlite3.Connection:
        if self._w is None:
            raise JournalClosed(f"journal {self.where} is closed")
        return self._w

    def schema_revision(self) -> str | None:
        try:
            rows = self.query("SELECT name FROM sqlite_master WHERE type='table' AND name=?", (VERSION_TABLE,))
            if not rows:
                return None
            found = self.query(f"SELECT version_num FROM {VERSION_TABLE}")
        except JournalError:
            raise
        return str(found[0][0]) if found else None

    def insert_intent(self, sql: str, params: tuple[Any, ...]) -> None:
        conn = self._wconn()
        with self._wlock:
            try:
                conn.execute(sql, params)
            except sqlite3.IntegrityError as exc:
                raise DuplicateIntent(
                    f"order intent {params[2]!r} is already journaled in {self.where}: a client id is used once"
                ) from exc
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.rollback()
                raise sqlite_error(
                    exc,
                    self.where,
                    "the order intent is not journaled; do not send the order",
                    self.options.busy_timeout_s,
                ) from exc

    def write_batch(self, groups: Sequence[Sequence[Stmt]]) -> dict[str, int]:
        conn = self._wconn()
        dups: dict[str, int] = {}
        with self._wlock:
            try:
                conn.execute("BEGIN")
                for group in groups:
                    for stmt in group:
                        cur = conn.execute(stmt.sql, stmt.params)
                        if stmt.dup and cur.rowcount == 0:
                            dups[stmt.dup] = dups.get(stmt.dup, 0) + 1
                            if stmt.gate:
                                break
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.rollback()
                raise sqlite_error(
                    exc, self.where, f"{len(groups)} records kept in memory, retrying", self.options.busy_timeout_s
                ) from exc
        return dups

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._r is None:
            raise JournalClosed(f"journal {self.where} is closed")
        with self._rlock:
            try:
                return self._r.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise sqlite_error(exc, self.where, "the query failed", self.options.busy_timeout_s) from exc

    def maintenance(
        self, stmts: Sequence[tuple[str, tuple[Any, ...]]], consequence: str = "nothing was changed"
    ) -> list[int]:
        conn = self._wconn()
        counts: list[int] = []
        with self._wlock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                for sql, params in stmts:
                    counts.append(conn.execute(sql, params).rowcount)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.rollback()
                raise sqlite_error(exc, self.where, consequence, self.options.busy_timeout_s) from exc
        return counts

    def vacuum(self) -> None:
        conn = self._wconn()
        with self._wlock:
            try:
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise sqlite_error(exc, self.where, "vacuum did not run", self.options.busy_timeout_s) from exc

    def close(self) -> None:
        with self._wlock:
            if self._w is not None:
                try:
                    self._w.close()
                finally:
                    self._w = None
        with self._rlock:
            if self._r is not None:
                try:
                    self._r.close()
                finally:
                    self._r = None

    def file_size(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(self.target.path + suffix)
            except OSError:
                pass
        return total
