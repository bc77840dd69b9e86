#!/usr/bin/env python
"""Benchmark the journal's write costs (a script, not a test).

    .venv/bin/python scripts/bench_journal.py [--intents 5000] [--repeats 3] [--appends 20000]
        [--paced 300] [--pace-ms 40] [--only-paced] [--pg postgresql://127.0.0.1:5432/test] [--json PATH]

Cases, each call timed on its own with ``perf_counter_ns`` (p50/p90/p99/mean in µs, best p50 of
the repeats reported with its p90/p99):

* ``sqlite_raw_floor``: a bare ``sqlite3`` INSERT + COMMIT of the same row into a table of the
  same shape (WAL, synchronous=NORMAL, autocommit: one statement is one transaction) — the floor;
* ``sqlite_write_intent``: :meth:`Journal.write_intent` on the default SQLite journal with no
  writer running — the synchronous commit (the path of synchronous=full, of a journal whose
  intent log could not be created, and of every intent before the intent log);
* ``pg_write_intent`` / ``pg_write_intent_async_commit``: the same on PostgreSQL
  (synchronous_commit on, the default; and off);
* ``sqlite_paired``: one bare insert and one ``write_intent`` alternately, call by call, so
  both see the same load (this machine is shared): the median per-pair difference is the
  journal's added cost over the floor;
* ``sqlite_write_intent_writer_busy``: ``write_intent`` while the writer commits a fill per
  intent in the background (the writer runs: the intent goes through the intent log);
* ``*_writer``: records per second through the writer task (``append`` of fills, then ``flush``);
* ``sqlite_raw_floor_paced``, ``sqlite_write_intent_paced``, ``pg_write_intent_paced``: the same
  calls one every ``--pace-ms`` (40: the tick-to-order bench's trigger interval), as the order path
  makes them — between two orders the process sleeps and its caches go cold, so a call costs
  several times its back-to-back figure (``docs/performance.md``). ``--no-journal`` skips
  ``write_intent`` and nothing else on the order path, so the paced ``write_intent`` p50 is the
  journal's added cost per order measured in-process. ``sqlite_write_intent_paced`` is the
  synchronous commit (``StoreOptions(intent_log=False)``);
* ``sqlite_write_intent_log_paced``: ``write_intent`` one every ``--pace-ms`` with the writer
  running (a task of the same loop, importing each intent during the pause): the intent log's
  path, the runner's default; ``mmap_memcpy_floor_paced``: its raw floor, the same-size copy
  into a pre-touched shared mapping plus the length word, paced the same way.

The first 200 calls of each run (20 of a paced run) warm up and are not counted. PostgreSQL
schemas are created and dropped by the script; without a reachable server those cases are
skipped and say why.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import platform
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from strategy_client.journal import FillRecord, Journal, ProcessInfo, StoreOptions
from strategy_client.model import Fill, InstrumentKey, OrderRequest, OrderType, Side

KEY = InstrumentKey.parse("binance:perp:BTCUSDT")
WARMUP = 200


def requests(n: int, tag: str) -> list[OrderRequest]:
    return [
        OrderRequest(
            key=KEY,
            side=Side.BUY if i % 2 else Side.SELL,
            type=OrderType.LIMIT,
            qty=Decimal("0.010"),
            price=Decimal("50000.10") + i,
            client_id=f"{tag}{i:07d}",
        )
        for i in range(n)
    ]


def timed(calls: list[Callable[[], Any]], pace_s: float = 0.0, warmup: int = WARMUP) -> dict[str, float]:
    """Each call timed on its own; ``pace_s``: sleep that long before each (not timed), as an
    order path waits between orders (its code and data go cold meanwhile)."""
    ns: list[int] = []
    clock = time.perf_counter_ns
    for i, call in enumerate(calls):
        if pace_s:
            time.sleep(pace_s)
        t0 = clock()
        call()
        dt = clock() - t0
        if i >= warmup:
            ns.append(dt)
    return summary(ns)


def summary(ns: list[int]) -> dict[str, float]:
    ns = sorted(ns)
    return {
        "p50_us": ns[len(ns) // 2] / 1000,
        "p90_us": ns[int(len(ns) * 0.90)] / 1000,
        "p99_us": ns[int(len(ns) * 0.99)] / 1000,
        "mean_us": statistics.fmean(ns) / 1000,
        "n": len(ns),
    }


def best(runs: list[dict[str, float]]) -> dict[str, Any]:
    top = min(runs, key=lambda r: r["p50_us"])
    return {**top, "p50_us_runs": [round(r["p50_us"], 2) for r in runs]}


_FLOOR_SQL = (
    "INSERT INTO order_intents (stream, run_id, client_id, ts_ns, key, side, type, tif, qty, price, reduce_only, "
    "origin, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _floor_db(tmp: Path) -> sqlite3.Connection:
    path = tmp / f"raw-{uuid.uuid4().hex}.sqlite3"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "CREATE TABLE order_intents (id INTEGER PRIMARY KEY, stream TEXT, run_id TEXT, client_id TEXT, ts_ns INTEGER, "
        "key TEXT, side TEXT, type TEXT, tif TEXT, qty TEXT, price TEXT, reduce_only BOOLEAN, origin TEXT, "
        "request BLOB, UNIQUE (stream, client_id))"
    )
    return con


def raw_floor(tmp: Path, n: int, pace_s: float = 0.0, warmup: int = WARMUP) -> dict[str, float]:
    con = _floor_db(tmp)
    blob = b"\x00" * 90
    rows = [
        (
            "runner:binance:main",
            "r",
            f"c{i:07d}",
            time.time_ns(),
            "binance:perp:BTCUSDT",
            "buy",
            "limit",
            "gtc",
            "0.010",
            "50000.10",
            False,
            "",
            blob,
        )
        for i in range(n)
    ]
    try:
        return timed([partial(con.execute, _FLOOR_SQL, r) for r in rows], pace_s, warmup)
    finally:
        con.close()


def paired(tmp: Path, journal: Journal, n: int) -> dict[str, float]:
    """Alternate one bare insert and one write_intent, so both see the same moment's machine load;
    the per-pair difference's median is the journal's added cost."""
    con = _floor_db(tmp)
    blob = b"\x00" * 90
    reqs = requests(n, uuid.uuid4().hex[:8])
    write = journal.write_intent
    clock = time.perf_counter_ns
    raw_ns, jr_ns, diff = [], [], []
    for i, req in enumerate(reqs):
        row = (
            "runner:binance:main",
            "r",
            req.client_id,
            time.time_ns(),
            "binance:perp:BTCUSDT",
            "buy",
            "limit",
            "gtc",
            "0.010",
            "50000.10",
            False,
            "",
            blob,
        )
        t0 = clock()
        con.execute(_FLOOR_SQL, row)
        t1 = clock()
        write(req)
        t2 = clock()
        if i >= WARMUP:
            raw_ns.append(t1 - t0)
            jr_ns.append(t2 - t1)
            diff.append((t2 - t1) - (t1 - t0))
    con.close()
    return {
        "raw_p50_us": statistics.median(raw_ns) / 1000,
        "journal_p50_us": statistics.median(jr_ns) / 1000,
        "added_p50_us": statistics.median(diff) / 1000,
        "n": len(diff),
    }


def journal_intents(journal: Journal, n: int, pace_s: float = 0.0, warmup: int = WARMUP) -> dict[str, float]:
    reqs = requests(n, uuid.uuid4().hex[:8])
    write = journal.write_intent
    return timed([partial(write, r) for r in reqs], pace_s, warmup)


PACED_WARMUP = 20


def logged_intents(journal: Journal, n: int, pace_s: float, warmup: int) -> dict[str, float]:
    """write_intent through the intent log: the writer runs (a task of the same loop) and imports
    each intent into SQLite during the pause, as in a runner; only write_intent is timed."""
    reqs = requests(n, uuid.uuid4().hex[:8])

    async def run() -> dict[str, float]:
        ns: list[int] = []
        clock = time.perf_counter_ns
        write = journal.write_intent
        async with journal.running():
            for i, req in enumerate(reqs):
                await asyncio.sleep(pace_s)
                t0 = clock()
                write(req)
                dt = clock() - t0
                if i >= warmup:
                    ns.append(dt)
            await journal.flush()
        if journal.stats.intents_logged != n:
            raise SystemExit(f"{journal.stats.intents_logged} of {n} intents went through the log: {journal.stats}")
        return summary(ns)

    return asyncio.run(run())


def mmap_floor(tmp: Path, n: int, pace_s: float, warmup: int) -> dict[str, float]:
    """The raw floor of the intent log: copy an intent-sized payload into a pre-touched shared
    mapping and write its length word (what IntentLog.append does, without encoding or CRC)."""
    path = tmp / f"floor-{uuid.uuid4().hex}.map"
    path.write_bytes(b"\0" * (4 << 20))
    fd = os.open(path, os.O_RDWR)
    try:
        mm = mmap.mmap(fd, 4 << 20)
        payload = b"\x5a" * 230  # an encoded intent row is about this size
        size = len(payload)

        def copy() -> None:
            mm[4108 : 4108 + size] = payload
            struct.pack_into("<I", mm, 4096, size)

        try:
            return timed([copy] * n, pace_s, warmup)
        finally:
            mm.close()
    finally:
        os.close(fd)


def paced_cases(tmp: Path, pg: str | None, n: int, pace_ms: float) -> dict[str, Any]:
    """The order path's regime: one intent every ``pace_ms`` (the tick-to-order bench triggers
    every 40 ms), bare insert and write_intent alternated run by run. With ``--no-journal`` the
    runner skips write_intent and nothing else, so its paced p50 is the journal's cost per order."""
    pace_s = pace_ms / 1000
    out: dict[str, Any] = {}
    floors, intents, pgs, logged, copies = [], [], [], [], []
    schema = "bench_" + uuid.uuid4().hex[:10]
    sync = StoreOptions(intent_log=False)
    try:
        for r in range(2):
            floors.append(raw_floor(tmp, n + PACED_WARMUP, pace_s, PACED_WARMUP))
            j = Journal.open(process=ProcessInfo(role="bench", name=f"sqlite-paced-{r}"), data_dir=tmp, options=sync)
            intents.append(journal_intents(j, n + PACED_WARMUP, pace_s, PACED_WARMUP))
            j.close()
            copies.append(mmap_floor(tmp, n + PACED_WARMUP, pace_s, PACED_WARMUP))
            j = Journal.open(process=ProcessInfo(role="bench", name=f"sqlite-log-paced-{r}"), data_dir=tmp)
            logged.append(logged_intents(j, n + PACED_WARMUP, pace_s, PACED_WARMUP))
            j.close()
            if pg is not None:
                j = Journal.open(f"{pg}?schema={schema}", process=ProcessInfo(role="bench", name=f"pg-paced-{r}"))
                pgs.append(journal_intents(j, n + PACED_WARMUP, pace_s, PACED_WARMUP))
                j.close()
    finally:
        if pg is not None:
            drop_schema(pg, schema)
    out["sqlite_raw_floor_paced"] = best(floors)
    out["sqlite_write_intent_paced"] = best(intents)
    out["mmap_memcpy_floor_paced"] = best(copies)
    out["sqlite_write_intent_log_paced"] = best(logged)
    if pgs:
        out["pg_write_intent_paced"] = best(pgs)
    return out


def writer_rate(journal: Journal, n: int) -> dict[str, float]:
    fills = [
        Fill(
            key=KEY,
            client_id=f"c{i}",
            venue_id=f"v{i}",
            trade_id=f"t{i}",
            side=Side.BUY,
            price=Decimal("50000.1"),
            qty=Decimal("0.001"),
            fee=Decimal("0.02"),
            fee_asset="USDT",
            is_maker=False,
            ts_ms=i,
        )
        for i in range(n)
    ]

    async def run() -> float:
        async with journal.running():
            t0 = time.perf_counter()
            for f in fills:
                await journal.append(FillRecord(fill=f))
            await journal.flush()
            return time.perf_counter() - t0

    seconds = asyncio.run(run())
    return {
        "records": n,
        "seconds": round(seconds, 4),
        "records_per_s": round(n / seconds),
        "batches": journal.stats.batches,
    }


def intents_under_writer(journal: Journal, n: int) -> dict[str, float]:
    """write_intent while another task keeps the writer busy appending fills (one per intent):
    the writer runs, so the intent goes through the intent log and the writer inserts it with
    the fills."""
    reqs = requests(n, uuid.uuid4().hex[:8])

    async def run() -> dict[str, float]:
        async with journal.running():
            ns: list[int] = []
            clock = time.perf_counter_ns
            for i, req in enumerate(reqs):
                await journal.append(
                    FillRecord(
                        fill=Fill(
                            key=KEY,
                            client_id=req.client_id,
                            venue_id="v",
                            trade_id=f"t{i}",
                            side=Side.BUY,
                            price=Decimal("50000.1"),
                            qty=Decimal("0.001"),
                            fee=Decimal("0.02"),
                            fee_asset="USDT",
                            is_maker=False,
                            ts_ms=i,
                        )
                    )
                )
                t0 = clock()
                journal.write_intent(req)
                ns.append(clock() - t0)
                await asyncio.sleep(0)  # let the writer hand its batch to the thread
            return summary(ns[WARMUP:])

    return asyncio.run(run())


def pg_reachable(url: str) -> str:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, OSError) as exc:
        return f"PostgreSQL at {url} unreachable: {exc}"
    return ""


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=int, default=5000, help="timed write_intent calls per run (SQLite)")
    parser.add_argument("--pg-intents", type=int, default=2000, help="timed write_intent calls per run (PostgreSQL)")
    parser.add_argument("--appends", type=int, default=20000, help="records through the writer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("TRADEBUS_TEST_PG", "postgresql://127.0.0.1:5432/test"))
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--paced", type=int, default=300, help="paced write_intent calls per run, one every --pace-ms (0: none)"
    )
    parser.add_argument("--pace-ms", type=float, default=40.0, help="pause before each paced call (40)")
    parser.add_argument("--only-paced", action="store_true", help="the paced cases only")
    args = parser.parse_args()

    result: dict[str, Any] = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cases": {},
    }
    cases: dict[str, Any] = result["cases"]
    reason = pg_reachable(args.pg)
    if args.paced:
        result["pace_ms"] = args.pace_ms
        with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmpdir:
            cases.update(paced_cases(Path(tmpdir), None if reason else args.pg, args.paced, args.pace_ms))
    if args.only_paced:
        if reason:
            cases["pg_skipped"] = reason
        report(result, args.json)
        return
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmpdir:
        tmp = Path(tmpdir)
        floors, intents = [], []
        for r in range(args.repeats):  # interleaved, so both see the same machine load
            floors.append(raw_floor(tmp, args.intents + WARMUP))
            j = Journal.open(process=ProcessInfo(role="bench", name=f"sqlite-{r}"), data_dir=tmp)
            intents.append(journal_intents(j, args.intents + WARMUP))
            j.close()
        cases["sqlite_raw_floor"] = best(floors)
        cases["sqlite_write_intent"] = best(intents)
        cases["sqlite_added_over_floor_p50_us"] = round(
            cases["sqlite_write_intent"]["p50_us"] - cases["sqlite_raw_floor"]["p50_us"], 2
        )
        j = Journal.open(process=ProcessInfo(role="bench", name="sqlite-paired"), data_dir=tmp)
        cases["sqlite_paired"] = paired(tmp, j, args.intents + WARMUP)
        j.close()
        j = Journal.open(process=ProcessInfo(role="bench", name="sqlite-writer"), data_dir=tmp)
        cases["sqlite_writer"] = writer_rate(j, args.appends)
        j.close()
        j = Journal.open(process=ProcessInfo(role="bench", name="sqlite-busy"), data_dir=tmp)
        busy = intents_under_writer(j, args.intents + WARMUP)
        cases["sqlite_write_intent_writer_busy"] = {**busy, "p50_us_runs": [round(busy["p50_us"], 2)]}
        j.close()

    if reason:
        cases["pg_skipped"] = reason
    else:
        for label, sync in (("pg_write_intent", "on"), ("pg_write_intent_async_commit", "off")):
            schema = "bench_" + uuid.uuid4().hex[:10]
            try:
                runs = []
                for r in range(args.repeats):
                    j = Journal.open(
                        f"{args.pg}?schema={schema}",
                        process=ProcessInfo(role="bench", name=f"pg-{r}"),
                        options=StoreOptions(pg_synchronous_commit=sync),
                    )
                    runs.append(journal_intents(j, args.pg_intents + WARMUP))
                    j.close()
                cases[label] = best(runs)
                if sync == "on":
                    j = Journal.open(f"{args.pg}?schema={schema}", process=ProcessInfo(role="bench", name="pg-writer"))
                    cases["pg_writer"] = writer_rate(j, args.appends)
                    j.close()
            finally:
                drop_schema(args.pg, schema)
    report(result, args.json)


def report(result: dict[str, Any], path: Path | None) -> None:
    for name, value in result["cases"].items():
        if isinstance(value, dict) and "p50_us" in value:
            print(
                f"{name:32s} p50 {value['p50_us']:9.2f} µs   p90 {value.get('p90_us', 0):9.2f} µs"
                f"   p99 {value['p99_us']:9.2f} µs"
                f"   (p50 runs {value['p50_us_runs']})"
            )
        elif isinstance(value, dict) and "added_p50_us" in value:
            print(
                f"{name:32s} bare {value['raw_p50_us']:.2f} µs, write_intent {value['journal_p50_us']:.2f} µs, "
                f"added (median of per-pair differences) {value['added_p50_us']:.2f} µs"
            )
        elif isinstance(value, dict):
            print(
                f"{name:32s} {value['records_per_s']:>9} records/s  ({value['records']} in {value['seconds']} s, "
                f"{value['batches']} batches)"
            )
        else:
            print(f"{name:32s} {value}")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
