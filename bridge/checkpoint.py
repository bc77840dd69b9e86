"""How far each sink has acknowledged each runner: the bridge's resume point (docs/bus.md).

One SQLite file per bridge, ``<data dir>/bridge-<name>.sqlite3`` (the data dir as the journal
resolves it: ``--data-dir``, ``$TRADEBUS_DATA_DIR``, the per-user data dir). One row per
(sink, runner) — the sink as ``nats:<stream>`` / ``rabbitmq:<exchange>`` — the highest journal
sequence ``jseq`` such that every journaled event of that
runner up to it was acknowledged by the sink, with the topic of that event. WAL mode with
``synchronous=NORMAL``: a commit survives ``kill -9`` of the bridge.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import msgspec

from strategy_client.journal.paths import resolve_data_dir

__all__ = ["Ack", "CheckpointStore", "checkpoint_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS acks (
    sink TEXT NOT NULL,
    runner TEXT NOT NULL,
    jseq INTEGER NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (sink, runner)
)
"""


class Ack(msgspec.Struct, frozen=True):
    sink: str
    runner: str
    jseq: int
    topic: str
    updated_ms: int


def checkpoint_path(name: str, data_dir: str | None = None, explicit: str | None = None) -> Path:
    """``explicit`` (a path) or ``<data dir>/bridge-<name>.sqlite3``."""
    if explicit:
        return Path(explicit)
    return resolve_data_dir(data_dir) / f"bridge-{name}.sqlite3"


class CheckpointStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=2000")
        self._db.execute(_SCHEMA)
        self.writes = 0

    def get(self, sink: str, runner: str) -> int:
        """The acknowledged journal sequence (0: nothing yet)."""
        with self._lock:
            row = self._db.execute("SELECT jseq FROM acks WHERE sink = ? AND runner = ?", (sink, runner)).fetchone()
        return int(row[0]) if row else 0

    def set(self, sink: str, runner: str, jseq: int, topic: str = "") -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO acks (sink, runner, jseq, topic, updated_ms) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (sink, runner) DO UPDATE SET jseq = excluded.jseq, topic = excluded.topic, "
                "updated_ms = excluded.updated_ms",
                (sink, runner, jseq, topic, time.time_ns() // 1_000_000),
            )
            self.writes += 1

    def all(self) -> list[Ack]:
        with self._lock:
            rows = self._db.execute("SELECT sink, runner, jseq, topic, updated_ms FROM acks ORDER BY sink, runner")
            return [Ack(str(r[0]), str(r[1]), int(r[2]), str(r[3]), int(r[4])) for r in rows.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()
