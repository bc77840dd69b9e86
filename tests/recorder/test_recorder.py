"""The recorder over real runner processes on the embedded simulator, in the suite's own Redis.

A ``record`` process records books and funding to Parquet while a subscriber in this test takes
the same events; after a clean stop the files read back with pyarrow and every recorded book is
the one the subscriber received under the same (topic, sequence number), and nothing the
recorder took before its stop is missing (the last, unflushed buffer included). After kill -9 the
files that exist read back, and a restart cleans up and records on.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from exchange_runner.localredis import LocalRedisServer
from recorder import open_channel
from recorder.store import TEMP_SUFFIX
from strategy_client import Received, ZmqRouter
from strategy_client.wire import BookEvent

from ..helpers import eventually
from ..integration.conftest import ROOT, RunnerProc, start_runner


@pytest.fixture(scope="module")
def redis_url(redis_server: LocalRedisServer) -> str:
    return redis_server.url


@pytest.fixture(scope="module")
def runner(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProc]:
    """One runner for the module (each test records into its own directory)."""
    rp = start_runner(redis_url, tmp_path_factory.mktemp("runner"), f"rec-{uuid.uuid4().hex[:6]}")
    try:
        rp.record()
        yield rp
    finally:
        rp.stop()


class RecordProc:
    def __init__(self, out: Path, redis_url: str, runner: str, log: Path, *flags: str) -> None:
        self.log = log
        fh = log.open("ab")
        args = [sys.executable, "-m", "recorder.cli", "--out", str(out), "--redis-url", redis_url, "--runner", runner]
        self.proc = subprocess.Popen(
            [*args, *flags], stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        fh.close()

    def text(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


def parquet_files(out: Path, channel: str = "") -> list[Path]:
    files = sorted(out.rglob("*.parquet"))
    return [f for f in files if f"channel={channel}" in f.parts[-3]] if channel else files


def temp_files(out: Path) -> list[Path]:
    return sorted(out.rglob(f"*{TEMP_SUFFIX}"))


class Parallel:
    """A second subscriber: the books the runner published, by (topic, seq)."""

    def __init__(self) -> None:
        self.books: dict[tuple[str, int], BookEvent] = {}

    async def run(self, redis_url: str, runner: str, ready: asyncio.Event) -> None:
        async with ZmqRouter(redis_url) as router:
            sub = await router.subscribe(kinds=("book",), runners=[runner], snapshot=False)
            async with sub:
                ready.set()
                async for item in sub:
                    if isinstance(item, Received) and isinstance(item.event, BookEvent):
                        self.books[(item.topic, item.seq)] = item.event


def read_books(out: Path) -> Any:
    return open_channel(str(out), "book").to_table()


def gaps_of(out: Path) -> list[dict[str, Any]]:
    return list(open_channel(str(out), "gaps").to_table().to_pylist())


def topic_of(row: dict[str, Any]) -> str:
    return f"ob|{row['exchange']}|{row['market']}|{row['symbol']}|"


def check_complete(rows: list[dict[str, Any]], out: Path) -> dict[str, tuple[int, int]]:
    """Per topic, every sequence number between the first and the last recorded is recorded or
    inside a recorded gap; returns topic → (first, last)."""
    seqs: dict[str, list[int]] = {}
    for row in rows:
        seqs.setdefault(topic_of(row), []).append(row["seq"])
    lost: dict[str, int] = {}
    for g in gaps_of(out):
        if g["on_channel"] == "book":
            lost[g["topic"]] = lost.get(g["topic"], 0) + g["lost"]
    spans = {}
    for topic, got in seqs.items():
        assert len(got) == len(set(got)), f"{topic}: a sequence number recorded twice"
        first, last = min(got), max(got)
        assert last - first + 1 - len(got) == lost.get(topic, 0), f"{topic}: holes not in the gaps table"
        spans[topic] = (first, last)
    return spans


async def test_clean_stop_records_what_a_subscriber_saw(runner: RunnerProc, redis_url: str, tmp_path: Path) -> None:
    out = tmp_path / "rec"
    parallel = Parallel()
    ready = asyncio.Event()
    task = asyncio.create_task(parallel.run(redis_url, runner.name, ready))
    await eventually(ready.is_set, timeout=30, what="the parallel subscriber")
    # 40 rows per file: some files are written by size; the long flush time keeps the tail of
    # every partition in memory until the stop, which must write it
    rec = RecordProc(
        out,
        redis_url,
        runner.name,
        tmp_path / "record.log",
        "--flush-rows",
        "40",
        "--flush-seconds",
        "600",
        "--status-every",
        "0.5",
    )
    try:
        await eventually(lambda: "recording to" in rec.text(), timeout=30, what="the recorder to start")
        await eventually(lambda: len(parquet_files(out, "book")) >= 3, timeout=60, what="three book files")
        # not a terminal: its progress is log lines (rows, files, rate, buffered, gaps)
        await eventually(
            lambda: re.search(r"recording: [1-9]\d* rows in [1-9]\d* files \(\d+ rows/s\), \d+ buffered", rec.text()),
            timeout=30,
            what="a progress line",
        )
        # the books advance together: stop half-way to the next 40 rows, so every partition has a tail
        n = len(parallel.books)
        await eventually(lambda: len(parallel.books) >= n + 40, timeout=60, what="40 more books")
        newest_before_stop: dict[str, int] = {}
        for topic, seq in list(parallel.books):
            newest_before_stop[topic] = max(seq, newest_before_stop.get(topic, 0))
        assert rec.stop() == 0, rec.text()
        received_at_stop = len(parallel.books)
        # the parallel subscriber has everything the recorder could have taken before its stop
        await eventually(lambda: len(parallel.books) > received_at_stop + 5, timeout=30, what="more books")
    finally:
        rec.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "stopped:" in rec.text()
    assert temp_files(out) == []
    rows = read_books(out).to_pylist()
    assert len(rows) >= 120
    # the partition layout
    for f in parquet_files(out, "book"):
        rel = f.relative_to(out).parts
        assert rel[0] == "venue=binance" and rel[1].startswith("instrument=") and rel[2] == "channel=book"
        assert rel[3].startswith("date=20") and f.name.startswith(f"{runner.name}-")
    assert {r["instrument"] for r in rows} >= {"perp.BTCUSDT"}
    spans = check_complete(rows, out)
    matched = 0
    for row in rows:
        ev = parallel.books.get((topic_of(row), row["seq"]))
        if ev is None:
            continue
        book = ev.book
        assert row["bid_px"] == [str(lv.price) for lv in book.bids]
        assert row["bid_qty"] == [str(lv.qty) for lv in book.bids]
        assert row["ask_px"] == [str(lv.price) for lv in book.asks]
        assert row["ask_qty"] == [str(lv.qty) for lv in book.asks]
        assert (row["sequence"], row["venue_ts_ms"], row["stale"]) == (book.sequence, book.venue_ts_ms, ev.stale)
        matched += 1
    assert matched >= 100
    # nothing lost at the stop: with --flush-seconds 600 a file is written by size (40 rows) or at
    # the stop, so the files of fewer rows hold the tails the stop wrote from memory; and each
    # topic is recorded up to (about) the newest book seen here before the stop signal
    tails = [f for f in parquet_files(out, "book") if pq.read_metadata(f).num_rows < 40]
    assert tails, "the stop wrote no partial buffer"
    for topic, (_, last) in spans.items():
        assert last >= newest_before_stop.get(topic, 0) - 2, (topic, last, newest_before_stop.get(topic))


async def test_kill_9_leaves_readable_files_and_a_restart_records_on(
    runner: RunnerProc, redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "rec"
    log = tmp_path / "record.log"
    flags = ("--flush-rows", "25", "--flush-seconds", "0.5")
    rec = RecordProc(out, redis_url, runner.name, log, *flags)
    try:
        await eventually(lambda: read_books(out).num_rows >= 60, timeout=60, what="60 books in files")
        killed_ns = time.time_ns()
        rec.stop(signal.SIGKILL)
    finally:
        rec.stop(signal.SIGKILL)
    before = parquet_files(out)
    for f in before:
        pq.read_table(f)  # every file that exists is complete
    rows_before = read_books(out).num_rows
    assert rows_before >= 60
    check_complete(read_books(out).to_pylist(), out)
    # at most the unflushed window is lost: with --flush-seconds 0.5 the newest recorded book is
    # recent at the kill (5 s: room for a loaded machine, far less than the 10+ s recorded)
    newest = max(r["recv_ns"] for r in read_books(out).to_pylist())
    assert killed_ns - newest < 5 * 10**9, (killed_ns - newest) / 1e9
    # what a kill in the middle of a write leaves: half a file under its temporary name
    part = before[0].parent
    half = part / f".{runner.name}-0-deadbeef{TEMP_SUFFIX}"
    half.write_bytes(before[0].read_bytes()[:100])
    assert len(temp_files(out)) >= 1
    read_books(out)  # the dataset reader skips it
    rec2 = RecordProc(out, redis_url, runner.name, log, *flags)
    try:
        await eventually(lambda: "deleted" in log.read_text(), timeout=30, what="the restart to clean up")
        await eventually(lambda: len(parquet_files(out)) > len(before) + 2, timeout=60, what="new files")
        assert rec2.stop(signal.SIGINT) == 0, log.read_text()
    finally:
        rec2.stop(signal.SIGKILL)
    assert not half.exists()
    assert temp_files(out) == []
    assert read_books(out).num_rows > rows_before


def test_bad_output_path_is_one_line_exit_2(redis_url: str, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (str(afile), str(afile / "sub"), "nosuch://bucket/x"):
        proc = subprocess.run(
            [sys.executable, "-m", "recorder.cli", "--out", out, "--redis-url", redis_url],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("record: error: ") and out in lines[0], proc.stderr


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        ((), "Missing option '--out'"),
        (("--out", "x", "--flush-rows", "0"), "--flush-rows"),
        (("--out", "x", "--flush-rows", "10", "--max-buffer-rows", "5"), "--max-buffer-rows"),
        (("--out", "x", "--bogus"), "--bogus"),
    ],
)
def test_bad_args_are_one_line_exit_2(flags: tuple[str, ...], says: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "recorder.cli", *flags], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("record: error: ") and says in lines[0], proc.stderr


def test_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "recorder.cli", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0
    doc = (ROOT / "docs" / "market-data.md").read_text()
    for flag in ("--out", "--runner", "--flush-rows", "--flush-seconds", "--max-buffer-rows", "--redis-url"):
        assert flag in proc.stdout
        assert f"| `{flag}" in doc, f"{flag} is not in the flags table of docs/market-data.md"
