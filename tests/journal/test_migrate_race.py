"""Two processes opening one new SQLite journal at once — a strategy starting while ``strategy ls``
(or a test) reads its file — both used to run the migrations and one failed with "table runs
already exists"; the migration is serialized by a lock file beside the journal."""

from __future__ import annotations

import threading
from pathlib import Path

from strategy_client.journal import HEAD, Journal, JournalError, ProcessInfo


def test_concurrent_opens_of_a_new_journal_all_succeed(tmp_path: Path) -> None:
    for round_ in range(16):
        path = tmp_path / f"strategy-race{round_}.sqlite3"
        path.touch()  # the file exists (a writer created it), its tables not yet
        start = threading.Barrier(4)
        errors: list[str] = []

        def open_one(i: int, path: Path = path, start: threading.Barrier = start, errors: list[str] = errors) -> None:
            start.wait()
            try:
                j = Journal.open(str(path), process=ProcessInfo(role="strategy", name=f"race{i}"))
            except JournalError as exc:
                errors.append(exc.line)
                return
            j.close()

        threads = [threading.Thread(target=open_one, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        j = Journal.open(str(path), stream="strategy:race0")
        try:
            assert j._store.schema_revision() == HEAD
        finally:
            j.close()
