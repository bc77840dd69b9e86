#!/usr/bin/env python
"""Kill a live ``strategy spotperp`` with SIGKILL at random points, restart it, then audit.

    python scripts/kill_restart.py [--kills 50] [--seed 1] [--workdir DIR] [--redis-url URL]
                                   [--journal URL] [--json PATH] [--delay-ms N]

Starts a private Redis (unless ``--redis-url``), a Binance runner with its embedded offline venue,
and the LIVE strategy (not paper) with a config that enters at once (entry threshold −10 000 bps,
no discretionary exit). Each round starts the strategy on the same data dir (it resumes from its
journal) and kills it with SIGKILL either

* ``run``: after a random 0.2–4 s of running (mid-entry when the kill lands within its first
  orders, else usually hedged), or
* ``stop``: SIGTERM (the strategy starts exiting its pairs), then SIGKILL after a random 0–0.6 s
  (mid-exit).

The phase the journal held at each kill is counted. Then a last run with ``--duration 2`` must
resume, exit everything and end with status 0. The audit compares the strategy's ledger (every
booked fill in its journal's pair states) with the venue's own books (``GET /_sim/orders``): per
client id, the quantity booked equals the venue's executed quantity; no client id is used twice;
every pair is closed; the venue's perp position is flat. Prints a JSON summary; exit status 1
when the audit fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exchange_runner.ports import free_port, free_port_pair
from strategies.arbitrage.journaling import decode_state
from strategy_client.journal import Journal, JournalError

CONFIG = """\
size = 0.01
max_positions = 1
stop_grace_s = 40

[decision]
entry_threshold_bps = -10000
exit_threshold_bps = -20000
min_hold_s = 1000000
max_holding_s = 10000000
stop_loss_bps = 100000
funding_flip_bps_per_hour = 100000
reentry_cooldown_s = 0
"""


def wait(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise TimeoutError(f"{what} not within {timeout}s")


class Harness:
    def __init__(self, work: Path, redis_url: str | None, journal: str | None, seed: int) -> None:
        self.work = work
        self.data = work / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.journal_url = journal
        self.rng = random.Random(seed)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.redis_url = redis_url or self._start_redis()
        self.port_base = free_port_pair()
        self.runner_name = f"kr-{os.getpid()}"
        self.config = work / "spotperp.toml"
        self.config.write_text(CONFIG)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "TRADEBUS_DATA_DIR": str(self.data)}
        self.runs = 0

    def _start_redis(self) -> str:
        port = free_port()
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        url = f"redis://127.0.0.1:{port}/0"
        import redis

        def up() -> bool:
            try:
                return bool(redis.Redis.from_url(url).ping())
            except redis.RedisError:
                return False

        wait(up, 10, "redis")
        return url

    def start_runner(self) -> None:
        log = (self.work / "runner.log").open("ab")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exchange_runner.cli",
                "binance",
                "--redis-url",
                self.redis_url,
                "--name",
                self.runner_name,
                "--sim-port-base",
                str(self.port_base),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=self.env,
        )
        log.close()
        self.procs.append(proc)

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{self.port_base}/_sim/orders", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        wait(ready, 60, "runner's venue")

    def strategy(self, *extra: str) -> subprocess.Popen[bytes]:
        self.runs += 1
        args = [
            sys.executable,
            "-m",
            "strategies.cli",
            "spotperp",
            "--redis-url",
            self.redis_url,
            "--config",
            str(self.config),
            "--data-dir",
            str(self.data),
            *(["--journal", self.journal_url] if self.journal_url else []),
            *extra,
        ]
        out = (self.work / f"strategy-{self.runs:03d}.log").open("wb")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env)
        out.close()
        return proc

    def log(self, n: int | None = None) -> str:
        return (self.work / f"strategy-{n or self.runs:03d}.log").read_text(errors="replace")

    def journal(self) -> Journal:
        return Journal.open(self.journal_url, stream="strategy:spotperp", data_dir=self.data)

    def phase(self) -> str:
        try:
            j = self.journal()
        except JournalError:
            return "none"
        try:
            pairs = j.pairs("spotperp")
            return ",".join(sorted(p.phase for p in pairs)) or "no open pair"
        finally:
            j.close()

    def venue(self) -> dict[str, Any]:
        rep = httpx.get(f"http://127.0.0.1:{self.port_base}/_sim/orders", timeout=5)
        rep.raise_for_status()
        data: dict[str, Any] = rep.json()
        return data

    def started(self) -> bool:
        """The strategy's current run is trading (its log says it started)."""
        return "Ctrl-C stops cleanly" in self.log()

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def audit(h: Harness) -> dict[str, Any]:
    j = h.journal()
    try:
        pairs = j.pairs("spotperp", include_closed=True)
    finally:
        j.close()
    booked: Counter[str] = Counter()
    fills = 0
    for p in pairs:
        st = decode_state(p.state)
        for t in st.trades:
            if t.purpose == "adopt":
                continue
            booked[t.client_id] += t.qty  # type: ignore[assignment]  # this Counter holds Decimal quantities
            fills += 1
    venue = h.venue()
    executed: dict[str, Decimal] = {}
    dup: list[str] = []
    for o in venue["orders"]:
        cid = str(o["client_order_id"])
        if not cid.startswith("spot"):
            continue
        if cid in executed:
            dup.append(cid)
        executed[cid] = Decimal(str(o["executed_qty"]))
    mismatched = {
        cid: {"venue": str(executed.get(cid, 0)), "ledger": str(booked.get(cid, 0))}
        for cid in set(executed) | set(booked)
        if Decimal(executed.get(cid, 0)) != Decimal(booked.get(cid, 0))
    }
    perp = [p for p in venue["positions"] if "BTCUSDT" in json.dumps(p)]
    perp_size = Decimal(0)
    for p in perp:
        for k in ("amount", "qty", "size", "position_amt"):
            if k in p:
                perp_size += Decimal(str(p[k]))
    open_pairs = [p.pair_id for p in pairs if not p.closed]
    return {
        "pairs": len(pairs),
        "open_pairs": open_pairs,
        "venue_orders": len(executed),
        "venue_orders_filled": sum(1 for v in executed.values() if v > 0),
        "ledger_fills": fills,
        "mismatched": mismatched,
        "duplicate_client_ids": dup,
        "venue_perp_position": str(perp_size),
        "ok": not mismatched and not dup and not open_pairs and perp_size == 0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--redis-url")
    ap.add_argument("--journal", help="postgresql://… (default: SQLite in the work dir's data dir)")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--delay-ms",
        type=int,
        default=0,
        help="hold every venue answer this long (the venue's delay_ms fault) so that more kills land mid-phase",
    )
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kill-restart-"))
    work.mkdir(parents=True, exist_ok=True)
    h = Harness(work, args.redis_url, args.journal, args.seed)
    modes: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    t0 = time.monotonic()
    summary: dict[str, Any] = {"workdir": str(work), "kills": 0}
    try:
        h.start_runner()
        if args.delay_ms:
            httpx.post(f"http://127.0.0.1:{h.port_base}/_sim/faults", json={"delay_ms": args.delay_ms}, timeout=5)
        for _ in range(args.kills):
            proc = h.strategy()
            wait(lambda p=proc: h.started() or p.poll() is not None, 60, "strategy start")
            if proc.poll() is not None:
                raise RuntimeError(f"strategy exited early ({proc.returncode}): {h.log()[-3000:]}")
            mode = h.rng.choice(("run", "run", "stop"))
            if mode == "run":
                time.sleep(h.rng.uniform(0.2, 4.0))
            else:
                time.sleep(h.rng.uniform(0.5, 3.0))
                proc.send_signal(signal.SIGTERM)
                time.sleep(h.rng.uniform(0.0, 0.6))
            proc.kill()
            proc.wait(10)
            modes[mode] += 1
            phases[h.phase()] += 1
            summary["kills"] += 1
        if args.delay_ms:
            httpx.delete(f"http://127.0.0.1:{h.port_base}/_sim/faults", timeout=5)
        final = h.strategy("--duration", "2")
        code = final.wait(120)
        summary["final_exit_status"] = code
        summary["final_log_tail"] = h.log()[-1500:]
        summary["audit"] = audit(h)
        summary["ok"] = code == 0 and summary["audit"]["ok"]
    finally:
        h.close()
    summary["kill_modes"] = dict(modes)
    summary["journal_phase_at_kill"] = dict(phases)
    summary["seconds"] = round(time.monotonic() - t0, 1)
    summary["delay_ms"] = args.delay_ms
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
