#!/usr/bin/env python
"""Overhead of metrics and tracing on the runner's hot path (a script, not a test).

    .venv/bin/python scripts/bench_overhead.py [--n 20000] [--repeats 5] [--rtt 1500] [--json PATH]

Each case runs the runner's real code with telemetry **off**, **metrics** on (a
``RunnerMetrics`` registry, its venue observer and command observer installed), **tracing** on
(an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` feeding an exporter that discards, so
the cost measured is the process's, not a collector's) and **both**:

* ``book`` — the market-data path: a book through the drop-oldest feed queue, the
  PriceManager actor (cache, publish: header + event encoded, PUB send) and the per-stream
  counter. With metrics on, ``/metrics`` is rendered every 10 000 books and its cost is included
  (a 5 s scrape interval at 2 000 books/s).
* ``command`` — one CoreApi request through ``ZmqServer``: decode header and request, handler
  (a prepared ``pong``), encode and send the reply. ``tracing+tp`` sends a W3C ``traceparent``
  so the runner continues the caller's trace.
* ``actor_ask`` — one ``ask`` round trip to an actor (the hop every command makes); with tracing
  on, the caller's context travels with the message.
* ``venue_hook`` — ``exchanges.telemetry.observe_request`` around a venue call that does nothing.
* ``client_span`` — the client's span around a CoreApi call that does nothing.
* ``scrape`` — rendering ``/metrics`` of a runner with a day's worth of series (ms, not µs).
* ``rtt`` — end to end: real runners on their embedded venues (one with metrics, one without),
  ``ZmqCommandClient`` calls over TCP one after another (``ping``; ``get_reference_price``,
  which goes through the price actor), tracing switched on and off between rounds of 100.

Reports µs per operation: best and median over ``--repeats`` runs (rtt: median and p99 of
``--rtt`` calls per variant). Numbers from a shared 2-core machine are noisy; compare
within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import zmq
import zmq.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import generate_latest

from exchange_runner.actors.base import Actor
from exchange_runner.actors.price import PriceManager
from exchange_runner.config import RunnerConfig
from exchange_runner.localredis import LocalRedisServer
from exchange_runner.metrics import RunnerMetrics
from exchange_runner.ports import free_port, free_port_pair
from exchange_runner.publisher import Publisher
from exchange_runner.runner import ExchangeRunner
from exchange_runner.venues import open_venue
from exchange_runner.zmq_server import ZmqServer
from exchanges.base import ExchangeAdapter
from exchanges.telemetry import observe_request, observing
from strategy_client.command_client import ZmqCommandClient
from strategy_client.model import BookLevel, Exchange, InstrumentKey, MarketKind, OrderBook
from strategy_client.telemetry import (
    client_span,
    server_span,
    setup_tracing,
    shutdown_tracing,
)
from strategy_client.wire import (
    PROTOCOL_VERSION,
    GetReferencePrice,
    Header,
    Ping,
    Pong,
    Reply,
    Request,
    encode,
)

VARIANTS = ("off", "metrics", "tracing", "both")
KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Discard(SpanExporter):
    """Accepts every span and keeps none (the process's tracing cost without a collector)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def tracing(on: bool) -> None:
    shutdown_tracing()
    if on:
        setup_tracing("tradebus-bench", exporter=Discard(), batch=True)


_DUMMY: list[ExchangeRunner] = []


def dummy_runner(cfg: RunnerConfig) -> ExchangeRunner:
    """One runner object for metrics (never run): the collector reads its attributes."""
    if not _DUMMY:
        _DUMMY.append(ExchangeRunner(cfg, cast(ExchangeAdapter, object())))
    return _DUMMY[0]


def books(n: int) -> list[OrderBook]:
    out = []
    for i in range(n):
        px = Decimal(64250) + Decimal(i % 50) / 10
        out.append(
            OrderBook(
                key=KEY,
                bids=tuple(BookLevel(px - Decimal(j) / 10, Decimal("1.5")) for j in range(5)),
                asks=tuple(BookLevel(px + Decimal(j + 1) / 10, Decimal("1.2")) for j in range(5)),
                venue_ts_ms=1_700_000_000_000 + i,
                local_ts_ns=time.time_ns(),
                sequence=i + 1,
            )
        )
    return out


# -- cases ------------------------------------------------------------------------------------


async def case_book(variant: str, n: int) -> float:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, 100_000)
    pub.bind_to_random_port("tcp://127.0.0.1")
    publisher = Publisher(pub, Exchange.BINANCE)
    prices = PriceManager(cast(ExchangeAdapter, object()), publisher, [KEY], queue_size=n + 1)
    metrics = None
    if variant in ("metrics", "both"):
        runner = dummy_runner(RunnerConfig())
        runner.publisher = publisher
        runner.prices = prices
        metrics = RunnerMetrics(runner)
    counts: dict[str, int] = {}
    items = books(n)
    task = asyncio.create_task(prices.run())
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    for i, book in enumerate(items):
        counts["books"] = counts.get("books", 0) + 1  # the runner's per-stream counter
        prices.feed.put_nowait(book)
        if i % 256 == 255:
            await asyncio.sleep(0)  # the actor drains, as between two socket reads
        if metrics is not None and i % 10_000 == 9_999:
            generate_latest(metrics.registry)
    while prices.books_in < n:  # noqa: ASYNC110 - a benchmark's spin on the actor's counter
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - t0
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    pub.close(linger=0)
    return elapsed


class FakeRouter:
    """Takes replies and drops them: the server's own cost, without a socket."""

    def send_multipart(self, frames: Sequence[bytes], *_: Any, **__: Any) -> None:
        return None


async def case_command(variant: str, n: int, *, with_tp: bool = False) -> float:
    pong = Pong(exchange=Exchange.BINANCE, runner_version="bench", protocol_version=PROTOCOL_VERSION)

    async def handler(req: Request, header: Header) -> Reply:
        return pong

    metrics = (
        RunnerMetrics(dummy_runner(RunnerConfig()), process_metrics=False) if variant in ("metrics", "both") else None
    )
    server = ZmqServer(
        cast(zmq.asyncio.Socket, FakeRouter()),
        handler,
        exchange="binance",
        on_command=metrics.command_done if metrics is not None else None,
    )
    header = encode(Header(id="c-1", ts=time.time_ns(), tp=TRACEPARENT if with_tp else "", timeout_ms=5000))
    frames = [b"peer", header, encode(Ping())]
    t0 = time.perf_counter()
    for _ in range(n):
        await server._dispatch(frames)
    return time.perf_counter() - t0


class Echo(Actor[int]):
    def _handle(self, msg: int) -> int:
        return msg


async def case_actor(variant: str, n: int) -> float:
    actor = Echo("echo")
    task = asyncio.create_task(actor.run())
    await asyncio.sleep(0)
    with server_span("bench"):  # what a command's handler runs in (a no-op while tracing is off)
        t0 = time.perf_counter()
        for i in range(n):
            await actor.ask(i, 5.0)
        elapsed = time.perf_counter() - t0
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return elapsed


async def case_venue_hook(variant: str, n: int) -> float:
    metrics = (
        RunnerMetrics(dummy_runner(RunnerConfig()), process_metrics=False) if variant in ("metrics", "both") else None
    )
    with observing(metrics), server_span("bench"):
        t0 = time.perf_counter()
        for _ in range(n):
            with observe_request("binance-futures", "/fapi/v1/order", "POST"):
                pass
        return time.perf_counter() - t0


async def case_client_span(variant: str, n: int) -> float:
    from strategy_client.telemetry.strategy_metrics import StrategyMetrics

    metrics = StrategyMetrics("bench") if variant in ("metrics", "both") else None
    if metrics is not None:
        metrics.attach_client()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            with client_span("get_reference_price"):
                pass
        return time.perf_counter() - t0
    finally:
        if metrics is not None:
            metrics.detach_client()


def scrape_cost(repeats: int) -> dict[str, float]:
    runner = dummy_runner(RunnerConfig())
    metrics = RunnerMetrics(runner)
    methods = ("ping", "submit_order", "cancel_order", "get_order", "get_reference_price", "get_position")
    for m in methods:
        for outcome in ("ok", "venue_rejected"):
            metrics.command_done(m, outcome, 0.002)
    for i in range(16):  # what a Binance runner touches in a day: ~16 endpoints, a few failures
        metrics.request_done("binance-futures", f"/fapi/v1/endpoint{i}", "GET", "ok", 0.01)
        if i % 4 == 0:
            metrics.request_done("binance-futures", f"/fapi/v1/endpoint{i}", "GET", "rejected", 0.01)
    for kind in ("spot", "perp"):
        metrics.order_acked(kind, "ok", 0.01)
        metrics.order_filled(kind, 0.05)
    for s in ("binance:spot:depth#1", "binance:perp:depth#2", "binance:perp:user", "binance:spot:user"):
        metrics.ws_state(s, True, True)
    times = []
    size = 0
    for _ in range(max(repeats, 5) * 4):
        t0 = time.perf_counter()
        size = len(generate_latest(metrics.registry))
        times.append(time.perf_counter() - t0)
    return {"best_ms": min(times) * 1e3, "median_ms": statistics.median(times) * 1e3, "bytes": size}


# -- end to end -------------------------------------------------------------------------------


async def rtt(calls: int, redis_url: str) -> dict[str, dict[str, dict[str, float]]]:
    """Two runners in this loop (metrics off / on); tracing switched on and off between rounds.

    The four variants are interleaved in rounds of 100 calls, so machine noise (other processes
    on a shared box) spreads over all of them instead of landing on one.
    """
    async with contextlib.AsyncExitStack() as stack:
        runners: dict[bool, ExchangeRunner] = {}
        clients: dict[bool, ZmqCommandClient] = {}
        for with_metrics in (False, True):
            cfg = RunnerConfig(
                redis_url=redis_url,
                name=f"bench-{os.getpid()}-{int(with_metrics)}",
                symbols=["BTCUSDT"],
                sim_port_base=free_port_pair(),
                metrics_port=free_port() if with_metrics else 0,
            )
            adapter = await stack.enter_async_context(open_venue(cfg))
            runner = runners[with_metrics] = ExchangeRunner(cfg, adapter)
            task = asyncio.create_task(runner.run())
            stack.push_async_callback(asyncio.wait_for, task, 20)
            stack.callback(runner.stop)
            while not runner.started.is_set():
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
            clients[with_metrics] = await stack.enter_async_context(ZmqCommandClient(runner.router_endpoint))
        requests: dict[str, Request] = {"ping": Ping(), "get_reference_price": GetReferencePrice(key=KEY)}
        samples: dict[tuple[str, str], list[float]] = {(v, r): [] for v in VARIANTS for r in requests}
        for cli in clients.values():
            for req in requests.values():
                for _ in range(200):  # warm up
                    await cli.call(req)
        block = 100
        for _ in range(max(1, calls // block)):
            for traced in (False, True):
                tracing(traced)
                for with_metrics, cli in clients.items():
                    variant = VARIANTS[int(with_metrics) + 2 * int(traced)]
                    for name, req in requests.items():
                        bucket = samples[variant, name]
                        for _ in range(block):
                            with client_span(name) as span:
                                t0 = time.perf_counter()
                                await cli.call(req, traceparent=span.traceparent)
                                bucket.append(time.perf_counter() - t0)
        tracing(False)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (variant, name), got in samples.items():
        got.sort()
        out.setdefault(variant, {})[name] = {
            "median_us": statistics.median(got) * 1e6,
            "p99_us": got[max(0, int(len(got) * 0.99) - 1)] * 1e6,
        }
    return out


# -- driver -----------------------------------------------------------------------------------


async def timed(run: Callable[[str, int], Awaitable[float]], variant: str, n: int, repeats: int) -> dict[str, float]:
    tracing(variant in ("tracing", "both") or variant == "tracing+tp")
    per_op = []
    for _ in range(repeats):
        per_op.append(await run(variant, n) / n * 1e6)
    tracing(False)
    return {"best_us": min(per_op), "median_us": statistics.median(per_op)}


async def run_all(n: int, repeats: int, rtt_calls: int) -> dict[str, Any]:
    from loguru import logger

    logger.remove()  # the runner's own logs are not what is measured
    results: dict[str, Any] = {}
    cases: dict[str, Callable[[str, int], Awaitable[float]]] = {
        "book": case_book,
        "command": case_command,
        "actor_ask": case_actor,
        "venue_hook": case_venue_hook,
        "client_span": case_client_span,
    }
    for name, fn in cases.items():
        results[name] = {}
        for variant in VARIANTS:
            results[name][variant] = await timed(fn, variant, n, repeats)
            print(f"{name:<12} {variant:<11} {results[name][variant]['best_us']:8.2f} µs best  "
                  f"{results[name][variant]['median_us']:8.2f} µs median", flush=True)  # fmt: skip
        if name == "command":
            # a caller's trace continued (always sampled: the caller sampled it), and roots sampled at 1 %
            extra = {
                "tracing+tp": ("tracing", True, {}),
                "both+tp": ("both", True, {}),
                "tracing 1%": (
                    "tracing",
                    False,
                    {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
                ),
            }
            for label, (variant, with_tp, env) in extra.items():
                os.environ.update(env)
                try:
                    tracing(True)
                    per_op = [await case_command(variant, n, with_tp=with_tp) / n * 1e6 for _ in range(repeats)]
                finally:
                    tracing(False)
                    for key in env:
                        os.environ.pop(key, None)
                results[name][label] = {"best_us": min(per_op), "median_us": statistics.median(per_op)}
                print(f"{name:<12} {label:<11} {min(per_op):8.2f} µs best  "
                      f"{statistics.median(per_op):8.2f} µs median", flush=True)  # fmt: skip
    results["scrape"] = scrape = scrape_cost(repeats)
    best, median, size = scrape["best_ms"], scrape["median_ms"], scrape["bytes"]
    print(f"scrape       /metrics    {best:8.2f} ms best  {median:8.2f} ms median  ({size:.0f} bytes)", flush=True)
    if rtt_calls:
        server = LocalRedisServer()
        server.start()
        try:
            results["rtt"] = got = await rtt(rtt_calls, server.url)
            for variant in VARIANTS:
                for call, stats in got[variant].items():
                    print(f"rtt {call:<20} {variant:<8} {stats['median_us']:8.1f} µs median  "
                          f"{stats['p99_us']:8.1f} µs p99", flush=True)  # fmt: skip
        finally:
            server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="operations per run of each micro case")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rtt", type=int, default=1500, help="calls per end-to-end variant (0 = skip)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    results = runner(run_all(args.n, args.repeats, args.rtt))
    if args.json is not None:
        payload = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "n": args.n,
            "repeats": args.repeats,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
