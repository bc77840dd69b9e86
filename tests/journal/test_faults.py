"""Faults: a corrupt or locked SQLite file, a full disk, an unreachable or lost PostgreSQL.

Each gives one typed error line; a failed ``write_intent`` leaves no intent (the order must not
be sent); nothing journaled before is lost (checked by reopening); queued records wait in
memory and are written once the fault clears.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from strategy_client.journal import (
    FillRecord,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalFull,
    JournalLocked,
    JournalUnavailable,
    ProcessInfo,
    StoreOptions,
    journal_file,
)

from ..helpers import eventually, free_port
from .conftest import PG_URL, Backend
from .factories import fill, request

RUNNER = ProcessInfo(role="runner", name="binance:main")


def _one_line(err: JournalError) -> str:
    assert err.line and "\n" not in err.line and str(err) == err.line
    return err.line


# ----------------------------------------------------------------------------- corrupt


def test_a_corrupt_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = journal_file(RUNNER.stream, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    garbage = b"this is not a database, it was a log file" * 200
    path.write_bytes(garbage)
    with pytest.raises(JournalCorrupt) as err:
        Journal.open(process=RUNNER, data_dir=tmp_path)
    line = _one_line(err.value)
    assert str(path) in line and "corrupt" in line
    assert path.read_bytes() == garbage  # never "repaired" by overwriting


def test_a_journal_damaged_in_its_pages_is_reported_corrupt(tmp_path: Path) -> None:
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    for i in range(300):
        j.write_intent(request(f"c{i}"))
    j.close()
    path = journal_file(RUNNER.stream, tmp_path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page * 2, len(data), page):  # keep the header page, smash the rest
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt) as err:
        j = Journal.open(process=RUNNER, data_dir=tmp_path)
        j.unresolved_orders()
        j.close()
    _one_line(err.value)


# ----------------------------------------------------------------------------- locked


LOCKER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("INSERT INTO runs (run_id, stream, role, name, version, pid, host, started_ms) "
            "VALUES ('x', 'x', 'x', 'x', 'x', 0, 'x', 0)")
print("locked", flush=True)
sys.stdin.read()
con.execute("ROLLBACK")
"""


@pytest.fixture()
def locked_journal(tmp_path: Path) -> Iterator[tuple[Journal, subprocess.Popen[str]]]:
    j = Journal.open(process=RUNNER, data_dir=tmp_path, options=StoreOptions(busy_timeout_s=0.2))
    j.write_intent(request("before"))
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(journal_file(RUNNER.stream, tmp_path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    try:
        yield j, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        j.close()


def _release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(10) == 0


def test_a_locked_file_refuses_the_intent_then_recovers(locked_journal: tuple[Journal, subprocess.Popen[str]]) -> None:
    j, proc = locked_journal
    with pytest.raises(JournalLocked) as err:
        j.write_intent(request("during"))
    line = _one_line(err.value)
    assert "locked by another process" in line and "do not send the order" in line
    _release(proc)
    j.write_intent(request("after"))
    assert j.intent("before") is not None and j.intent("during") is None and j.intent("after") is not None


async def test_a_locked_file_holds_appends_in_memory_until_released(
    locked_journal: tuple[Journal, subprocess.Popen[str]],
) -> None:
    j, proc = locked_journal
    async with j.running():
        await j.append(FillRecord(fill=fill("before", "t1")))
        await eventually(lambda: j.stats.fault, what="the writer to report the lock")
        assert "locked" in j.stats.fault and j.stats.write_errors >= 1
        with pytest.raises(JournalLocked):
            await j.flush()
        _release(proc)
        await asyncio.wait_for(j.flush(), 30)
    assert j.stats.fault == "" and [f.trade_id for f in j.history_fills()] == ["t1"]


# ----------------------------------------------------------------------------- full disk


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (the empty journal alone takes ~150 KiB) (needs root: this machine's tests and CI run as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if out.returncode != 0:
        reason = f"cannot mount a tmpfs here ({out.stderr.strip() or out.returncode}); see test_file_size_limit"
        print(reason)
        pytest.skip(reason)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_disk_refuses_intents_keeps_queued_records_and_loses_nothing(tiny_disk: Path) -> None:
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * 128 * 1024)  # deleted later to free space
    j = Journal.open(process=RUNNER, data_dir=tiny_disk)
    written: list[str] = []
    with pytest.raises(JournalFull) as err:
        for i in range(20_000):
            cid = f"intent-{i:05d}-" + "x" * 20
            j.write_intent(request(cid))
            written.append(cid)
    line = _one_line(err.value)
    assert "is full" in line and "do not send the order" in line
    assert len(written) > 10
    async with j.running():
        await j.append(FillRecord(fill=fill("x", "t-full")))
        await eventually(lambda: j.stats.fault, what="the writer to report the full disk")
        assert "is full" in j.stats.fault
        with pytest.raises(JournalFull):
            await j.flush()
        filler.unlink()  # space comes back: the record waiting in memory is written
        await asyncio.wait_for(j.flush(), 30)
        j.write_intent(request("after-space"))
    assert j.close() == 0
    again = Journal.open(stream=RUNNER.stream, data_dir=tiny_disk)  # read: the disk is nearly full again
    try:
        unresolved = {o.client_id for o in again.unresolved_orders()}
        assert unresolved == {*written, "after-space"}  # every intent committed before the error is there
        assert [f.trade_id for f in again.history_fills()] == ["t-full"]
    finally:
        again.close()
    # a runner restarting on the still-full disk is refused with one line, and the file is intact
    try:
        Journal.open(process=RUNNER, data_dir=tiny_disk).close()
    except JournalFull as exc:
        assert "the journal is not open" in _one_line(exc)


FSIZE_PROBE = """
import resource, signal, sys
from strategy_client.journal import Journal, JournalError, ProcessInfo
from tests.journal.factories import request
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
j = Journal.open(process=ProcessInfo(role="runner", name="binance:main"), data_dir=sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
n = 0
try:
    for i in range(50_000):
        j.write_intent(request(f"c{i:05d}" + "x" * 25))
        n += 1
except JournalError as exc:
    print(type(exc).__name__, n)
    print(exc.line)
"""


def test_file_size_limit(tmp_path: Path) -> None:
    """The quota case without root: a file-size limit stops the journal's growth."""
    from ..integration.conftest import ROOT

    out = subprocess.run(
        [sys.executable, "-c", FSIZE_PROBE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    kind, count = out.stdout.splitlines()[0].split()
    assert kind in ("JournalFull", "JournalWriteFailed"), out.stdout
    line = out.stdout.splitlines()[1]
    assert "do not send the order" in line
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        assert len(j.unresolved_orders()) == int(count)  # every intent that returned is there
    finally:
        j.close()


# ----------------------------------------------------------------------------- PostgreSQL


def test_an_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://127.0.0.1:{port}/test?schema=nowhere"
    with pytest.raises(JournalUnavailable) as err:
        Journal.open(url, process=RUNNER, options=StoreOptions(connect_timeout_s=2))
    line = _one_line(err.value)
    assert f"127.0.0.1:{port}" in line and "unreachable" in line


def _terminate(pid: int) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_a_lost_postgresql_connection_fails_once_and_reconnects(pg_schema: str, tmp_path: Path) -> None:
    backend = Backend("postgresql", f"{PG_URL}?schema={pg_schema}", tmp_path)
    try:
        await _lose_connections(backend)
    finally:
        backend.close_all()


async def _lose_connections(backend: Backend) -> None:
    from strategy_client.journal.pgstore import PostgresStore

    j = backend.open()
    store = j._store
    assert isinstance(store, PostgresStore)
    j.write_intent(request("before"))
    pid = store.backend_pid("intent")
    assert pid is not None
    _terminate(pid)
    with pytest.raises(JournalUnavailable) as err:
        j.write_intent(request("lost"))  # the order must not be sent
    _one_line(err.value)
    j.write_intent(request("reconnected"))
    async with j.running():
        await j.append(FillRecord(fill=fill("before", "t1")))
        await j.flush()
        writer_pid = store.backend_pid("writer")
        assert writer_pid is not None
        _terminate(writer_pid)
        await j.append(FillRecord(fill=fill("before", "t2")))  # its batch fails, is retried on a new connection
        await eventually(lambda: j.stats.committed == 2, what="the retried batch to commit")
        await j.flush()
    assert j.stats.write_errors >= 1 and j.stats.fault == ""
    reader = backend.reader()
    assert {o.client_id for o in reader.unresolved_orders()} == {"before", "reconnected"}
    assert [f.trade_id for f in reader.history_fills()] == ["t1", "t2"]


def test_two_processes_share_one_postgresql_schema(pg_schema: str, tmp_path: Path) -> None:
    url = f"{PG_URL}?schema={pg_schema}"
    a = Journal.open(url, process=ProcessInfo(role="runner", name="binance:a"))
    b = Journal.open(url, process=ProcessInfo(role="runner", name="bybit:b"))
    try:
        a.write_intent(request("same-id"))
        b.write_intent(request("same-id"))  # client ids are per stream
        assert [o.client_id for o in a.unresolved_orders()] == ["same-id"]
        assert len(Journal.open(url, stream="any").history_orders()) == 2
    finally:
        a.close()
        b.close()


def test_no_room_to_create_the_schema_is_one_line(tiny_disk: Path) -> None:
    (tiny_disk / "filler").write_bytes(b"\0" * 1_000_000)  # leaves ~40 KiB; the empty schema needs ~150 KiB
    with pytest.raises(JournalFull) as err:
        Journal.open(process=RUNNER, data_dir=tiny_disk)
    line = _one_line(err.value)
    assert "is full" in line and "schema could not be created" in line
