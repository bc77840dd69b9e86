#!/usr/bin/env python
"""End-to-end benchmarks of tradebus on the offline Binance venue (a script, not a test).

    python scripts/bench.py [--quick] --json PATH [--load 1000] [--only tick,ingest,rtt,rss]
        [--journal-ab] [--journal postgresql://127.0.0.1:5432/test] [--peers] [--ipc-ab]

Every scenario runs against real processes on this machine: a Redis server
(``LocalRedisServer``), the offline Binance venue (``python -m benchlib.simproc``), one runner
(``python -m exchange_runner.cli binance --sim-connect ...``), and, per scenario, a strategy
process (``scripts/bench_strategy.py``), a lean subscriber (``benchlib.sink``) or an echo server.
It prints the numbers and writes one JSON object (microseconds unless the name says otherwise):

* ``tick_to_order_us`` {p50, p90, p99, max, n} — from the venue writing a book update that
  crosses the strategy's threshold to the resulting order arriving at the venue (runner → PUB →
  strategy → ROUTER → runner → WS-API), both timestamps on the venue's clock, under a
  background load of ``--load`` book updates/s;
* ``ingest_msgs_per_s`` — the highest rate of depth updates the runner sustains for 30 s (with
  ``--quick``: the best of three 1 s steps, not held) with a subscriber receiving every event:
  nothing lost end to end, no sequence gap, no backlog left behind;
* ``rpc_rtt_us`` {p50, p99} — CoreApi ``get_reference_price`` round trips, and
  ``raw_zmq_rtt_us`` {p50, p99} — a bare pyzmq DEALER↔ROUTER round trip between two processes,
  interleaved with it in the same run;
* ``rss_mb_start``, ``rss_mb_end``, ``rss_growth_pct`` — the runner's resident memory over a
  long stream (1,000,000 depth updates; 60,000 with ``--quick``), from the end of a 5 % warm-up;
* ``peers`` (``--peers``) — tick-to-order of a single-process ccxt.pro script
  (``benchlib/ccxt_peer.py``, WS-API and REST orders) and of the two-process floor
  (``benchlib/floor_peer.py``: a bare runner and strategy skeleton on the same libraries) on the
  same venue, load and probe clock, rounds interleaved with tradebus, and the ratios tradebus ÷ peer;
* ``journal_added_us`` (``--journal-ab``) — tick-to-order with the journal minus without, the two
  paths taken side by side by one strategy (two runners at once, each trigger through one of
  them), with ``tick_to_order_journal_us``, ``tick_to_order_no_journal_us``, the runner's own
  ``journal_intent_in_runner_us``, and ``order_submit_added_us``: the same difference on each
  runner's own clock over its order actor's turn (taking the order → request written to the
  venue's socket: ``tradebus_order_submit_seconds``), mean of the rounds' differences;
* ``ipc_ab`` (``--ipc-ab``) — the raw round trip and CoreApi round trips on ``ipc://`` and
  ``tcp://`` interleaved, and tick-to-order rounds alternated between the two;
* ``machine`` — cores, CPU, Python and library versions; ``details`` — everything behind
  each number (CPU used by each process, drops by place, the ingest ramp step by step).

``--quick`` finishes in under a minute; it only checks that the harness works. The method and
the numbers measured on the development machine are in ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg
import redis
from bench_rpc import coreapi_roundtrip, echo_endpoints, echo_server, raw_roundtrip
from benchlib.machine import machine_facts
from benchlib.procs import Child, ChildFailed, Children
from benchlib.simctl import SimControl
from benchlib.stats import summary_us

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port, free_port_pair
from strategy_client.endpoints import TRANSPORT_ENV
from strategy_client.wire import RunnerRecord, decode_record, runner_key

T = TypeVar("T")
SCENARIOS = ("rtt", "tick", "rss", "ingest")
PERP_KEY = "binance:perp:BTCUSDT"
# The runners' config: quality control on, but not the z-score check — the firehose's trigger is a
# 2 % step on a book that otherwise moves by ticks, an outlier by construction: with the check on,
# a varying share of triggers (all of them in some rounds) never reached the strategy.
BENCH_RUNNER_CONFIG = """[runner.quality]
zscore_max = 0
"""


@dataclass(frozen=True)
class Params:
    rtt_calls: int = 5000
    rtt_rounds: int = 5
    tick_samples: int = 2000
    tick_warmup: int = 50
    tick_interval_ms: int = 40
    tick_pct: float = 2.0
    load: int = 1000
    ingest_start: int = 5000
    ingest_factor: float = 1.4
    ingest_max: int = 400_000
    ingest_max_steps: int = 12
    ingest_bisect: int = 2
    ramp_window_s: float = 5.0
    confirm_window_s: float = 30.0
    confirm_tries: int = 4
    max_drain_s: float = 1.0
    rss_messages: int = 1_000_000
    rss_rate: int = 20_000
    rss_warmup_pct: float = 5.0
    ipc_ab_rounds: int = 2  # --ipc-ab: tick-to-order rounds per transport
    journal_ab_rounds: int = 4  # --journal-ab: rounds of the two runners side by side, start order swapped

    @classmethod
    def quick(cls) -> Params:
        """Every scenario end to end in well under a minute: checks the harness, measures little."""
        return cls(
            rtt_calls=600,
            rtt_rounds=2,
            tick_samples=100,
            tick_warmup=10,
            tick_interval_ms=25,
            ingest_start=10_000,
            ingest_factor=2.0,
            ingest_max_steps=3,
            ingest_bisect=0,
            ramp_window_s=1.0,
            confirm_window_s=0.0,
            rss_messages=60_000,
            rss_rate=30_000,
            ipc_ab_rounds=1,
            journal_ab_rounds=2,
        )


def run_loop(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on uvloop (what strategies use) or, without it, the default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(factory())
    return uvloop.run(factory())


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- processes -----------------------------------------------------------------------------------


class Bench:
    def __init__(self, params: Params, workdir: Path, redis_url: str, kids: Children) -> None:
        self.p = params
        self.workdir = workdir
        self.redis_url = redis_url
        self.kids = kids
        self.sim: Child
        self.runner: Child
        self.ctl: SimControl
        self.record: RunnerRecord
        self.port = 0

    def start_venue_and_runner(self, *extra: str) -> None:
        port = self.port = free_port_pair()
        log(f"starting the offline Binance venue on ports {port}-{port + 1}")
        self.sim = self.kids.start("sim", ["-m", "benchlib.simproc", "--port-base", str(port)])
        self.sim.wait_for("ready", 60)
        self.ctl = SimControl(f"http://127.0.0.1:{port}")
        self.start_runner(*extra)

    def start_runner(self, *extra: str, name: str = "binance") -> Child:
        """The runner on the venue; its journal (the default SQLite one) in the work dir, never
        the per-user data dir; ``extra``: more flags (``--no-journal``); ``name``: its registration
        name (another than the default: ``--name``, and a journal directory of its own)."""
        port = self.port
        log(f"starting the runner {name} {' '.join(extra)}".rstrip())
        self.metrics_url = f"http://127.0.0.1:{free_port()}"
        named = ("--name", name) if name != "binance" else ()
        config = self.workdir / "bench-runner.toml"
        if not config.exists():
            config.write_text(BENCH_RUNNER_CONFIG)
        data_dir = self.workdir / ("journal" if name == "binance" else f"journal-{name}")
        self.runner = self.kids.start(
            "runner" if name == "binance" else f"runner-{name}",
            [
                "-m",
                "exchange_runner.cli",
                "binance",
                "--sim-connect",
                f"127.0.0.1:{port}",
                "--redis-url",
                self.redis_url,
                "--symbols",
                "BTCUSDT,ETHUSDT",
                "--log-level",
                "WARNING",
                "--metrics-port",
                self.metrics_url.rsplit(":", 1)[1],
                "--config",
                str(config),
                *named,
                *extra,
            ],
            env={"TRADEBUS_DATA_DIR": str(data_dir)},
        )
        self.record = self._wait_registered(60, name)
        log(f"runner ready: ROUTER {self.record.router_endpoint}  PUB {self.record.pub_endpoint}")
        return self.runner

    def _wait_registered(self, timeout_s: float, name: str = "binance") -> RunnerRecord:
        client = redis.Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if not self.runner.alive():
                    raise ChildFailed(f"runner exited at start:\n{self.runner.log_tail()}")
                raw = client.get(runner_key(name))
                if raw is not None:
                    rec = decode_record(raw if isinstance(raw, bytes) else raw.encode())
                    if rec.status == "ready":
                        return rec
                time.sleep(0.1)
        finally:
            client.close()
        raise ChildFailed(f"runner not registered as ready within {timeout_s:.0f}s:\n{self.runner.log_tail()}")

    def journal_intent_us(self, metrics_url: str = "") -> dict[str, float]:
        """What the runner measured its journal intent write add to each order (its own clock,
        the last 1,024 orders: ``tradebus_journal_intent_seconds``); empty without a journal.
        ``metrics_url``: that runner's (default: the last one started)."""
        return self.runner_quantiles_us("tradebus_journal_intent_seconds", metrics_url)

    def order_submit_us(self, metrics_url: str = "") -> dict[str, float]:
        """The order actor's own time on each order, from taking it to the request written to the
        venue's socket (``tradebus_order_submit_seconds``, the last 1,024 orders)."""
        return self.runner_quantiles_us("tradebus_order_submit_seconds", metrics_url)

    def runner_quantiles_us(self, metric: str, metrics_url: str = "") -> dict[str, float]:
        text = httpx.get(f"{metrics_url or self.metrics_url}/metrics", timeout=5).text
        found = re.findall(rf'^{metric}\{{quantile="([0-9.]+)"\}} (\S+)$', text, re.MULTILINE)
        names = {"0.5": "p50", "0.9": "p90", "0.99": "p99"}
        return {names[q]: round(float(v) * 1e6, 1) for q, v in found if q in names}

    def cpu(self, *children: Child) -> dict[str, float]:
        return {c.name: c.cpu_seconds() for c in children if c.alive()}

    @staticmethod
    def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
        """Cores used by each process over ``seconds`` (1.0 = one core busy)."""
        return {k: round((after[k] - before[k]) / seconds, 3) for k in after if k in before and seconds > 0}

    def stream_drops(self) -> dict[str, int]:
        """Frames the venue dropped (slow reader) on the runner's market-data connections."""
        conns = self.ctl.state().get("connections", [])
        return {
            f"{c['host']}#{c['id']}": int(c["dropped"])
            for c in conns
            if c.get("role") == "streams" and any("@depth" in s for s in c.get("streams", []))
        }

    # -- rtt ------------------------------------------------------------------------------------

    def run_rtt(self) -> dict[str, Any]:
        p = self.p
        per_round = max(1, p.rtt_calls // p.rtt_rounds)
        raw: list[int] = []
        rpc: list[int] = []
        log(f"round trips: {p.rtt_rounds} rounds of {per_round} raw DEALER↔ROUTER, then {per_round} CoreApi calls")
        with echo_server() as echo:
            for i in range(p.rtt_rounds):
                warm = 300 if i == 0 else 50
                raw += raw_roundtrip(echo, per_round, warmup=warm)
                rpc += run_loop(partial(coreapi_roundtrip, self.redis_url, self.record.name, per_round, warm))
        raw_s, rpc_s = summary_us(raw), summary_us(rpc)
        return {
            "raw_zmq_rtt_us": {"p50": raw_s["p50"], "p99": raw_s["p99"]},
            "rpc_rtt_us": {"p50": rpc_s["p50"], "p99": rpc_s["p99"]},
            "details": {
                "raw": raw_s,
                "rpc": rpc_s,
                "ratio_p50": round(float(rpc_s["p50"]) / float(raw_s["p50"]), 2) if raw_s["p50"] else None,
                "method": "scripts/bench_rpc.py: get_reference_price via strategy_client.ZmqRouter (uvloop), "
                "one call at a time; raw: blocking pyzmq DEALER in this process, ROUTER echo in another; "
                "rounds interleaved",
            },
        }

    # -- tick to order --------------------------------------------------------------------------

    def run_tick(self, transport: str = "auto") -> dict[str, Any]:
        """``transport``: the strategy's (``auto``: ipc:// to the runner on this host; ``tcp``)."""
        strategy = self.kids.start(
            "strategy",
            ["scripts/bench_strategy.py", "--redis-url", self.redis_url, "--key", PERP_KEY, "--drop-pct", "1.0"],
            env={TRANSPORT_ENV: transport},
        )
        return self.tick_round(strategy, self.runner)

    def run_ipc_ab(self) -> dict[str, Any]:
        """ipc:// against tcp:// in one run: the raw DEALER↔ROUTER floor on both (one echo process
        bound on both), CoreApi round trips with the router's transport ``tcp`` and ``auto``
        (ipc://), all interleaved; then tick-to-order rounds alternated tcp, ipc, tcp, ipc (quick:
        tcp, ipc)."""
        p = self.p
        per_round = max(1, p.rtt_calls // p.rtt_rounds)
        rtt: dict[str, list[int]] = {"raw_tcp": [], "raw_ipc": [], "rpc_tcp": [], "rpc_ipc": []}
        log(f"ipc vs tcp round trips: {p.rtt_rounds} rounds of {per_round} per case, interleaved")
        with echo_endpoints() as echo:
            for i in range(p.rtt_rounds):
                warm = 300 if i == 0 else 50
                for transport in ("tcp", "ipc"):
                    rtt[f"raw_{transport}"] += raw_roundtrip(echo[transport], per_round, warmup=warm)
                    call = partial(
                        coreapi_roundtrip,
                        self.redis_url,
                        self.record.name,
                        per_round,
                        warm,
                        transport="tcp" if transport == "tcp" else "auto",
                    )
                    rtt[f"rpc_{transport}"] += run_loop(call)
        tick: dict[str, list[int]] = {"tcp": [], "ipc": []}
        rounds: list[dict[str, Any]] = []
        for transport in ("tcp", "ipc") * p.ipc_ab_rounds:
            out = self.run_tick("tcp" if transport == "tcp" else "auto")
            tick[transport] += out["samples_ns"]
            rounds.append({"transport": transport, **out["tick_to_order_us"], "legs_us": out["details"]["legs_us"]})
        return {
            "rtt_us": {k: summary_us(v) for k, v in rtt.items()},
            "tick_to_order_us": {k: summary_us(v) for k, v in tick.items()},
            "tick_rounds": rounds,
        }

    def run_peer_tick(self, orders: str) -> dict[str, Any]:
        """The same round with the single-process ccxt.pro script (``benchlib.ccxt_peer``) in
        place of runner + strategy; ``orders``: ``ws`` (``create_order_ws``) or ``rest``."""
        peer = self.kids.start(
            f"ccxt-{orders}", ["-m", "benchlib.ccxt_peer", "--port-base", str(self.port), "--orders", orders]
        )
        return self.tick_round(peer, None)

    def tick_round(self, strategy: Child, runner: Child | None, *more: Child) -> dict[str, Any]:
        """One tick-to-order round with ``strategy`` (it prints ``ready`` once subscribed and
        answers ``stats`` and ``trace``); ``runner``: the runner it goes through, if any;
        ``more``: other processes whose CPU to report (a second runner)."""
        p = self.p
        ctl = self.ctl
        ctl.firehose_off()
        ctl.probe_clear()
        strategy.wait_for("ready", 60)
        want = p.tick_samples + p.tick_warmup
        log(
            f"tick-to-order ({strategy.name}): {want} triggers every {p.tick_interval_ms} ms under {p.load} book "
            f"updates/s (about {want * p.tick_interval_ms / 1000:.0f} s)"
        )
        procs = (self.sim, strategy, *more) if runner is None else (self.sim, runner, strategy, *more)
        cpu0 = self.cpu(*procs)
        t0 = time.monotonic()
        ctl.firehose(
            rate=p.load,
            trigger_symbol="BTCUSDT",
            trigger_product="futures",
            trigger_interval_ms=p.tick_interval_ms,
            trigger_pct=p.tick_pct,
        )
        deadline = t0 + want * p.tick_interval_ms / 1000 * 2 + 30
        probe = ctl.probe()
        while len(probe["pairs"]) < want and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.1, (want - len(probe["pairs"])) * p.tick_interval_ms / 1000)))
            probe = ctl.probe()
        fh = ctl.firehose_state()
        ctl.firehose_off()
        seconds = time.monotonic() - t0
        cpu1 = self.cpu(*procs)
        time.sleep(0.3)  # orders still in flight arrive
        probe = ctl.probe()
        stats = strategy.request("stats")
        traced = strategy.request("trace")
        trace = traced["trace"]
        intent = self.journal_intent_us() if runner is not None else {}
        submit = self.order_submit_us() if runner is not None else {}
        self.kids.stop(strategy)
        pairs = sorted(probe["pairs"])[p.tick_warmup :]
        samples = [arrived - sent for _, sent, arrived, _, _ in pairs]
        summary = summary_us(samples)
        legs = tick_legs(pairs, trace)
        return {
            "tick_to_order_us": summary,
            "samples_ns": samples,
            "pairs": pairs,
            "turns": traced.get("turns", {}),
            "trace": trace,
            "details": {
                "load_msgs_per_s": p.load,
                "achieved_load_msgs_per_s": fh.get("achieved_rate"),
                "trigger_interval_ms": p.tick_interval_ms,
                "warmup_discarded": min(p.tick_warmup, len(probe["pairs"])),
                "legs_us": legs,
                "triggers_sent": probe["triggers_sent"],
                "orders_arrived": probe["orders_arrived"],
                "triggers_without_order": probe["triggers_sent"] - len(pairs),
                "strategy": stats,
                "journal_intent_in_runner_us": intent,
                "order_submit_in_runner_us": submit,
                "cpu_cores": self.cpu_share(cpu0, cpu1, seconds),
                "path": "venue writes the book frame → runner (WS → parse → price actor → PUB) → strategy "
                "(SUB → decode → threshold → submit_order on DEALER) → runner (ROUTER → order actor → "
                "WS-API order.place) → venue reads the request",
            },
        }

    # -- ingest ---------------------------------------------------------------------------------

    def _start_sink(self) -> Child:
        sink = self.kids.start("sink", ["-m", "benchlib.sink", "--endpoint", self.record.pub_endpoint])
        sink.wait_for("ready", 30)
        deadline = time.monotonic() + 10
        while sink.request("stats")["received"] == 0:  # connected: the periodic books arrive
            if time.monotonic() > deadline:
                raise ChildFailed("the subscriber received no book within 10 s")
            time.sleep(0.05)
        return sink

    def _drain(self, sink: Child, expected: int, start: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """Wait until the sink has everything sent (or stops making progress); returns its stats."""
        t0 = time.monotonic()
        last, last_change = -1, t0
        while True:
            s = sink.request("stats")
            got = s["received"] - start["received"]
            now = time.monotonic()
            if got >= expected:
                return s, now - t0
            if got != last:
                last, last_change = got, now
            elif now - last_change > 1.5:
                return s, now - t0
            time.sleep(0.02)

    def _settle(self, sink: Child, quiet_s: float = 0.3, timeout_s: float = 10.0) -> None:
        """Wait until nothing reaches the sink for ``quiet_s`` (the previous run's backlog is in)."""
        deadline = time.monotonic() + timeout_s
        last = sink.request("stats")["received"]
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now_count = sink.request("stats")["received"]
            if now_count != last:
                last, quiet_since = now_count, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return

    def _ingest_step(self, sink: Child, rate: int, window_s: float) -> dict[str, Any]:
        ctl = self.ctl
        self._settle(sink)
        before = ctl.firehose_state()
        s0 = sink.request("stats")
        drops0 = self.stream_drops()
        cpu0 = self.cpu(self.sim, self.runner, sink)
        t0 = time.monotonic()
        ctl.firehose(rate=rate, max_burst_s=0.25)
        time.sleep(window_s)
        ctl.firehose(rate=0)
        seconds = time.monotonic() - t0
        cpu1 = self.cpu(self.sim, self.runner, sink)
        after = ctl.firehose_state()
        sent = after["frames"] - before["frames"]
        s1, drain_s = self._drain(sink, sent, s0)
        drops1 = self.stream_drops()
        received = s1["received"] - s0["received"]
        gaps = s1["gaps"] - s0["gaps"]
        shortfall = after["shortfall"] - before["shortfall"]
        venue_dropped = sum(drops1.get(k, 0) - drops0.get(k, 0) for k in drops1)
        achieved = sent / seconds if seconds > 0 else 0.0
        lost = sent - received
        if achieved < 0.97 * rate:
            verdict = "venue_limited"  # the venue could not send at the rate asked: not a runner result
        elif lost == 0 and gaps == 0 and drain_s <= self.p.max_drain_s:
            verdict = "pass"
        else:
            verdict = "fail"
        return {
            "rate": rate,
            "window_s": round(seconds, 2),
            "sent": sent,
            "received": received,
            "lost": lost,
            "gaps": gaps,
            "venue_dropped": venue_dropped,
            "venue_shortfall": shortfall,
            "achieved_rate": round(achieved),
            "drain_s": round(drain_s, 3),
            "cpu_cores": self.cpu_share(cpu0, cpu1, seconds),
            "verdict": verdict,
        }

    def run_ingest(self, sink: Child) -> dict[str, Any]:
        p = self.p
        ctl = self.ctl
        ctl.firehose(rate=0)  # periodic frames paused: the sink counts firehose frames only
        steps: list[dict[str, Any]] = []
        best, failed = 0, 0

        def ramp(rate: int) -> bool:
            step = self._ingest_step(sink, rate, p.ramp_window_s)
            steps.append(step)
            log(
                f"ingest ramp {rate}/s for {step['window_s']}s: {step['verdict']} (lost {step['lost']}, "
                f"gaps {step['gaps']}, drain {step['drain_s']}s, cpu {step['cpu_cores']})"
            )
            return bool(step["verdict"] == "pass")

        rate = p.ingest_start
        for _ in range(p.ingest_max_steps):  # up by ingest_factor until a step fails
            if not ramp(rate):
                failed = rate
                break
            best = rate
            rate = int(rate * p.ingest_factor)
            if rate > p.ingest_max:
                break
        for _ in range(p.ingest_bisect):  # then narrow the gap between the last pass and the failure
            if not best or not failed or failed - best <= best * 0.05:
                break
            mid = (best + failed) // 2
            if ramp(mid):
                best = mid
            else:
                failed = mid
        confirmed: list[dict[str, Any]] = []
        reported = best
        if p.confirm_window_s > 0 and best:
            candidate = best
            reported = 0
            for _ in range(p.confirm_tries):
                step = self._ingest_step(sink, candidate, p.confirm_window_s)
                confirmed.append(step)
                log(f"ingest confirm {candidate}/s for {step['window_s']}s: {step['verdict']} (lost {step['lost']})")
                if step["verdict"] == "pass":
                    reported = candidate
                    break
                candidate = int(candidate * 0.95)
        ctl.firehose_off()
        limited = any(s["verdict"] == "venue_limited" for s in steps + confirmed)
        return {
            "ingest_msgs_per_s": reported,
            "details": {
                "window_s": p.confirm_window_s if p.confirm_window_s > 0 else p.ramp_window_s,
                "ramp": steps,
                "confirm": confirmed,
                "limited_by_venue": limited,
                "criteria": "every update the venue sent reached the subscriber (sent == received), no "
                f"sequence gap, backlog drained within {p.max_drain_s}s of the end",
            },
        }

    # -- rss ------------------------------------------------------------------------------------

    def run_rss(self, sink: Child) -> dict[str, Any]:
        p = self.p
        ctl = self.ctl
        ctl.firehose(rate=0)
        self._settle(sink)
        start = sink.request("stats")["received"]
        warm = int(p.rss_messages * p.rss_warmup_pct / 100)
        log(f"memory: {p.rss_messages} depth updates at {p.rss_rate}/s (warm-up {warm})")
        rss_before = self.runner.rss_mb()
        samples: list[tuple[int, float]] = []
        cpu0 = self.cpu(self.sim, self.runner, sink)
        t0 = time.monotonic()
        ctl.firehose(rate=p.rss_rate)
        deadline = t0 + p.rss_messages / p.rss_rate * 4 + 60
        rss_start: float | None = None
        done = 0
        while time.monotonic() < deadline:
            time.sleep(0.5)
            done = sink.request("stats")["received"] - start
            rss = self.runner.rss_mb()
            samples.append((done, round(rss, 2)))
            if rss_start is None and done >= warm:
                rss_start = rss
            if done >= p.rss_messages:
                break
        ctl.firehose(rate=0)
        seconds = time.monotonic() - t0
        cpu1 = self.cpu(self.sim, self.runner, sink)
        rss_end = self.runner.rss_mb()
        if rss_start is None:
            rss_start = samples[0][1] if samples else rss_before
        growth = (rss_end - rss_start) / rss_start * 100 if rss_start else 0.0
        step = max(1, len(samples) // 40)
        return {
            "rss_mb_start": round(rss_start, 2),
            "rss_mb_end": round(rss_end, 2),
            "rss_growth_pct": round(growth, 2),
            "details": {
                "messages": done,
                "target_messages": p.rss_messages,
                "rate": p.rss_rate,
                "warmup_messages": warm,
                "rss_mb_before_stream": round(rss_before, 2),
                "seconds": round(seconds, 1),
                "cpu_cores": self.cpu_share(cpu0, cpu1, seconds),
                "samples_messages_rss_mb": samples[::step],
            },
        }


def tick_legs(pairs: list[list[int]], trace: list[list[int]]) -> dict[str, Any]:
    """Split each tick-to-order sample into its legs with the wall-clock stamps of the venue
    (send, arrival) and the strategy's trail (runner receive, runner publish, strategy receive,
    submit, reply): p50/p99 per leg in µs. One clock (CLOCK_REALTIME) on one machine."""
    by_seq = {t[0]: t for t in trace if len(t) >= 6}
    legs: dict[str, list[int]] = {
        "venue_send_to_runner_recv": [],
        "runner_recv_to_publish": [],
        "publish_to_strategy_recv": [],
        "strategy_recv_to_submit": [],
        "submit_to_venue_arrival": [],
        "venue_arrival_to_reply": [],
    }
    for u, _, _, sent_wall, arrived_wall in pairs:
        t = by_seq.get(u)
        if t is None:
            continue
        _, runner_recv, published, strategy_recv, submitted, replied = t[:6]
        legs["venue_send_to_runner_recv"].append(runner_recv - sent_wall)
        legs["runner_recv_to_publish"].append(published - runner_recv)
        legs["publish_to_strategy_recv"].append(strategy_recv - published)
        legs["strategy_recv_to_submit"].append(submitted - strategy_recv)
        legs["submit_to_venue_arrival"].append(arrived_wall - submitted)
        legs["venue_arrival_to_reply"].append(replied - arrived_wall)
    out: dict[str, Any] = {}
    for name, values in legs.items():
        s = summary_us(values)
        out[name] = {"p50": s["p50"], "p99": s["p99"]}
    out["n"] = len(legs["runner_recv_to_publish"])
    return out


# -- peers ---------------------------------------------------------------------------------------

PEERS = {"ccxt_pro_ws": "ws", "ccxt_pro_rest": "rest", "python_floor_2proc": "floor"}


def run_floor_tick(bench: Bench) -> dict[str, Any]:
    """The round with the two-process floor (``benchlib.floor_peer``: the strategy skeleton,
    which starts the runner skeleton as its child) in place of runner + strategy."""
    peer = bench.kids.start("floor-2proc", ["-m", "benchlib.floor_peer", "--port-base", str(bench.port)])
    return bench.tick_round(peer, None)


def run_peers(bench: Bench, first_tick: list[int], rounds: int) -> dict[str, Any]:
    """Tick-to-order rounds interleaved on one venue: tradebus (the first round is the one the
    ``tick`` scenario just ran), the ccxt.pro script with WS-API orders, the same with REST
    orders, the two-process floor, tradebus again, … ``rounds`` times; each client's samples
    pooled over its rounds.
    The runner is stopped during the peers' rounds (the firehose then feeds the peer alone)."""
    samples: dict[str, list[int]] = {"tradebus": list(first_tick), **{name: [] for name in PEERS}}
    per_round: list[dict[str, Any]] = []
    for i in range(rounds):
        if i > 0:
            bench.start_runner()
            out = bench.run_tick()
            bench.kids.stop(bench.runner)
            samples["tradebus"] += out["samples_ns"]
            per_round.append({"round": i + 1, "client": "tradebus", **out["tick_to_order_us"]})
        else:
            per_round.append({"round": 1, "client": "tradebus", **summary_us(first_tick)})
        for name, orders in PEERS.items():
            out = run_floor_tick(bench) if orders == "floor" else bench.run_peer_tick(orders)
            samples[name] += out["samples_ns"]
            stats = out["details"]["strategy"]
            per_round.append(
                {
                    "round": i + 1,
                    "client": name,
                    **out["tick_to_order_us"],
                    "orders_ok": stats["orders_ok"],
                    "legs_us": out["details"]["legs_us"],
                }
            )
    tick = {name: summary_us(values) for name, values in samples.items()}
    ratios = {
        name: {
            q: round(tick["tradebus"][q] / tick[name][q], 2) if tick[name][q] else None for q in ("p50", "p90", "p99")
        }
        for name in PEERS
    }
    floor, ws = tick["python_floor_2proc"], tick["ccxt_pro_ws"]
    return {
        "tick_to_order_us": tick,
        "ratio_tradebus_over_peer": ratios,
        "ratio_floor_over_ccxt_pro_ws": {
            q: round(floor[q] / ws[q], 2) if ws[q] else None for q in ("p50", "p90", "p99")
        },
        "rounds": per_round,
        "method": "one venue, one load; rounds interleaved tradebus, ccxt_pro_ws, ccxt_pro_rest, "
        "python_floor_2proc, …; each client's samples pooled; the venue's probe clock (frame written → "
        "order read) for every client; peer: scripts/benchlib/ccxt_peer.py (ccxt.pro binanceusdm, "
        "depth5@100ms on BTCUSDT and ETHUSDT perpetuals, enableRateLimit False, orders awaited inline); "
        "floor: scripts/benchlib/floor_peer.py (a runner skeleton — one aiohttp stream connection, msgspec "
        "decode, PUB; ROUTER → signed order.place on one WS-API connection — and a strategy skeleton — SUB, "
        "threshold, DEALER, reply awaited inline — on ipc://, no tradebus code)",
    }


def print_peers(peers: dict[str, Any]) -> None:
    print("  tick-to-order, same run (µs)      p50      p90      p99   tradebus ÷ peer (p50 / p90 / p99)")
    ratios = peers["ratio_tradebus_over_peer"]
    for name, s in peers["tick_to_order_us"].items():
        r = ratios.get(name)
        ratio = " / ".join(f"{r[q]}" for q in ("p50", "p90", "p99")) if r else ""
        print(f"    {name:<30} {s['p50']:>8} {s['p90']:>8} {s['p99']:>8}   {ratio}  (n {s['n']})", flush=True)
    floor = peers.get("ratio_floor_over_ccxt_pro_ws")
    if floor:
        print(f"  python_floor_2proc ÷ ccxt_pro_ws (p50 / p90 / p99): {' / '.join(str(floor[q]) for q in floor)}")


# -- journal on / off ------------------------------------------------------------------------------

AB_RUNNERS = ("bn-journal", "bn-nojournal")  # --alternate order: turn 0 is the journaled runner


def _mean_added(pairs: list[dict[str, dict[str, float]]], qs: tuple[str, ...]) -> dict[str, float]:
    """Mean over rounds of ``on[q] - off[q]``, rounds where both runners reported."""
    valid = [p for p in pairs if p.get("on") and p.get("off")]
    if not valid:
        return {}
    return {q: round(sum(p["on"][q] - p["off"][q] for p in valid) / len(valid), 1) for q in qs}


def run_journal_ab(bench: Bench, journal_on: tuple[str, ...]) -> dict[str, Any]:
    """The journal's added cost, measured side by side: two runners on the one venue at once —
    ``bn-journal`` (the journal: SQLite by default, or ``journal_on``) and ``bn-nojournal``
    (``--no-journal``), fed the same frames — and one strategy reading both
    (``bench_strategy.py --alternate``) that answers each trigger through one of them, drawn at
    random when the trigger first arrives. Orders 40 ms apart take the two paths in a shuffled order, so
    the machine's drift (a few hundred µs between rounds run one after the other) hits both alike.
    The venue writes each frame to one runner's socket before the other's: rounds alternate which
    runner starts (and subscribes) first, and the result is the mean of the rounds' differences
    (each round's is kept, so that order's effect shows)."""
    p = bench.p
    samples: dict[str, list[int]] = {"on": [], "off": []}
    rounds: list[dict[str, Any]] = []
    for i in range(p.journal_ab_rounds):
        # names of this round's own: a runner reusing a stopped one's name waits (up to tens of
        # seconds) until that registration is gone (one runner per name)
        names = tuple(f"{base}-{i + 1}" for base in AB_RUNNERS)
        order = names if i % 2 == 0 else names[::-1]
        started: dict[str, tuple[Child, str]] = {}
        for name in order:
            flags = journal_on if name == names[0] else ("--no-journal",)
            child = bench.start_runner(*flags, name=name)
            started[name] = (child, bench.metrics_url)
        strategy = bench.kids.start(
            "strategy",
            [
                "scripts/bench_strategy.py",
                "--redis-url",
                bench.redis_url,
                "--key",
                PERP_KEY,
                "--drop-pct",
                "1.0",
                "--alternate",
                ",".join(names),
            ],
        )
        first, second = (started[n][0] for n in order)
        out = bench.tick_round(strategy, first, second)
        turns: dict[str, int] = out["turns"]
        by_mode: dict[str, list[int]] = {"on": [], "off": []}
        pairs_by_mode: dict[str, list[list[int]]] = {"on": [], "off": []}
        for pair in out["pairs"]:
            turn = turns.get(str(pair[0]))
            if turn is not None:
                mode = "on" if turn == 0 else "off"
                by_mode[mode].append(pair[2] - pair[1])
                pairs_by_mode[mode].append(pair)
        intent = bench.journal_intent_us(started[names[0]][1])
        submit = {mode: bench.order_submit_us(started[names[j]][1]) for j, mode in enumerate(("on", "off"))}
        for child, _ in started.values():
            bench.kids.stop(child)
        on, off = summary_us(by_mode["on"]), summary_us(by_mode["off"])
        rounds.append(
            {
                "round": i + 1,
                "started_first": AB_RUNNERS[names.index(order[0])],
                "on": on,
                "off": off,
                # a round where one path got no order (a runner down) says nothing of the difference
                "added_us": {q: round(on[q] - off[q], 1) for q in ("p50", "p90", "p99")}
                if on["n"] and off["n"]
                else {},
                "journal_intent_in_runner_us": intent,
                # each runner's own clock on its order path (intent, risk gate, request sent)
                "order_submit_in_runner_us": submit,
                "legs_us": {mode: tick_legs(pairs_by_mode[mode], out["trace"]) for mode in ("on", "off")},
                "cpu_cores": out["details"]["cpu_cores"],
                "strategy": out["details"]["strategy"],
            }
        )
        log(f"journal A/B round {i + 1} ({order[0]} first): on p50 {on['p50']} µs, off p50 {off['p50']} µs")
        for mode in samples:
            samples[mode] += by_mode[mode]
    pooled = {mode: summary_us(values) for mode, values in samples.items()}
    qs = ("p50", "p90", "p99")
    valid = [r for r in rounds if r["added_us"]]
    intents = [r["journal_intent_in_runner_us"] for r in rounds if r["journal_intent_in_runner_us"]]
    return {
        "tick_to_order_journal_us": pooled["on"],
        "tick_to_order_no_journal_us": pooled["off"],
        "journal_added_us": {q: round(sum(r["added_us"][q] for r in valid) / len(valid), 1) for q in qs}
        if valid
        else {},
        "journal_intent_in_runner_us": {q: statistics.median(i[q] for i in intents) for q in qs} if intents else {},
        # the same difference on each runner's own clock, order actor only (no venue, network or
        # strategy noise in it): mean over the rounds of (journal runner − no-journal runner)
        "order_submit_added_us": _mean_added([r["order_submit_in_runner_us"] for r in rounds], qs),
        "details": {
            "rounds": rounds,
            "pooled_added_us": {q: round(pooled["on"][q] - pooled["off"][q], 1) for q in qs},
            "method": "two runners on one venue at once (journal / --no-journal), one strategy answering "
            "each trigger through one of them, drawn at random (bench_strategy.py --alternate); "
            "rounds alternate which runner starts first; journal_added_us = mean of the rounds' "
            "differences; the venue's probe clock",
        },
    }


# -- main ------------------------------------------------------------------------------------------


def run(
    params: Params,
    scenarios: tuple[str, ...],
    workdir: Path,
    quick: bool,
    journal_ab: bool = False,
    journal_url: str = "",
    peers: bool = False,
    peer_rounds: int = 2,
    ipc_ab: bool = False,
) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {}
    details: dict[str, Any] = {}
    journal_on: tuple[str, ...] = ("--journal", journal_url) if journal_url else ()
    with LocalRedisServer() as server, Children(workdir) as kids:
        bench = Bench(params, workdir, server.url, kids)
        bench.start_venue_and_runner(*journal_on)
        steps: list[tuple[str, Callable[[], dict[str, Any]]]] = []
        if "rtt" in scenarios:
            steps.append(("rtt", bench.run_rtt))
        if "tick" in scenarios:
            steps.append(("tick", bench.run_tick))
        sink: Child | None = None
        first_tick: list[int] = []
        for name, fn in steps:
            out = fn()
            details[name] = out.pop("details")
            if name == "tick":
                first_tick = out.pop("samples_ns")
                for extra in ("pairs", "turns", "trace"):
                    out.pop(extra)
            result.update(out)
        if "rss" in scenarios or "ingest" in scenarios:
            sink = bench._start_sink()
            if "rss" in scenarios:
                out = bench.run_rss(sink)
                details["rss"] = out.pop("details")
                result.update(out)
            if "ingest" in scenarios:
                out = bench.run_ingest(sink)
                details["ingest"] = out.pop("details")
                result.update(out)
            kids.stop(sink)
        if ipc_ab:
            result["ipc_ab"] = bench.run_ipc_ab()
        runner_status = kids.stop(bench.runner)
        details["runner_exit_status"] = runner_status
        if peers and "tick" in scenarios:
            result["peers"] = run_peers(bench, first_tick, peer_rounds)
        if journal_ab and "tick" in scenarios:
            ab = run_journal_ab(bench, journal_on)
            details["journal_ab"] = ab.pop("details")
            result.update(ab)
            details["journal"] = redact_url(journal_url) if journal_url else "sqlite (the default, in the work dir)"
    result["machine"] = machine_facts()
    result["config"] = {"quick": quick, **asdict(params), "scenarios": list(scenarios)}
    result["details"] = details
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


@contextmanager
def own_schema(url: str) -> Iterator[str]:
    """A PostgreSQL journal URL gets a schema of its own for the run, dropped after; anything
    else passes through unchanged."""
    if not url.startswith(("postgresql://", "postgres://")):
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}schema={schema}"
    finally:
        base = url.split("?", 1)[0]
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def redact_url(url: str) -> str:
    """``url`` without a password."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def print_summary(result: dict[str, Any]) -> None:
    def fmt(d: Any) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) if isinstance(d, dict) else str(d)

    lines = []
    for key in (
        "tick_to_order_us",
        "tick_to_order_journal_us",
        "tick_to_order_no_journal_us",
        "journal_added_us",
        "journal_intent_in_runner_us",
        "order_submit_added_us",
        "ingest_msgs_per_s",
        "rpc_rtt_us",
        "raw_zmq_rtt_us",
        "rss_mb_start",
        "rss_mb_end",
        "rss_growth_pct",
    ):
        if key in result:
            lines.append(f"  {key:<20} {fmt(result[key])}")
    m = result["machine"]
    lines.append(f"  machine              {m['cores_logical']} cores, {m['cpu_model']}, Python {m['python']}")
    lines.append(f"  elapsed              {result['elapsed_s']} s")
    print("\n".join(lines), flush=True)
    if "ipc_ab" in result:
        for group in ("rtt_us", "tick_to_order_us"):
            for name, s in result["ipc_ab"][group].items():
                print(f"  ipc_ab {group} {name:<8} p50 {s['p50']}, p90 {s['p90']}, p99 {s['p99']} (n {s['n']})")
    if "peers" in result:
        print_peers(result["peers"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (under a minute): checks the harness")
    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    parser.add_argument("--load", type=int, help="background book updates/s during tick-to-order (1000)")
    parser.add_argument("--samples", type=int, help="tick-to-order samples (2000; quick 100)")
    parser.add_argument("--rss-messages", type=int, help="messages in the memory run (1000000; quick 60000)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--workdir", type=Path, help="where the processes' logs go (default: a temp dir)")
    parser.add_argument(
        "--journal",
        default="",
        metavar="URL",
        help="the runner's journal: postgresql://host/db (the bench makes its own schema and drops it after); "
        "default: SQLite in the work dir",
    )
    parser.add_argument(
        "--journal-ab",
        action="store_true",
        help="the journal's added cost: two runners at once on the venue (journal / --no-journal), one strategy "
        "answering each trigger through one of them (shuffled by update id), 4 rounds (quick 2) alternating which "
        "starts first: journal_added_us = mean of the rounds' p50/p90/p99 differences",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="tick-to-order also with a single-process ccxt.pro script (WS-API and REST orders) and the "
        "two-process floor (benchlib/floor_peer.py), rounds interleaved with tradebus on the same venue; prints "
        "the same-run table and ratios",
    )
    parser.add_argument(
        "--peer-rounds",
        type=int,
        help="rounds of tradebus, ccxt_pro_ws, ccxt_pro_rest, python_floor_2proc (2; quick 1)",
    )
    parser.add_argument(
        "--ipc-ab",
        action="store_true",
        help="ipc:// against tcp:// in the same run: raw DEALER↔ROUTER floor and CoreApi round trips "
        "(interleaved), tick-to-order rounds alternated tcp, ipc, tcp, ipc",
    )
    args = parser.parse_args(argv)
    params = Params.quick() if args.quick else Params()
    if args.load is not None:
        params = replace(params, load=args.load)
    if args.samples is not None:
        params = replace(params, tick_samples=args.samples)
    if args.rss_messages is not None:
        params = replace(params, rss_messages=args.rss_messages)
    scenarios = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"--only: unknown scenario(s) {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tradebus-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"logs in {workdir}")
    try:
        with own_schema(args.journal) as journal_url:
            rounds = args.peer_rounds or (1 if args.quick else 2)
            result = run(
                params, scenarios, workdir, args.quick, args.journal_ab, journal_url, args.peers, rounds, args.ipc_ab
            )
    except ChildFailed as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
