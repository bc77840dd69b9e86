#!/usr/bin/env python
"""Recorder throughput: the runner's book firehose → ``recorder.Recorder`` → Parquet files, with
the writer's own floor measured in the same run.

    python scripts/bench_recorder.py [--rates 5000,20000] [--seconds 10] [--json PATH]

The offline Binance venue (its own process) sends partial-depth frames at ``rate``/s over the
runner's subscribed books (BTCUSDT, ETHUSDT spot and perp); the runner (its own process) turns
them into ``ob`` events; a recorder in this process (uvloop) writes them to a temporary local
directory with the default settings (100,000 rows per file, zstd). For each rate, from the
firehose's start until the recorder has written everything after its stop:

* ``received_per_s``: events the recorder's subscription took per second;
* ``rows_per_s``, ``mb_per_s``: rows and Parquet bytes in complete files per second (the final
  flush at the stop included);
* ``bytes_per_row``: file size per book row (5 levels a side, decimals as strings, zstd);
* ``lost`` (holes in the recorded sequence numbers, as in the gaps channel) and ``dropped`` (by
  the subscription's queue): 0 when the recorder kept up.

``floor``: the writer alone — rows as the recorder buffers them (Python tuples), written by the
same ``ParquetStore.write`` (tuples → Arrow columns → zstd Parquet → rename), rows/s and MB/s; and
``arrow_only``: an Arrow table already built, ``pyarrow.parquet.write_table`` alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow.compute as pc
import pyarrow.parquet as pq
import redis
from bench import run_loop
from bench_bridge import wait_until
from benchlib.machine import machine_facts
from benchlib.procs import Children
from benchlib.simctl import SimControl

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair
from recorder import SCHEMAS, ParquetStore, Recorder, RecorderConfig, open_channel
from recorder.rows import Part
from strategy_client import Received
from strategy_client.model import BookLevel, Exchange, InstrumentKey, MarketKind, OrderBook
from strategy_client.wire import BookEvent, TopicKind, decode_record, runner_key

RUNNER = "bench-recorder"


def log(msg: str) -> None:
    print(f"[bench_recorder] {msg}", file=sys.stderr, flush=True)


async def record(redis_url: str, out: Path, ctl: SimControl, rate: int, seconds: float) -> dict[str, Any]:
    rec = Recorder(RecorderConfig(out=str(out), redis_url=redis_url, runners=(RUNNER,)))
    stop = asyncio.Event()
    task = asyncio.create_task(rec.run(stop))
    await rec.ready.wait()
    sub = rec.subscription
    assert sub is not None
    while not sub.stats()["runners"]:  # noqa: ASYNC110 - polls the subscription's own counters
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the SUB socket's subscriptions reach the runner
    received0 = sub.stats()["received"]
    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.to_thread(ctl.firehose, rate=rate, max_burst_s=0.25)
    await asyncio.sleep(seconds)
    fh = await asyncio.to_thread(ctl.firehose_state)
    await asyncio.to_thread(ctl.firehose, rate=0)
    received1 = sub.stats()["received"]
    t_fh = time.perf_counter()
    # everything the runner sent arrives (the queue empties), then the stop writes it all
    while sub.stats()["queued"] or rec.buffered + rec.stats.rows < received1 - received0:
        if time.perf_counter() - t_fh > 30:
            break
        await asyncio.sleep(0.01)
    stats_sub = sub.stats()
    stop.set()
    await task
    dt = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    st = rec.stats
    return {
        "rate": rate,
        "achieved_rate": fh.get("achieved_rate"),
        "seconds": round(dt, 2),
        "received_per_s": round((stats_sub["received"] - received0) / dt),
        "rows": st.rows,
        "rows_per_s": round(st.rows / dt),
        "mb_per_s": round(st.bytes / dt / 1e6, 3),
        "bytes_per_row": round(st.bytes / max(1, st.rows), 1),
        "files": st.files,
        "by_channel": dict(st.by_channel),
        "lost": st.lost,
        "dropped": stats_sub["dropped"],
        "recorder_cores": round(cpu / dt, 2),  # this process (subscription, rows, writer threads)
        "recorder_cpu_us_per_row": round(cpu / max(1, st.rows) * 1e6, 1),
    }


def take_only(items: list[Received]) -> float:
    """Recorder.take alone (sequence check, row tuple, buffer) on decoded events: items/s."""
    with tempfile.TemporaryDirectory(prefix="bench-recorder-take-") as tmp:
        rec = Recorder(RecorderConfig(out=tmp, flush_rows=len(items), max_buffer_rows=len(items)))
        t0 = time.perf_counter()
        for item in items:
            rec.take(item)
        return len(items) / (time.perf_counter() - t0)


def sample_items(table: Any, n: int) -> list[Received]:
    """``n`` book events rebuilt from recorded rows (consecutive sequence numbers per topic)."""
    out = []
    rows = table.to_pylist()
    for i in range(n):
        r = rows[i % len(rows)]
        key = InstrumentKey(Exchange(r["exchange"]), r["symbol"], MarketKind(r["market"]))
        levels = {
            s: tuple(BookLevel(Decimal(p), Decimal(q)) for p, q in zip(r[f"{s}_px"], r[f"{s}_qty"], strict=True))
            for s in ("bid", "ask")
        }
        book = OrderBook(
            key=key, bids=levels["bid"], asks=levels["ask"], venue_ts_ms=r["venue_ts_ms"], local_ts_ns=r["local_ts_ns"]
        )
        out.append(
            Received(
                runner="floor",
                topic=f"ob|{r['exchange']}|{r['market']}|{r['symbol']}|",
                kind=TopicKind.BOOK,
                exchange=key.exchange,
                key=key,
                seq=i + 1,
                sent_ns=r["sent_ns"],
                recv_ns=r["recv_ns"],
                event=BookEvent(book=book),
            )
        )
    return out


def floor(sample_dir: Path, rows: int) -> dict[str, Any]:
    table = open_channel(str(sample_dir), "book").to_table().select(SCHEMAS["book"].names)
    sample = [tuple(r.values()) for r in table.to_pylist()]
    data = (sample * (rows // max(1, len(sample)) + 1))[:rows]
    take_per_s = take_only(sample_items(table.filter(pc.field("symbol") == "BTCUSDT"), min(rows, 100_000)))
    with tempfile.TemporaryDirectory(prefix="bench-recorder-floor-") as tmp:
        store = ParquetStore(tmp)
        store.open()
        part = Part("floor", "binance", "perp.BTCUSDT", "book")
        t0 = time.perf_counter()
        path, size = store.write(part, "2026-01-01", SCHEMAS["book"], data, 0)
        dt = time.perf_counter() - t0
        arrow = pq.read_table(path)
        t1 = time.perf_counter()
        pq.write_table(arrow, f"{tmp}/arrow-only.parquet", compression="zstd", row_group_size=100_000)
        dt_arrow = time.perf_counter() - t1
    return {
        "rows": rows,
        "rows_per_s": round(rows / dt),
        "mb_per_s": round(size / dt / 1e6, 3),
        "take_only_per_s": round(take_per_s),
        "arrow_only": {"rows_per_s": round(rows / dt_arrow), "mb_per_s": round(size / dt_arrow / 1e6, 3)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="5000,20000", help="offered book events/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="firehose seconds per rate")
    parser.add_argument("--floor-rows", type=int, default=200_000, help="rows of the writer-alone floor")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",") if r]
    results: dict[str, Any] = {"machine": machine_facts(), "recorder": [], "floor": {}}
    with tempfile.TemporaryDirectory(prefix="bench-recorder-") as tmp:
        workdir = Path(tmp)
        server = LocalRedisServer()
        server.start()
        try:
            with Children(workdir) as kids:
                port = free_port_pair()
                sim = kids.start("sim", ["-m", "benchlib.simproc", "--port-base", str(port)])
                sim.wait_for("ready", 60)
                ctl = SimControl(f"http://127.0.0.1:{port}")
                runner_args = ["-m", "exchange_runner.cli", "binance", "--sim-connect", f"127.0.0.1:{port}"]
                runner_args += ["--redis-url", server.url, "--name", RUNNER, "--symbols", "BTCUSDT,ETHUSDT"]
                kids.start("runner", [*runner_args, "--log-level", "WARNING"], env={"TRADEBUS_DATA_DIR": tmp})
                rds = redis.Redis.from_url(server.url)
                wait_until(
                    lambda: (
                        isinstance(raw := rds.get(runner_key(RUNNER)), bytes) and decode_record(raw).status == "ready"
                    ),
                    60,
                    "the runner",
                )
                ctl.firehose(rate=0)  # periodic frames paused: the recorder sees firehose frames only
                for rate in rates:
                    out = workdir / f"rec-{rate}"
                    log(f"{rate} book events/s for {args.seconds:.0f} s → {out}")
                    res = run_loop(partial(record, server.url, out, ctl, rate, args.seconds))
                    results["recorder"].append(res)
                    log(f"  {res}")
                log(f"floor: the writer alone, {args.floor_rows} rows")
                results["floor"] = floor(workdir / f"rec-{rates[0]}", args.floor_rows)
        finally:
            server.stop()
    print(f"{'rate':>7} {'recv/s':>8} {'rows/s':>8} {'MB/s':>7} {'B/row':>6} {'lost':>6} {'dropped':>8}")
    for r in results["recorder"]:
        print(
            f"{r['rate']:>7} {r['received_per_s']:>8} {r['rows_per_s']:>8} {r['mb_per_s']:>7} "
            f"{r['bytes_per_row']:>6} {r['lost']:>6} {r['dropped']:>8}"
        )
    fl = results["floor"]
    print(
        f"floor: ParquetStore.write {fl['rows_per_s']} rows/s ({fl['mb_per_s']} MB/s); "
        f"Arrow table → Parquet alone {fl['arrow_only']['rows_per_s']} rows/s ({fl['arrow_only']['mb_per_s']} MB/s); "
        f"Recorder.take alone {fl['take_only_per_s']} events/s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
