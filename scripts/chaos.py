#!/usr/bin/env python
"""Chaos harness: live strategies on the three offline venues under injected faults, then an audit.

    python scripts/chaos.py [--faults 1000] [--seed 1] [--duration SECONDS] [--json PATH]
                            [--quick] [--no-fail] [--workdir DIR]

Starts a private Redis, the offline Binance, Bybit and OKX venues (``python -m exchanges.sim``),
one runner per venue (``--sim-connect``), and three LIVE strategies: ``spotperp`` on Binance and
on Bybit, ``perpperp`` across Bybit and OKX, all trading on a basis the harness drives. Over
``--duration`` it injects ``--faults`` faults drawn by a seeded RNG (WebSocket kills, 5xx,
429/418 with Retry-After, accepted-then-lost orders, listenKey expiry, stale/out-of-order/
malformed frames, runner SIGKILL + restart, Redis restart empty on the same port; strategy
SIGKILL + restart once ``strategy --help`` has a journal flag) and times each recovery. Then it
stops the strategies (SIGTERM, their ``--report`` JSON), compares the venues' own books
(``GET /_sim/orders``) with the runners (``get_order`` through CoreApi, ``exec`` events) and the
strategies' ledgers, prints a table and writes everything to ``--json``. Metric definitions:
``docs/chaos.md``. Exit status 1 when anything was lost, duplicated, mismatched, left naked or
not exited (``--no-fail``: always 0 once the run completed); 2 when the harness itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib.machine import machine_facts
from benchlib.procs import ChildFailed, Children
from benchlib.stats import percentile
from chaoslib.audit import StrategyEnd, audit, owner
from chaoslib.cluster import VENUES, Cluster
from chaoslib.faults import (
    KINDS,
    REQUEST_KINDS,
    Fault,
    inject,
    plan,
    replacement,
    request_pending,
    strategy_journal_flag,
)
from chaoslib.probe import Probe
from chaoslib.setup import STRATEGIES, MarketDriver, strategy_config

from strategy_client.model import Exchange, InstrumentKey, MarketKind

GATE = ("lost", "duplicated", "ledger_mismatches", "naked_legs", "unfinished_exits")


def log(msg: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faults", type=int, default=None, help="faults to inject (default 1000; 20 with --quick)")
    p.add_argument("--seed", type=int, default=1, help="seeds the fault plan, the market driver and the venues")
    p.add_argument("--duration", type=float, default=None, help="seconds of fault injection (default 0.6 s per fault)")
    p.add_argument("--json", type=Path, default=None, help="write the full result here")
    p.add_argument("--quick", action="store_true", help="a short run (under a minute) that checks the harness")
    p.add_argument("--no-fail", action="store_true", help="exit 0 even when the audit finds problems")
    p.add_argument("--workdir", type=Path, default=None, help="keep logs, configs and reports here")
    p.add_argument("--stop-grace", type=float, default=None, help="seconds a strategy may take to exit after SIGTERM")
    p.add_argument(
        "--settle", type=float, default=None, help="quiet seconds after the faults before SIGTERM (default 10; 1 quick)"
    )
    args = p.parse_args(argv)
    if args.faults is None:
        args.faults = 20 if args.quick else 1000
    if args.faults < 0:
        p.error("--faults must be >= 0")
    if args.duration is None:
        args.duration = 15.0 if args.quick else max(30.0, args.faults * 0.6)
    if args.duration <= 0:
        p.error("--duration must be > 0")
    if args.settle is None:
        args.settle = 1.0 if args.quick else 10.0
    if args.stop_grace is None:
        args.stop_grace = 10.0 if args.quick else 60.0
    return args


def recovery_stats(faults: list[Fault]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per fault kind and per path: n, p50, p99, max (seconds) and how many never recovered."""
    by_kind: dict[str, list[float | None]] = {}
    by_path: dict[str, list[float | None]] = {}
    for f in faults:
        if not f.recovery:
            continue
        vals = list(f.recovery.values())
        worst = None if any(v is None for v in vals) else max(v for v in vals if v is not None)
        by_kind.setdefault(f.kind, []).append(worst)
        for check, v in f.recovery.items():
            path = {"user": "user_stream", "market": "market_data", "cmd": "command", "registry": "registry"}[
                check.split(":")[0]
            ]
            if f.kind == "runner_kill":
                path += "_after_runner_restart"
            elif _restarting(check, f, faults):
                path += "_during_runner_restart"
            by_path.setdefault(path, []).append(v)
    return _stats(by_kind), _stats(by_path)


def _restarting(check: str, f: Fault, faults: list[Fault]) -> bool:
    """The check's runner was killed before ``f`` and had not recovered when ``f`` was injected
    (or ``f`` is a Redis restart while a runner restart was pending: registration included)."""
    venues = set(VENUES) if check.split(":")[0] == "registry" and len(check.split(":")) < 2 else {check.split(":")[1]}
    for g in faults:
        if g.seq >= f.seq or g.kind != "runner_kill" or g.venue not in venues or not g.t0:
            continue
        vals = list(g.recovery.values())
        done = g.t0 + (max(v for v in vals if v is not None) if vals and None not in vals else 30.0)
        if g.t0 <= f.t0 < done:
            return True
    return False


def _stats(groups: dict[str, list[float | None]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, vals in sorted(groups.items()):
        ok = sorted(v for v in vals if v is not None)
        out[name] = {
            "n": len(vals),
            "not_recovered": len(vals) - len(ok),
            "p50_s": round(percentile(ok, 50), 3) if ok else None,
            "p99_s": round(percentile(ok, 99), 3) if ok else None,
            "max_s": round(ok[-1], 3) if ok else None,
        }
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tradebus-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    journal = strategy_journal_flag()
    args.journal = journal is not None
    faults = plan(args.faults, random.Random(rng.random()), journal=journal is not None)
    log(f"workdir {workdir}; {len(faults)} faults over {args.duration:.0f}s; strategy journal flag: {journal}")
    t_start = time.monotonic()
    with Children(workdir) as kids:
        cluster = Cluster(workdir, args.seed, kids)
        probe: Probe | None = None
        try:
            cluster.start_redis()
            cluster.start_venues()
            for venue in VENUES:
                cluster.start_runner(venue)
            for venue in VENUES:
                cluster.wait_runner(venue)
            log(f"venues and runners ready in {time.monotonic() - t_start:.1f}s")
            for spec in STRATEGIES:
                extra: tuple[str, ...] = ()
                if journal == "--data-dir":
                    extra = (journal, str(workdir / "data" / spec.name))
                elif journal == "--journal":
                    extra = (journal, str(workdir / "data" / spec.name / "journal.sqlite3"))
                cluster.start_strategy(spec, strategy_config(spec), extra)
            probe = Probe(cluster.redis_url, {v: cluster.venues[v].port for v in VENUES})
            probe.start()
            late = cluster.wait_strategies_started(60)
            if late:
                raise ChildFailed(f"strategies not started within 60s: {late} (logs in {workdir})")
            driver = MarketDriver(cluster, random.Random(rng.random()), 3.0 if args.quick else 5.0)
            result = _chaos(args, cluster, probe, driver, faults)
            result["setup_s"] = round(time.monotonic() - t_start - result["chaos_s"] - result["end_s"], 1)
            result["workdir"] = str(workdir)
            result["strategy_journal_flag"] = journal
            return result
        finally:
            if probe is not None:
                probe.stop()
            cluster.stop_all()


def _pending(f: Fault, cluster: Cluster) -> bool:
    try:
        return request_pending(f, cluster)
    except Exception:  # noqa: BLE001 - a venue that does not answer gets the fault anyway (and fails it)
        return False


def _note_crashes(cluster: Cluster, t0: float, runner_crashes: list[dict[str, Any]], *, say: bool = True) -> None:
    """Runners that exited on their own since the last look (the cluster restarts them)."""
    for crash in cluster.supervise(time.monotonic()):
        crash["t"] = round(time.monotonic() - t0, 1)
        runner_crashes.append(crash)
        if say:
            log(f"runner {crash['runner']} exited on its own (status {crash['status']}): {crash['last_line'][:160]}")


def _inject_faults(
    args: argparse.Namespace,
    cluster: Cluster,
    probe: Probe,
    driver: MarketDriver,
    faults: list[Fault],
    t0: float,
    runner_crashes: list[dict[str, Any]],
) -> tuple[list[tuple[Fault, Any]], dict[str, int]]:
    """The chaos phase: one fault every ``duration / len(faults)`` seconds while the market
    moves; (faults with a recovery check pending, strategies that exited meanwhile)."""
    interval = args.duration / max(1, len(faults))
    swap_rng = random.Random(args.seed * 7919 + 1)
    pending: list[tuple[Fault, Any]] = []
    nxt = 0
    crashed: dict[str, int] = {}
    log(f"injecting: one fault every {interval:.2f}s")
    while time.monotonic() - t0 < args.duration or nxt < len(faults):
        now = time.monotonic()
        driver.tick(now)
        if nxt < len(faults) and now >= t0 + nxt * interval:
            f = faults[nxt]
            if f.kind in REQUEST_KINDS and _pending(f, cluster):
                f = faults[nxt] = replacement(f, swap_rng, journal=args.journal)
            nxt += 1
            f.t0 = time.time()
            inject(f, cluster)
            if f.checks:
                pending.append((f, probe.submit(probe.recover(f.checks, f.t0))))
            if nxt % 50 == 0:
                log(f"{nxt}/{len(faults)} faults injected")
        _note_crashes(cluster, t0, runner_crashes)
        for name, s in cluster.strategies.items():
            if not s.child.alive() and name not in crashed:
                crashed[name] = s.child.proc.returncode
                log(f"strategy {name} exited during the run (status {crashed[name]})")
        time.sleep(0.02)
    return pending, crashed


def _chaos(
    args: argparse.Namespace, cluster: Cluster, probe: Probe, driver: MarketDriver, faults: list[Fault]
) -> dict[str, Any]:
    t0 = time.monotonic()
    runner_crashes: list[dict[str, Any]] = []
    pending, crashed = _inject_faults(args, cluster, probe, driver, faults, t0, runner_crashes)
    chaos_s = time.monotonic() - t0
    t_end = time.monotonic()
    log("faults done: disarming the venues, flattening the basis, waiting for recoveries")
    fired: dict[str, Any] = {}
    for venue in VENUES:
        try:
            fired[venue] = cluster.ctl(venue).call("GET", "/_sim/faults").get("fired", {})
            cluster.ctl(venue).call("DELETE", "/_sim/faults")
        except Exception as exc:  # noqa: BLE001 - reported, the audit still runs
            fired[venue] = {"error": str(exc)}
    driver.flatten()
    settle_end = time.monotonic() + args.settle
    while time.monotonic() < settle_end:  # a quiet market: open positions exit on their own
        _note_crashes(cluster, t0, runner_crashes, say=False)
        time.sleep(0.1)
    for f, fut in pending:
        try:
            f.recovery = fut.result(probe.deadline_s + 5)
        except Exception as exc:  # noqa: BLE001 - a failed check is that fault's error; the audit still runs
            f.error = f.error or f"recovery check failed: {exc!r}"
    deadline = time.monotonic() + 60  # every runner up (restarted if it crashes) before the strategies unwind
    while cluster.registered() != set(VENUES) and time.monotonic() < deadline:
        _note_crashes(cluster, t0, runner_crashes)
        time.sleep(0.1)
    log("stopping the strategies (SIGTERM)")
    cluster.stop_strategies(args.stop_grace)
    time.sleep(1.0)  # the runners' last events out
    venues = {v: cluster.ctl(v).call("GET", "/_sim/orders") for v in VENUES}
    specs = [s.spec for s in cluster.strategies.values()]
    runner_orders, execs, lots, runner_open = probe.run(_runner_view(probe, venues, specs), 120)
    ends = {
        name: StrategyEnd(s.spec, s.report, s.exit_status, s.stop_s, s.error, cluster.journal_fills(name))
        for name, s in cluster.strategies.items()
    }
    result = audit(venues, runner_orders, execs, ends, lots, runner_open)
    by_kind, by_path = recovery_stats(faults)
    injected: dict[str, int] = {}
    replaced: dict[str, int] = {}
    for f in faults:
        if f.replaces:
            replaced[f.replaces] = replaced.get(f.replaces, 0) + 1
    for f in faults:
        if not f.error and not f.skipped:
            injected[f.kind] = injected.get(f.kind, 0) + 1
    summary = {
        k: result[k]
        for k in ("orders_at_venues", "fills_at_venues", *GATE, "runner_state_mismatches", "unresolved_at_end")
    }
    summary["faults_injected"] = sum(injected.values())
    summary["user_stream_recovery_p99_s"] = by_path.get("user_stream", {}).get("p99_s")
    summary["not_recovered"] = sum(v["not_recovered"] for v in by_kind.values())
    summary["runner_crashes"] = len(runner_crashes)
    return {
        "summary": summary,
        "faults_injected_by_kind": dict(sorted(injected.items())),
        "faults_failed_to_inject": [f.to_json() for f in faults if f.error],
        "faults_skipped": [f.to_json() for f in faults if f.skipped],
        "faults_fired_at_venues": fired,
        "request_faults_replaced": dict(sorted(replaced.items())),
        "recovery_by_kind": by_kind,
        "recovery_by_path": by_path,
        "strategies_exited_during_run": crashed,
        "runner_crashes": runner_crashes,
        "probe": {"gaps": probe.gaps, "deposit_errors": probe.deposit_errors},
        "market_phases": driver.phases,
        "chaos_s": round(chaos_s, 1),
        "end_s": round(time.monotonic() - t_end, 1),
        "faults": [f.to_json() for f in faults],
        **result,
    }


async def _runner_view(
    probe: Probe, venues: dict[str, dict[str, Any]], specs: list[Any]
) -> tuple[
    dict[tuple[str, str], dict[str, Any]],
    dict[tuple[str, str], Decimal],
    dict[tuple[str, str], Decimal],
    dict[str, list[dict[str, Any]]],
]:
    """The runners' answers about every strategy order the venues hold (and the instruments' lots)."""
    from chaoslib.audit import wire_client_id

    router = probe.router()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    lots: dict[tuple[str, str], Decimal] = {}
    for venue in VENUES:
        for kind in MarketKind:
            key = InstrumentKey(Exchange(venue), "BTCUSDT", kind)
            try:
                inst = await router.get_instrument(key, timeout_s=5)
                lots[(venue, kind.value)] = max(inst.step_size, inst.min_qty)
            except Exception:  # noqa: BLE001 - a default lot is used
                pass
    open_orders: dict[str, list[dict[str, Any]]] = {}
    for venue in VENUES:
        try:
            got_open = await router.get_open_orders(Exchange(venue), timeout_s=10)
        except Exception as exc:  # noqa: BLE001 - the runner's answer, whatever it is, is data
            open_orders[venue] = [{"error": f"{type(exc).__name__}: {exc}"[:200]}]
            continue
        open_orders[venue] = [
            {
                "client_id": o.client_id,
                "status": o.status.value,
                "filled_qty": str(o.filled_qty),
                "kind": o.key.kind.value,
            }
            for o in got_open
        ]
    for venue in VENUES:
        try:
            got_pos = await router.get_all_positions(Exchange(venue), timeout_s=10)
        except Exception as exc:  # noqa: BLE001 - the runner's answer, whatever it is, is data
            open_orders.setdefault("_positions", []).append(
                {"venue": venue, "error": f"{type(exc).__name__}: {exc}"[:200]}
            )
            continue
        for pos in got_pos:
            open_orders.setdefault("_positions", []).append(
                {"venue": venue, "symbol": pos.key.symbol, "size": str(pos.size)}
            )
    sem = asyncio.Semaphore(16)

    async def one(venue: str, o: dict[str, Any]) -> None:
        cid = wire_client_id(venue, str(o["client_order_id"]))
        if owner(cid, venue, specs) is None:
            return
        key = InstrumentKey(Exchange(venue), "BTCUSDT", MarketKind(o["kind"]))
        async with sem:
            try:
                got = await router.get_order(key, client_id=cid, timeout_s=10)
            except Exception as exc:  # noqa: BLE001 - the runner's answer, whatever it is, is data
                out[(venue, cid)] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                return
        out[(venue, cid)] = {"status": got.status.value, "filled_qty": str(got.filled_qty)}

    await asyncio.gather(*(one(v, o) for v, book in venues.items() for o in book.get("orders", [])))
    execs = {k: v.max_filled for k, v in probe.execs.items()}
    return out, execs, lots, open_orders


def print_summary(result: dict[str, Any]) -> None:
    s = result["summary"]
    rows = [(k, str(v)) for k, v in s.items()]
    width = max(len(k) for k, _ in rows)
    print("\nchaos run summary")
    for k, v in rows:
        flag = "  <-- FAIL" if k in GATE and v not in ("0", "None") else ""
        print(f"  {k:<{width}}  {v}{flag}")
    print("\nfaults injected / recovery (s)                   n   p50     p99     max   not recovered")
    kinds = sorted(set(result["faults_injected_by_kind"]) | set(result["recovery_by_kind"]))
    for kind in kinds:
        r = result["recovery_by_kind"].get(kind)
        n = result["faults_injected_by_kind"].get(kind, 0)
        if r:
            print(f"  {kind:<44} {n:>4}  {_f(r['p50_s'])}  {_f(r['p99_s'])}  {_f(r['max_s'])}  {r['not_recovered']:>4}")
        else:
            print(f"  {kind:<44} {n:>4}  (no recovery check)")
    for path, r in result["recovery_by_path"].items():
        label = f"path {path}"
        print(
            f"  {label:<44} {r['n']:>4}  {_f(r['p50_s'])}  {_f(r['p99_s'])}  {_f(r['max_s'])}  {r['not_recovered']:>4}"
        )
    for name, cases in result["cases"].items():
        print(f"\n{name}: {len(cases)} case(s)")
        for case in cases[:8]:
            print("  " + json.dumps(case, default=str)[:300])


def _f(v: float | None) -> str:
    return f"{v:6.2f}" if v is not None else "     -"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    try:
        result = run(args)
    except (ChildFailed, OSError, RuntimeError) as exc:
        log(f"harness failed: {exc}")
        return 2
    result["params"] = {
        "faults": args.faults,
        "seed": args.seed,
        "duration_s": args.duration,
        "quick": args.quick,
        "kinds": KINDS,
    }
    result["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    result["wall_s"] = round(time.time() - started, 1)
    result["machine"] = machine_facts()
    failed = [k for k in GATE if result["summary"][k]]
    result["passed"] = not failed
    print_summary(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    if failed:
        summary = result["summary"]
        log("FAILED: " + ", ".join(f"{k}={summary[k]}" for k in failed))
        return 0 if args.no_fail else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
