#!/usr/bin/env python
"""Benchmark decoding Binance depth payloads into OrderBook (a script, not a test).

    .venv/bin/python scripts/bench_decode.py [--messages 20000] [--repeats 5] [--json PATH]

Each case is the full edge path of one message: bytes → reused msgspec Decoder → venue Struct
→ pure parse function → ``OrderBook`` (Decimal prices and sizes):

* ``rest_*_depth{N}``: ``GET /api/v3/depth`` / ``GET /fapi/v1/depth`` bodies with N levels a side,
  through ``rest_schemas.DEPTH_DECODER`` and ``parse.parse_depth``;
* ``ws_*_depth5``: combined-stream ``@depth5@100ms`` frames (``{"stream":…,"data":…}``) through
  the decoders and parse functions the market stream uses (``ws_schemas`` / ``ws_parse``).

Payloads are real-shaped (reference §3, §6) and deterministic. Reports µs per message: the best
and the median over ``--repeats`` runs of ``--messages`` messages each.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchanges.binance.parse import parse_depth, perp_key, spot_key
from exchanges.binance.rest_schemas import DEPTH_DECODER
from exchanges.binance.ws_parse import parse_futures_depth, parse_spot_depth
from exchanges.binance.ws_schemas import Combined, FuturesDepth, SpotDepthPartial


def levels(mid: Decimal, tick: Decimal, n: int, side: int, qty_places: int) -> list[list[str]]:
    """``n`` levels away from ``mid``; sizes vary so no two strings repeat trivially."""
    q = Decimal(1).scaleb(-qty_places)
    out = []
    for i in range(n):
        price = mid + side * tick * (i + 1)
        qty = (Decimal("0.512") + Decimal(i * 37 % 101) / 7).quantize(q)
        out.append([str(price), str(qty)])
    return out


def spot_rest(n: int) -> bytes:
    mid, tick = Decimal("64250.10000000"), Decimal("0.01000000")
    body = {"lastUpdateId": 1027024, "bids": levels(mid, tick, n, -1, 8), "asks": levels(mid, tick, n, 1, 8)}
    return msgspec.json.encode(body)


def futures_rest(n: int) -> bytes:
    mid, tick = Decimal("64250.10"), Decimal("0.10")
    body = {
        "lastUpdateId": 8841152047,
        "E": 1752148800123,
        "T": 1752148800119,
        "bids": levels(mid, tick, n, -1, 3),
        "asks": levels(mid, tick, n, 1, 3),
    }
    return msgspec.json.encode(body)


def spot_ws_depth5() -> bytes:
    mid, tick = Decimal("64250.10"), Decimal("0.01")
    data = {"lastUpdateId": 160, "bids": levels(mid, tick, 5, -1, 3), "asks": levels(mid, tick, 5, 1, 3)}
    return msgspec.json.encode({"stream": "btcusdt@depth5@100ms", "data": data})


def futures_ws_depth5() -> bytes:
    mid, tick = Decimal("64250.10"), Decimal("0.10")
    data = {
        "e": "depthUpdate",
        "E": 1752148800123,
        "T": 1752148800119,
        "s": "BTCUSDT",
        "U": 8841152001,
        "u": 8841152047,
        "pu": 8841151990,
        "b": levels(mid, tick, 5, -1, 3),
        "a": levels(mid, tick, 5, 1, 3),
    }
    return msgspec.json.encode({"stream": "btcusdt@depth5@100ms", "data": data})


def cases() -> dict[str, tuple[bytes, Callable[[bytes], object]]]:
    spot, perp = spot_key("BTCUSDT"), perp_key("BTCUSDT")
    spot_ws = msgspec.json.Decoder(Combined[SpotDepthPartial]).decode
    fut_ws = msgspec.json.Decoder(Combined[FuturesDepth]).decode
    rest = DEPTH_DECODER.decode

    def rest_spot(raw: bytes) -> object:
        return parse_depth(rest(raw), spot, local_ts_ns=time.time_ns(), fallback_ts_ms=0)

    def rest_perp(raw: bytes) -> object:
        return parse_depth(rest(raw), perp, local_ts_ns=time.time_ns())

    def ws_spot(raw: bytes) -> object:
        msg = spot_ws(raw)
        return parse_spot_depth(msg.data, "BTCUSDT", time.time_ns())

    def ws_perp(raw: bytes) -> object:
        return parse_futures_depth(fut_ws(raw).data, time.time_ns())

    return {
        "ws_spot_depth5": (spot_ws_depth5(), ws_spot),
        "ws_futures_depth5": (futures_ws_depth5(), ws_perp),
        "rest_spot_depth20": (spot_rest(20), rest_spot),
        "rest_futures_depth20": (futures_rest(20), rest_perp),
        "rest_spot_depth100": (spot_rest(100), rest_spot),
        "rest_futures_depth100": (futures_rest(100), rest_perp),
    }


def run(fn: Callable[[bytes], object], raw: bytes, messages: int) -> float:
    """µs per message for ``messages`` decodes of ``raw``."""
    t0 = time.perf_counter_ns()
    for _ in range(messages):
        fn(raw)
    return (time.perf_counter_ns() - t0) / messages / 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000, help="messages per run (default 20000)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per case (default 5)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    if args.messages <= 0 or args.repeats <= 0:
        ap.error("--messages and --repeats must be positive")

    results: dict[str, dict[str, float | int]] = {}
    print(f"{'case':<24}{'bytes':>8}{'best µs/msg':>14}{'median µs/msg':>16}")
    for name, (raw, fn) in cases().items():
        book = fn(raw)  # warm up, and check the payload parses
        assert book is not None
        run(fn, raw, min(args.messages, 1000))
        samples = [run(fn, raw, args.messages) for _ in range(args.repeats)]
        best, median = min(samples), statistics.median(samples)
        results[name] = {"bytes": len(raw), "best_us": round(best, 3), "median_us": round(median, 3)}
        print(f"{name:<24}{len(raw):>8}{best:>14.2f}{median:>16.2f}")

    if args.json is not None:
        report = {
            "benchmark": "binance_depth_decode",
            "python": platform.python_version(),
            "msgspec": msgspec.__version__,
            "machine": platform.machine(),
            "messages": args.messages,
            "repeats": args.repeats,
            "results": results,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
