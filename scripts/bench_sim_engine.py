#!/usr/bin/env python
"""Benchmark the simulator engine: orders/s and steps/s (a script, not a test).

    .venv/bin/python scripts/bench_sim_engine.py [--seconds 1.0] [--json PATH]

Each scenario runs for about ``--seconds`` of engine time (re-quoting between orders is not
counted) and reports operations per second and the mean/p50/p99 latency of one operation.
``listener`` variants attach one no-op listener so events are built and delivered.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchanges.sim.engine import ManualClock, SimConfig, SimEvent, SimVenue
from strategy_client.model import MarketKind, OrderType, Side, TimeInForce

SPOT, PERP = MarketKind.SPOT, MarketKind.PERP


def new_venue(listener: bool) -> tuple[SimVenue, ManualClock]:
    clock = ManualClock()
    big = {"USDT": Decimal("1e12"), "BTC": Decimal("1e6"), "ETH": Decimal("1e7")}
    venue = SimVenue(
        SimConfig(starting_balances=big, futures_starting_balance={"USDT": Decimal("1e12")}), clock=clock
    )
    venue.add_account("bench")
    if listener:

        def sink(_: SimEvent) -> None:
            return None

        venue.listen(sink)
    return venue, clock


def measure(
    op: Callable[[int], None], between: Callable[[int], None] | None, seconds: float
) -> dict[str, float]:
    """Run ``op(i)`` until ``seconds`` of its own time are spent; ``between`` runs untimed."""
    samples: list[int] = []
    spent = 0
    i = 0
    budget = int(seconds * 1e9)
    while spent < budget:
        if between is not None:
            between(i)
        t0 = time.perf_counter_ns()
        op(i)
        dt = time.perf_counter_ns() - t0
        samples.append(dt)
        spent += dt
        i += 1
    samples.sort()
    mean_us = spent / len(samples) / 1000
    return {
        "ops": len(samples),
        "per_s": round(len(samples) / (spent / 1e9)),
        "mean_us": round(mean_us, 2),
        "p50_us": round(statistics.median(samples) / 1000, 2),
        "p99_us": round(samples[int(len(samples) * 0.99) - 1] / 1000, 2),
    }


def market_small(kind: MarketKind, listener: bool, seconds: float) -> dict[str, float]:
    """MARKET orders that take from the top level (buy/sell alternating)."""
    venue, clock = new_venue(listener)
    qty = Decimal("0.002")

    def op(i: int) -> None:
        venue.place_order(
            "bench",
            kind,
            "BTCUSDT",
            Side.BUY if i % 2 else Side.SELL,
            OrderType.MARKET,
            TimeInForce.GTC,
            qty,
            None,
            "",
        )

    def between(i: int) -> None:
        if i % 200 == 0:
            clock.advance(100)
            venue.step()

    return measure(op, between, seconds)


def market_sweep(kind: MarketKind, levels: int, listener: bool, seconds: float) -> dict[str, float]:
    """MARKET orders that sweep ``levels`` levels of the 20-level book (re-quoted between)."""
    venue, clock = new_venue(listener)
    qty = Decimal("0.5") * levels - Decimal("0.25")

    def op(i: int) -> None:
        venue.place_order(
            "bench",
            kind,
            "BTCUSDT",
            Side.BUY if i % 2 else Side.SELL,
            OrderType.MARKET,
            TimeInForce.GTC,
            qty,
            None,
            "",
        )

    def between(i: int) -> None:
        clock.advance(100)
        venue.step()

    return measure(op, between, seconds)


def limit_place_cancel(kind: MarketKind, listener: bool, seconds: float) -> dict[str, float]:
    """A resting LIMIT order placed then cancelled (two calls per op)."""
    venue, _ = new_venue(listener)
    price = venue.book(kind, "BTCUSDT", 20).bids[-1][0]
    qty = Decimal("0.01")

    def op(i: int) -> None:
        o = venue.place_order(
            "bench", kind, "BTCUSDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, qty, price, ""
        )
        venue.cancel_order("bench", kind, "BTCUSDT", order_id=o.order_id)

    return measure(op, None, seconds)


def steps(listener: bool, resting: int, seconds: float) -> dict[str, float]:
    """``step()`` of the default venue (2 spot + 2 perp books) 100 ms apart, with ``resting``
    user orders on the books."""
    venue, clock = new_venue(listener)
    for i in range(resting):
        kind = SPOT if i % 2 else PERP
        bid = venue.book(kind, "BTCUSDT", 1).bids[0][0]
        venue.place_order(
            "bench",
            kind,
            "BTCUSDT",
            Side.BUY,
            OrderType.LIMIT,
            TimeInForce.GTC,
            Decimal("0.01"),
            bid - 50 - i % 100,
            "",
        )

    def op(i: int) -> None:
        clock.advance(100)
        venue.step()

    return measure(op, None, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="engine time per scenario")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    s = args.seconds
    results: dict[str, dict[str, float]] = {}
    scenarios: list[tuple[str, Callable[[], dict[str, float]]]] = [
        ("market_top_level_spot", lambda: market_small(SPOT, False, s)),
        ("market_top_level_perp", lambda: market_small(PERP, False, s)),
        ("market_top_level_perp_listener", lambda: market_small(PERP, True, s)),
        ("market_sweep_3_levels_spot", lambda: market_sweep(SPOT, 3, False, s)),
        ("market_sweep_3_levels_perp_listener", lambda: market_sweep(PERP, 3, True, s)),
        ("market_sweep_20_levels_perp", lambda: market_sweep(PERP, 20, False, s)),
        ("limit_place_cancel_spot", lambda: limit_place_cancel(SPOT, False, s)),
        ("limit_place_cancel_perp_listener", lambda: limit_place_cancel(PERP, True, s)),
        ("step_4_books", lambda: steps(False, 0, s)),
        ("step_4_books_listener", lambda: steps(True, 0, s)),
        ("step_4_books_200_resting_orders", lambda: steps(False, 200, s)),
    ]
    print(f"{'scenario':40} {'ops/s':>10} {'mean µs':>9} {'p50 µs':>9} {'p99 µs':>9}")
    for name, run in scenarios:
        gc.collect()  # start each scenario without the previous one's garbage
        r = run()
        results[name] = r
        print(f"{name:40} {r['per_s']:>10} {r['mean_us']:>9} {r['p50_us']:>9} {r['p99_us']:>9}")
    report = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "platform": platform.platform(),
        "seconds_per_scenario": s,
        "results": results,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
