"""The intent log in front of the SQLite intent insert (strategy_client/journal/intent_log.py).

``write_intent`` on SQLite with synchronous=normal and the writer running writes the intent into
a memory-mapped log (no system call) and queues it for the writer; a process killed right after
``write_intent`` returned leaves it in the log, and the next open imports it.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from strategy_client.journal import DuplicateIntent, Journal, OrderRecord, ProcessInfo, StoreOptions, journal_file
from strategy_client.journal.intent_log import DATA, IntentLog
from strategy_client.journal.journal import intent_log_path

from ..helpers import eventually
from ..integration.conftest import ROOT
from .factories import order, request

RUNNER = ProcessInfo(role="runner", name="binance:main")
STREAM = RUNNER.stream


def _log_path(data_dir: Path) -> Path:
    return Path(f"{journal_file(STREAM, data_dir)}.runner-binance-main.intents")


def _intents(data_dir: Path) -> list[str]:
    con = sqlite3.connect(journal_file(STREAM, data_dir))
    try:
        return [str(r[0]) for r in con.execute("SELECT client_id FROM order_intents ORDER BY id")]
    finally:
        con.close()


def _io() -> dict[str, int]:
    with open("/proc/self/io") as f:
        return {k: int(v) for k, v in (line.split(":") for line in f)}


def _files(data_dir: Path) -> list[tuple[int, int]]:
    out = []
    for suffix in ("", "-wal"):
        st = os.stat(f"{journal_file(STREAM, data_dir)}{suffix}")
        out.append((st.st_size, st.st_mtime_ns))
    return out


async def _writes_during_intents(j: Journal, tag: str, n: int = 20) -> tuple[int, int, bool]:
    """(write syscalls, read syscalls beyond the probe's own, SQLite files changed) across
    ``n`` write_intent calls made in one turn of the loop (the writer cannot run meanwhile)."""
    probe = _io()
    probe2 = _io()
    own_reads = probe2["syscr"] - probe["syscr"]  # reading /proc/self/io itself
    files = _files(Path(j.target.path).parent)
    before = _io()
    for i in range(n):
        j.write_intent(request(f"{tag}-{i}"))
    after = _io()
    changed = _files(Path(j.target.path).parent) != files
    return after["syscw"] - before["syscw"], after["syscr"] - before["syscr"] - own_reads, changed


async def test_write_intent_makes_no_system_call_and_the_writer_imports_it(tmp_path: Path) -> None:
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        async with j.running():
            j.write_intent(request("warm"))
            await j.flush()
            ilog = j._ilog
            assert ilog is not None and j.stats.intent_log == str(_log_path(tmp_path))
            epoch = ilog.epoch
            writes, reads, changed = await _writes_during_intents(j, "hot")
            assert (writes, reads, changed) == (0, 0, False)
            assert ilog.position > DATA and ilog.imported == DATA  # in the log, not yet imported
            assert "hot-0" not in _intents(tmp_path)
            await j.flush()
            assert ilog.position == ilog.imported == DATA and ilog.epoch == epoch + 1  # imported: starts over
            assert [c for c in _intents(tmp_path) if c.startswith("hot")] == [f"hot-{i}" for i in range(20)]
            assert j.stats.intents_logged == 21
    finally:
        j.close()


async def test_a_held_intent_reaches_the_writer_on_release_or_before_the_next_append(tmp_path: Path) -> None:
    """``hold``: the intent is durable in the log at once, but the writer is not woken on the
    order's path — it takes the intent when the order path releases it, or before anything
    appended after it (so the journal's order of records holds), or at flush."""
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        async with j.running():
            j.write_intent(request("h-0"), hold=True)
            assert j.stats.queue_depth == 0 and j.stats.intents_logged == 1  # logged, not queued
            j.release_intents()
            assert j.stats.queue_depth == 1
            await j.flush()
            assert _intents(tmp_path) == ["h-0"]
            j.write_intent(request("h-1"), hold=True)
            j.write_intent(request("h-2"), hold=True)
            j.append_nowait(OrderRecord(order=order("h-1"), kind="new"))  # the held intents queue before it
            assert j.stats.queue_depth == 3
            j.write_intent(request("h-3"), hold=True)
            await asyncio.wait_for(j.flush(), 30)  # flush takes what is held too
            assert _intents(tmp_path) == ["h-0", "h-1", "h-2", "h-3"]
            assert j.order("h-1") is not None
    finally:
        j.close()


async def test_the_probe_sees_the_synchronous_commit(tmp_path: Path) -> None:
    """The same measurement on the synchronous path (the code before the log) sees its writes."""
    j = Journal.open(process=RUNNER, data_dir=tmp_path, options=StoreOptions(intent_log=False))
    try:
        async with j.running():
            j.write_intent(request("warm"))
            writes, _, changed = await _writes_during_intents(j, "sync")
            assert writes >= 20 and changed
            assert j.stats.intent_log == "" and j.stats.intents_logged == 0
    finally:
        j.close()


KILLED = """
import asyncio, os, signal, sys
from strategy_client.journal import Journal, ProcessInfo
from tests.journal.factories import request

j = Journal.open(process=ProcessInfo(role="runner", name="binance:main"), data_dir=sys.argv[1])
n = int(sys.argv[2])

async def main():
    async with j.running():
        j.write_intent(request("before"))
        await j.flush()
        for i in range(n):  # every other one held from the writer (as the runner's order path does)
            j.write_intent(request(f"k-{i}"), hold=i % 2 == 0)
        assert j.stats.committed == 1, j.stats  # the writer has not run since
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def _killed_child(data_dir: Path, n: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILLED, str(data_dir), str(n)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _intents(data_dir) == ["before"]  # the killed intents are only in the log


def test_kill_9_right_after_write_intent_every_intent_is_in_sqlite_after_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _killed_child(tmp_path, 50)
    with caplog.at_level(logging.INFO, "tradebus.journal"):
        j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        assert _intents(tmp_path) == ["before", *(f"k-{i}" for i in range(50))]
        assert j.stats.intents_recovered == 50 and j.stats.intents_torn == 0
        assert sum("50 order intents imported" in r.getMessage() for r in caplog.records) == 1
        assert {o.client_id for o in j.unresolved_orders()} >= {f"k-{i}" for i in range(50)}  # reconcile sees them
        with pytest.raises(DuplicateIntent):  # a client id of the killed run is refused before the order is sent
            j.write_intent(request("k-7"))
        assert j._ilog is not None and not j._ilog.pending()  # the log starts empty
    finally:
        j.close()
    again = Journal.open(process=RUNNER, data_dir=tmp_path)  # imported once: the next open finds nothing
    try:
        assert again.stats.intents_recovered == 0 and len(_intents(tmp_path)) == 51
    finally:
        again.close()


def test_a_reader_imports_a_dead_writers_log_but_not_a_live_ones(tmp_path: Path) -> None:
    _killed_child(tmp_path, 5)
    holder = os.open(_log_path(tmp_path), os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as a live writer holds it
    try:
        Journal.open(stream=STREAM, data_dir=tmp_path).close()
        assert _intents(tmp_path) == ["before"]
    finally:
        os.close(holder)
    reader = Journal.open(stream=STREAM, data_dir=tmp_path)
    try:
        assert {o.client_id for o in reader.unresolved_orders()} >= {f"k-{i}" for i in range(5)}
    finally:
        reader.close()


def _tail(path: Path) -> tuple[IntentLog, int]:
    """The log of a killed writer, and the offset after its last valid record."""
    ilog = IntentLog.open(path)
    end = ilog.imported + sum(12 + len(p) for p in ilog.recover().payloads)
    return ilog, end


def test_a_torn_last_record_is_ignored_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _killed_child(tmp_path, 3)
    ilog, end = _tail(_log_path(tmp_path))
    try:  # killed between the body and the length word: this epoch's body, no length
        ilog._mm[end + 4 : end + 40] = ilog.epoch.to_bytes(4, "little") + b"\x13" * 32
    finally:
        ilog.close()
    with caplog.at_level(logging.WARNING, "tradebus.journal"):
        j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        assert _intents(tmp_path) == ["before", "k-0", "k-1", "k-2"]
        assert j.stats.intents_torn == 1 and j.stats.intents_corrupt == 0
        assert sum("torn last record" in r.getMessage() for r in caplog.records) == 1
        assert not list(tmp_path.glob("*.corrupt-*"))
    finally:
        j.close()


def test_a_record_killed_mid_copy_is_torn_not_corrupt(tmp_path: Path) -> None:
    """append() stores header and payload with one copy; a process killed inside it can leave the
    header (length, epoch, CRC) with only part of the payload — in any order the copy stores
    bytes. The CRC finds it: the last record is torn, everything before it imported."""
    _killed_child(tmp_path, 3)
    ilog, end = _tail(_log_path(tmp_path))
    try:
        whole = bytearray(ilog._mm[ilog.imported : ilog.imported + 4096])
        n = int.from_bytes(whole[:4], "little")
        record = bytes(whole[: 12 + n])  # k-0's record, as append() wrote it
        ilog._mm[end : end + 12] = record[:12]  # a new header of this epoch …
        ilog._mm[end + 12 + n - 8 : end + 12 + n] = record[-8:]  # … and the payload's tail only
    finally:
        ilog.close()
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        assert _intents(tmp_path) == ["before", "k-0", "k-1", "k-2"]
        assert j.stats.intents_torn == 1 and j.stats.intents_corrupt == 0
        assert not list(tmp_path.glob("*.corrupt-*"))
    finally:
        j.close()


def test_a_damaged_log_imports_its_valid_prefix_and_is_kept_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _killed_child(tmp_path, 10)
    ilog, _ = _tail(_log_path(tmp_path))
    try:
        pos = ilog.imported
        for _ in range(3):  # skip k-0 .. k-2
            pos += 12 + int.from_bytes(ilog._mm[pos : pos + 4], "little")
        ilog._mm[pos + 20] ^= 0xFF  # a flipped byte in k-3's payload
    finally:
        ilog.close()
    with caplog.at_level(logging.ERROR, "tradebus.journal"):
        j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        assert _intents(tmp_path) == ["before", "k-0", "k-1", "k-2"]
        assert j.stats.intents_corrupt == 7 and j.stats.intents_recovered == 3
        [aside] = tmp_path.glob("*.intents.corrupt-*")
        assert aside.stat().st_size == _log_path(tmp_path).stat().st_size
        assert sum("is damaged" in r.getMessage() for r in caplog.records) == 1
        j.write_intent(request("after"))  # the log works again
        assert "after" in _intents(tmp_path)
    finally:
        j.close()


async def test_a_reused_client_id_is_refused_before_send_also_across_a_restart(tmp_path: Path) -> None:
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        async with j.running():
            j.write_intent(request("once"))
            assert j._ilog is not None
            at = j._ilog.position
            with pytest.raises(DuplicateIntent):
                j.write_intent(request("once"))  # still only in the log: refused by the index
            assert j._ilog.position == at and j.stats.intent_errors == 1
    finally:
        j.close()
    again = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        async with again.running():
            with pytest.raises(DuplicateIntent):
                again.write_intent(request("once"))
            assert again.stats.intents_logged == 0
    finally:
        again.close()
    assert _intents(tmp_path) == ["once"]


async def _falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture, why: str) -> None:
    with caplog.at_level(logging.WARNING, "tradebus.journal"):
        j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        assert j.stats.intent_log == "" and why in j.stats.intent_log_fallback
        assert sum("committed to SQLite synchronously" in r.getMessage() for r in caplog.records) == 1
        async with j.running():
            j.write_intent(request("sync"))
            assert _intents(tmp_path) == ["sync"]  # committed before write_intent returned
            with pytest.raises(DuplicateIntent):
                j.write_intent(request("sync"))
    finally:
        j.close()


async def test_a_log_that_cannot_be_created_falls_back_to_the_synchronous_insert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Journal.open(process=RUNNER, data_dir=tmp_path, options=StoreOptions(intent_log=False)).close()
    _log_path(tmp_path).mkdir()  # the log's place is taken: it cannot be created
    await _falls_back(tmp_path, caplog, "cannot be opened")


async def test_a_log_in_a_read_only_directory_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: directory permissions do not stop root (the mkdir variant covers it)")
    Journal.open(process=RUNNER, data_dir=tmp_path, options=StoreOptions(intent_log=False)).close()
    con = sqlite3.connect(journal_file(STREAM, tmp_path))  # keep -wal/-shm in place for SQLite
    try:
        os.chmod(tmp_path, 0o555)
        await _falls_back(tmp_path, caplog, "cannot be opened")
    finally:
        os.chmod(tmp_path, 0o755)
        con.close()


async def test_a_log_in_use_by_another_process_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Journal.open(process=RUNNER, data_dir=tmp_path).close()
    holder = os.open(_log_path(tmp_path), os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        await _falls_back(tmp_path, caplog, "in use by another process")
    finally:
        os.close(holder)


def test_synchronous_full_keeps_the_synchronous_commit_and_makes_no_log(tmp_path: Path) -> None:
    j = Journal.open(process=RUNNER, data_dir=tmp_path, options=StoreOptions(synchronous="full"))
    try:
        assert j.stats.intent_log == "" and j.stats.intent_log_fallback == ""
        assert not _log_path(tmp_path).exists()
    finally:
        j.close()


async def test_a_full_log_commits_synchronously_and_the_log_starts_over_once_imported(tmp_path: Path) -> None:
    j = Journal.open(process=RUNNER, data_dir=tmp_path, options=StoreOptions(intent_log_size=8192))
    try:
        async with j.running():
            for i in range(60):  # one page of records (~200 bytes each), the writer not running meanwhile
                j.write_intent(request(f"a-{i}"))
            logged = j.stats.intents_logged
            assert 0 < logged < 60  # the rest committed synchronously, before their write_intent returned
            assert len(_intents(tmp_path)) == 60 - logged
            assert j._ilog is not None and j._ilog.full == 60 - logged
            await j.flush()
            assert j._ilog.position == DATA
            for r in range(30):  # many rounds through the small log: wraps each time it was imported
                for i in range(5):
                    j.write_intent(request(f"b-{r}-{i}"))
                await j.flush()
            assert j.stats.intents_logged == logged + 150 and j._ilog.resets >= 31
    finally:
        j.close()
    assert sorted(_intents(tmp_path)) == sorted(
        [f"a-{i}" for i in range(60)] + [f"b-{r}-{i}" for r in range(30) for i in range(5)]
    )


def test_records_of_an_older_epoch_are_not_imported_again(tmp_path: Path) -> None:
    ilog = IntentLog.open(tmp_path / "x.intents", 16384)
    try:
        ends = [ilog.append(f"p{i}".encode()) for i in range(3)]
        ilog.mark_imported(ends[0])
        assert ilog.imported == ends[0] and ilog.position == ends[2]
        assert ilog.recover().payloads == [b"p1", b"p2"]
        ilog.mark_imported(ends[2])  # everything: starts over
        assert ilog.position == ilog.imported == DATA
        ilog.append(b"new")
        assert ilog.recover().payloads == [b"new"]  # p1, p2 behind it belong to the old epoch
    finally:
        ilog.close()
    again = IntentLog.open(tmp_path / "x.intents", 16384)
    try:
        assert again.recover().payloads == [b"new"]
    finally:
        again.close()


def test_intent_log_path_is_per_stream(tmp_path: Path) -> None:
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        assert intent_log_path(j.target, STREAM) == _log_path(tmp_path)
    finally:
        j.close()


async def test_sqlite_locked_the_intent_waits_in_the_log_and_the_writer_reports_the_fault(tmp_path: Path) -> None:
    j = Journal.open(process=RUNNER, data_dir=tmp_path, options=StoreOptions(busy_timeout_s=0.2))
    try:
        async with j.running():
            locker = sqlite3.connect(journal_file(STREAM, tmp_path), timeout=0, isolation_level=None)
            try:
                locker.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
                j.write_intent(request("during-lock"))  # durable in the log: returns at once
                await eventually(lambda: "locked" in j.stats.fault, timeout=30, what="the writer to report the lock")
                assert j._ilog is not None and j._ilog.position > j._ilog.imported  # still only in the log
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            await asyncio.wait_for(j.flush(), 30)
            assert j.stats.fault == ""
    finally:
        j.close()
    assert _intents(tmp_path) == ["during-lock"]


def test_a_log_with_a_damaged_header_is_kept_aside_and_started_over(tmp_path: Path) -> None:
    _killed_child(tmp_path, 2)
    path = _log_path(tmp_path)
    with path.open("r+b") as f:
        f.write(b"garbage!")  # the magic
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        assert j.stats.intents_corrupt == 1 and j.stats.intents_recovered == 0
        [aside] = tmp_path.glob("*.intents.corrupt-*")
        assert aside.read_bytes()[:8] == b"garbage!"
        assert j._ilog is not None and not j._ilog.pending()
        j.write_intent(request("after"))
        assert _intents(tmp_path) == ["before", "after"]
    finally:
        j.close()


async def test_a_rehearsed_intent_changes_nothing_and_uses_no_client_id(tmp_path: Path) -> None:
    """The order path's warmer (exchange_runner/warmth.py) rehearses the intent: encoded, its
    record built, its place in the log touched — and nothing written, counted or remembered."""
    j = Journal.open(process=RUNNER, data_dir=tmp_path)
    try:
        async with j.running():
            j.write_intent(request("r-0"))
            await j.flush()
            ilog = j._ilog
            assert ilog is not None
            j.write_intent(request("r-1"), hold=True)  # one in the log, not yet imported
            position, imported, epoch = ilog.position, ilog.imported, ilog.epoch
            stats = j.stats
            log_bytes = _log_path(tmp_path).read_bytes()
            files = _files(tmp_path)
            for _ in range(50):
                j.rehearse_intent(request("r-2"))
            assert (ilog.position, ilog.imported, ilog.epoch) == (position, imported, epoch)
            assert _log_path(tmp_path).read_bytes() == log_bytes and _files(tmp_path) == files
            assert j.stats == stats
            j.write_intent(request("r-2"))  # the rehearsed client id is still free
            await j.flush()
            assert _intents(tmp_path) == ["r-0", "r-1", "r-2"]
    finally:
        j.close()
    j.rehearse_intent(request("r-3"))  # closed: nothing to rehearse, no error
