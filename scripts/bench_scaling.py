#!/usr/bin/env python
"""How the runner's cost grows with instruments (1, 4, 16, 64 books) and subscribers (1, 4, 16).

    python scripts/bench_scaling.py [--quick] --json PATH [--rate 5000] [--books 1,4,16,64]
        [--subscribers 1,4,16] [--no-max] [--workdir DIR]

The processes of ``scripts/bench.py`` (its ``Bench`` and ``benchlib`` helpers): a private Redis,
the offline Binance venue (``benchlib.simproc --extra-symbols 62``: BTCUSDT, ETHUSDT and
``SYM001USDT`` … ``SYM062USDT``), one runner and lean subscribers (``benchlib.sink``). For each
book count N the runner is started with ``--symbols`` = the first N of BTCUSDT, ETHUSDT,
SYM001USDT, … and ``--kinds perp`` (**perpetuals only: N symbols = N books**), one subscriber
attached; the venue's bench firehose then sends ``--rate`` depth updates/s **in total**, round
robin over the runner's N partial-depth streams, for ``--window`` seconds. Per step it reports:

* ``runner_us_per_update`` — the runner's CPU (user + system, from /proc) over the window ÷ the
  updates the venue sent it;
* ``delivered_per_s`` — updates the subscriber received ÷ window (they are counted until the
  backlog drains), ``lost`` (sent − received), of which ``quality_rejected`` (books the
  runner's own market-data quality control dropped, e.g. ``zscore``: the firehose repeats the
  engine's book between its 100 ms steps, so a step's move stands out; ``runner_dropped`` by
  check, from the runner's /metrics), ``gaps`` (sequence jumps the subscriber saw),
  ``venue_dropped`` (frames the venue dropped on a slow reader);
* ``runner_rss_mb`` after the step, ``books_seen`` (distinct book topics the subscriber got);
* ``max_sustained_per_s`` (unless ``--no-max``; never with ``--quick``) — the best rate of a
  short ramp (×1.5 from 10 000/s, then one step halfway back, 3 s windows) that passed ``bench.py``'s ingest criteria:
  nothing lost but quality-control rejections, nothing dropped in the runner's queues, no gap,
  backlog drained within 1 s. Short windows: an upper estimate of what 30 s would hold.
  ``max_ended_by``: ``venue_limited`` when the venue could not send the next rate (the best is
  then a floor set by the load generator and the machine, printed with ``(venue)``).

Then at 16 books, 1, 4 and 16 subscribers (extra ``benchlib.sink`` processes on the same PUB)
at the same rate: the runner's CPU per update and the least any subscriber received
(``extra_subscribers_seq_lost``: sequence numbers the extra subscribers saw skipped).

The full run takes about five minutes; ``--quick`` (1 s windows, no ramp, no subscriber steps)
well under one and only checks the harness. Numbers and method: docs/performance.md, "Cost by
instruments and subscribers".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from bench import Bench, Params, log
from benchlib.machine import machine_facts
from benchlib.procs import Child, ChildFailed, Children
from benchlib.simctl import SimControl

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair
from exchanges.binance.sim.synthetic import extra_symbol_name

BOOKS = (1, 4, 16, 64)
SUBSCRIBERS = (1, 4, 16)
SUBSCRIBER_BOOKS = 16


@dataclass(frozen=True)
class ScalingParams:
    rate: int = 5000
    window_s: float = 8.0
    books: tuple[int, ...] = BOOKS
    subscribers: tuple[int, ...] = SUBSCRIBERS
    find_max: bool = True
    max_start: int = 10_000
    max_factor: float = 1.5
    max_steps: int = 5
    max_window_s: float = 3.0
    max_bisect: int = 1

    @classmethod
    def quick(cls) -> ScalingParams:
        return cls(window_s=1.0, subscribers=(), find_max=False)


def symbols_for(books: int) -> list[str]:
    """The first ``books`` of BTCUSDT, ETHUSDT, SYM001USDT, SYM002USDT, …"""
    names = ["BTCUSDT", "ETHUSDT", *(extra_symbol_name(i) for i in range(1, max(0, books - 2) + 1))]
    return names[:books]


class ScalingBench(Bench):
    """``Bench`` on a venue listing ``extra`` synthetic pairs, runners on N perpetuals."""

    def start_venue(self, extra: int) -> None:
        port = self.port = free_port_pair()
        log(f"starting the offline Binance venue on ports {port}-{port + 1} with {extra} extra symbols")
        self.sim = self.kids.start(
            "sim", ["-m", "benchlib.simproc", "--port-base", str(port), "--extra-symbols", str(extra)]
        )
        self.sim.wait_for("ready", 60)
        self.ctl = SimControl(f"http://127.0.0.1:{port}")

    def start_books_runner(self, books: int) -> None:
        """The runner on the first ``books`` perpetuals (the later ``--symbols`` wins over
        ``Bench.start_runner``'s own), the periodic frames on so a new subscriber sees books."""
        self.ctl.firehose_off()
        self.start_runner("--symbols", ",".join(symbols_for(books)), "--kinds", "perp")

    def runner_dropped(self) -> dict[str, int]:
        """What the runner itself dropped so far (its /metrics): ``queue`` — items its queues'
        drop-oldest policy discarded (a newer book supersedes an unread one); ``quality:<check>``
        — market-data items its quality control rejected, by check (``stale``: the book's venue
        timestamp was older than the limit when the runner got to it)."""
        text = httpx.get(f"{self.metrics_url}/metrics", timeout=5).text
        out: dict[str, int] = {"queue": 0}
        for value in re.findall(r"^tradebus_queue_dropped_total\{[^}]*\} (\S+)$", text, re.MULTILINE):
            out["queue"] += int(float(value))
        for check, value in re.findall(
            r'^tradebus_quality_rejected_total\{[^}]*check="([^"]+)"[^}]*\} (\S+)$', text, re.MULTILINE
        ):
            out[f"quality:{check}"] = out.get(f"quality:{check}", 0) + int(float(value))
        return out

    def step(self, sink: Child, extra_sinks: list[Child], rate: int, window_s: float) -> dict[str, Any]:
        """One firehose window at ``rate`` (``Bench._ingest_step``) with the runner's CPU per
        update, its RSS after, and what every extra subscriber received."""
        streams = len(self.ctl.firehose(rate=0)["streams"])  # periodic books paused: firehose frames only
        for s in extra_sinks:
            self._settle(s)
        before = [s.request("stats") for s in extra_sinks]
        dropped0 = self.runner_dropped()
        out = self._ingest_step(sink, rate, window_s)
        # the drain waits for ``sent`` updates, or 1.5 s without one: books quality control
        # rejected never come, so the drain ended at the subscriber's last update (idle since)
        idle = sink.request("stats")["idle_s"] or 0.0
        out["drain_raw_s"], out["drain_s"] = out["drain_s"], round(max(0.0, out["drain_s"] - idle), 3)
        received, seq_lost = [out["received"]], 0
        for s, start in zip(extra_sinks, before, strict=True):
            stats, _ = self._drain(s, out["sent"], start)
            received.append(stats["received"] - start["received"])
            seq_lost += stats["lost"] - start["lost"]
        dropped1 = self.runner_dropped()
        dropped = {k: v - dropped0.get(k, 0) for k, v in dropped1.items() if v - dropped0.get(k, 0)}
        rejected = sum(v for k, v in dropped.items() if k.startswith("quality:"))
        runner_cores = out["cpu_cores"].get("runner", 0.0)
        sent = out["sent"]
        if out["verdict"] != "venue_limited":
            # bench.py's criteria, except that a book the runner's quality control rejected is not lost
            ok = out["lost"] == rejected and not dropped.get("queue") and out["gaps"] == 0
            out["verdict"] = "pass" if ok and out["drain_s"] <= self.p.max_drain_s else "fail"
        return {
            **out,
            "quality_rejected": rejected,
            "depth_streams": streams,
            "delivered_per_s": round(out["received"] / out["window_s"]) if out["window_s"] else 0,
            "least_received": min(received),
            "extra_subscribers_seq_lost": seq_lost,
            "runner_dropped": dropped,
            "runner_cores": runner_cores,
            "runner_us_per_update": round(runner_cores * out["window_s"] / sent * 1e6, 1) if sent else None,
            "runner_rss_mb": round(self.runner.rss_mb(), 1),
            "books_seen": sink.request("stats")["topics"],
        }

    def max_sustained(self, sink: Child, sp: ScalingParams) -> tuple[int, str, list[dict[str, Any]]]:
        """The best passing rate of a short ramp (×``max_factor`` until a step fails, then
        ``max_bisect`` steps halfway between the last pass and the failure); also what ended it:
        ``fail`` (the runner's side lost updates or fell behind), ``venue_limited`` (the venue could
        not send the rate: the best is then a floor, not the runner's limit) or ``none``."""
        ramp: list[dict[str, Any]] = []

        def passes(rate: int) -> bool:
            step = self.step(sink, [], rate, sp.max_window_s)
            keys = ("rate", "achieved_rate", "lost", "quality_rejected", "gaps", "venue_dropped", "drain_s", "verdict")
            ramp.append(
                {**{k: step[k] for k in keys}, "cpu_cores": step["cpu_cores"], "runner": step["runner_dropped"]}
            )
            log(f"  max ramp {rate}/s: {step['verdict']} (lost {step['lost']}, drain {step['drain_s']}s)")
            return bool(step["verdict"] == "pass")

        best, failed, rate = 0, 0, sp.max_start
        for _ in range(sp.max_steps):
            if not passes(rate):
                failed = rate
                break
            best, rate = rate, int(rate * sp.max_factor)
        for _ in range(sp.max_bisect if best and failed else 0):
            mid = (best + failed) // 2
            if passes(mid):
                best = mid
            else:
                failed = mid
        ended = next((r["verdict"] for r in reversed(ramp) if r["verdict"] != "pass"), "none")
        return best, ended, ramp


def run_books(bench: ScalingBench, sp: ScalingParams, books: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One book count: its row, and (at ``SUBSCRIBER_BOOKS``) the subscriber steps."""
    bench.start_books_runner(books)
    sink = bench._start_sink()
    step = bench.step(sink, [], sp.rate, sp.window_s)
    row = {"books": books, "kinds": "perp", **step}
    log(
        f"{books} books at {sp.rate}/s: runner {step['runner_us_per_update']} µs/update, delivered "
        f"{step['delivered_per_s']}/s, lost {step['lost']}, rss {step['runner_rss_mb']} MB"
    )
    if sp.find_max:
        row["max_sustained_per_s"], row["max_ended_by"], row["max_ramp"] = bench.max_sustained(sink, sp)
    subs: list[dict[str, Any]] = []
    if books == SUBSCRIBER_BOOKS and sp.subscribers:
        subs = run_subscribers(bench, sp, sink, step)
    bench.kids.stop(sink)
    bench.kids.stop(bench.runner)
    return row, subs


def run_subscribers(bench: ScalingBench, sp: ScalingParams, sink: Child, one: dict[str, Any]) -> list[dict[str, Any]]:
    """1, 4, 16 subscribers on the same runner (the 1-subscriber row: the books step just run)."""
    extra: list[Child] = []
    rows: list[dict[str, Any]] = []
    for n in sp.subscribers:
        if n == 1:
            step = one
        else:
            bench.ctl.firehose_off()  # periodic books on: a new subscriber waits for its first one
            while len(extra) < n - 1:
                extra.append(bench._start_sink())
            step = bench.step(sink, extra, sp.rate, sp.window_s)
        rows.append({"books": SUBSCRIBER_BOOKS, "subscribers": n, **step})
        log(
            f"{n} subscribers: runner {step['runner_us_per_update']} µs/update, least received {step['least_received']}"
        )
    for s in extra:
        bench.kids.stop(s)
    return rows


def run(sp: ScalingParams, workdir: Path) -> dict[str, Any]:
    started = time.monotonic()
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    subs: list[dict[str, Any]] = []
    with LocalRedisServer() as server, Children(workdir) as kids:
        bench = ScalingBench(Params(), workdir, server.url, kids)
        bench.start_venue(max(0, max(sp.books) - 2))
        for books in sp.books:
            row, more = run_books(bench, sp, books)
            rows.append(row)
            subs += more
    return {
        "books": rows,
        "subscribers": subs,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "machine": machine_facts(),
        "config": {**asdict(sp), "kinds": "perp", "firehose": "partial depth (depth5), round robin over the books"},
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def print_table(result: dict[str, Any]) -> None:
    print("  books  runner µs/update  runner cores  delivered/s  lost (qc)  gaps  venue drops  RSS MB  max sustained/s")
    for r in result["books"]:
        lost = f"{r['lost']} ({r['quality_rejected']})"
        best = "-"
        if "max_sustained_per_s" in r:
            best = f"{r['max_sustained_per_s']}{' (venue)' if r['max_ended_by'] == 'venue_limited' else ''}"
        print(
            f"  {r['books']:>5}  {r['runner_us_per_update']!s:>16}  {r['runner_cores']:>12}  {r['delivered_per_s']:>11}"
            f"  {lost:>9}  {r['gaps']:>4}  {r['venue_dropped']:>11}  {r['runner_rss_mb']:>6}"
            f"  {best:>15}"
        )
    if result["subscribers"]:
        print(f"  subscribers ({SUBSCRIBER_BOOKS} books)  runner µs/update  runner cores  least received / sent")
        for r in result["subscribers"]:
            print(
                f"  {r['subscribers']:>22}  {r['runner_us_per_update']!s:>16}  {r['runner_cores']:>12}"
                f"  {r['least_received']} / {r['sent']}"
            )
    print(f"  load average before {result['load_avg_before']}, after {result['load_avg_after']}")
    print(f"  elapsed {result['elapsed_s']} s", flush=True)


def _counts(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"{option}: comma-separated whole numbers, got {text!r}") from None
    if any(v < 1 for v in values):
        raise SystemExit(f"{option}: every count must be at least 1, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 s windows, no ramp, no subscriber steps")
    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    parser.add_argument("--rate", type=int, help="firehose updates/s in total (5000)")
    parser.add_argument("--window", type=float, help="seconds per step (8; quick 1)")
    parser.add_argument("--books", help="comma-separated book counts (1,4,16,64; at most 1001)")
    parser.add_argument("--subscribers", help=f"subscriber counts at {SUBSCRIBER_BOOKS} books (1,4,16; quick none)")
    parser.add_argument("--no-max", action="store_true", help="skip the max-sustained ramp")
    parser.add_argument("--workdir", type=Path, help="where the processes' logs go (default: a temp dir)")
    args = parser.parse_args(argv)
    sp = ScalingParams.quick() if args.quick else ScalingParams()
    if args.rate is not None:
        sp = replace(sp, rate=args.rate)
    if args.window is not None:
        sp = replace(sp, window_s=args.window)
    if args.books:
        sp = replace(sp, books=_counts(args.books, "--books"))
    if args.subscribers:
        sp = replace(sp, subscribers=_counts(args.subscribers, "--subscribers"))
    if args.no_max:
        sp = replace(sp, find_max=False)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tradebus-bench-scaling-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"logs in {workdir}")
    try:
        result = run(sp, workdir)
    except ChildFailed as exc:
        print(f"bench_scaling: error: {exc}", file=sys.stderr)
        return 1
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
