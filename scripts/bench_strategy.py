#!/usr/bin/env python
"""The tick-to-order benchmark's strategy process: a threshold on a book, an order when crossed.

    python scripts/bench_strategy.py --redis-url URL [--key binance:perp:BTCUSDT] [--drop-pct 1.0]

Uses only ``strategy_client``'s public API: a :class:`~strategy_client.ZmqRouter` finds the
runner in Redis, ``subscribe(kinds="book", keys=KEY)`` delivers its books, ``submit_order``
places orders. The threshold follows the market: the best ask of the last book that did *not*
cross, times ``1 - drop_pct/100``. A book whose best ask is at or below it is a tick to act on:
the strategy submits a BUY LIMIT IOC at that ask (the simulator's real asks are higher, so the
order expires unfilled) with client id ``tto-<book sequence>`` — the name the simulator's
latency probe matches to the book update that triggered it.

``--alternate A,B`` (the journal A/B of ``scripts/bench.py --journal-ab``): the books of the
runners named A and B (two runners of one venue, fed the same frames) are read side by side and
each trigger is answered through exactly one of them, drawn at random (seeded) when the first of
the two streams delivers it (:class:`Turns`; ``trace`` reports which went where). Both paths then
see the same machine, triggers 40 ms apart, in a shuffled order.

By default the order is awaited where the book was read (the simplest strategy: the request
leaves at once, books queue meanwhile). ``--order-tasks`` submits from a task per order instead,
so books keep being read while the runner and venue answer — one more turn of the event loop
before the request leaves.

For each order it keeps the wall-clock trail (``time.time_ns()``, one clock on one machine)
``[sequence, runner received the frame, runner published, strategy received, order submitted,
reply received]`` so the harness can split the tick-to-order time into its legs.

stdin/stdout: prints ``ready`` once subscribed; the line ``stats`` is answered with one JSON line
of counters, ``trace`` with ``{"trace": [trail, ...]}``; ``quit`` (or end of stdin, or SIGTERM)
exits.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_UP, Decimal
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib.childio import run_async, serve_stdin

from strategy_client import CoreApi, CoreApiError, Received, ZmqRouter
from strategy_client.model import (
    Instrument,
    InstrumentKey,
    OrderBook,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.wire import BookEvent

__all__ = ["ThresholdStrategy", "Turns", "main"]

MAX_TRACE = 100_000


class Turns:
    """``--alternate``: which runner answers each trigger — drawn (seeded, uniform) the first
    time either stream delivers that trigger, so the draw does not depend on the update ids'
    spacing; both streams then agree on it."""

    def __init__(self, ways: int, seed: int = 20) -> None:
        self.ways = ways
        self._rng = random.Random(seed)
        self.by_update: dict[int, int] = {}

    def takes(self, update_id: int, *, index: int) -> bool:
        turn = self.by_update.get(update_id)
        if turn is None:
            turn = self.by_update[update_id] = self._rng.randrange(self.ways)
        return turn == index


class ThresholdStrategy:
    def __init__(
        self,
        api: CoreApi,
        instrument: Instrument,
        drop_pct: Decimal,
        prefix: str,
        *,
        order_tasks: bool = False,
        takes: Callable[[int], bool] | None = None,
    ) -> None:
        self.api = api
        self.order_tasks = order_tasks
        self.takes = takes  # None: every trigger; else the triggers (by update id) this one answers
        self.instrument = instrument
        self.factor = 1 - drop_pct / 100
        self.prefix = prefix
        self.reference: Decimal | None = None
        self.books = 0
        self.triggers = 0
        self.orders_ok = 0
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self.trace: list[list[int]] = []

    def qty_for(self, price: Decimal) -> Decimal:
        """The smallest step-aligned quantity above min_qty and 110% of min_notional at ``price``."""
        inst = self.instrument
        qty = max(inst.min_qty, inst.min_notional * Decimal("1.1") / price)
        steps = (qty / inst.step_size).to_integral_value(rounding=ROUND_UP)
        return steps * inst.step_size

    async def on_book(self, book: OrderBook, item: Received | None = None) -> None:
        self.books += 1
        ask = book.best_ask
        if ask is None:
            return
        ref = self.reference
        if ref is not None and ask.price <= ref * self.factor:
            if self.takes is not None and not self.takes(book.sequence):
                return  # another runner's turn (--alternate)
            self.triggers += 1
            request = OrderRequest(
                key=book.key,
                side=Side.BUY,
                type=OrderType.LIMIT,
                qty=self.qty_for(ask.price),
                price=ask.price,
                tif=TimeInForce.IOC,
                client_id=f"{self.prefix}{book.sequence}",
            )
            trail = [book.sequence, book.local_ts_ns, item.sent_ns if item else 0, item.recv_ns if item else 0]
            trail.append(time.time_ns())
            if not self.order_tasks:
                await self._submit(request, trail)
                return
            task = asyncio.get_running_loop().create_task(self._submit(request, trail))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        self.reference = ask.price

    async def _submit(self, request: OrderRequest, trail: list[int]) -> None:
        try:
            order = await self.api.submit_order(request, timeout_s=10.0)
        except CoreApiError as exc:
            self.errors[type(exc).__name__] += 1
            return
        trail.append(time.time_ns())
        if len(self.trace) < MAX_TRACE:
            self.trace.append(trail)
        self.orders_ok += 1
        self.statuses[order.status.value] += 1

    async def close(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stats(self) -> dict[str, object]:
        return {
            "books": self.books,
            "triggers": self.triggers,
            "orders_ok": self.orders_ok,
            "order_errors": dict(self.errors),
            "statuses": dict(self.statuses),
            "in_flight": len(self._tasks),
        }


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    key = InstrumentKey.parse(args.key)
    names: list[str] = [n for n in args.alternate.split(",") if n] if args.alternate else []
    async with ZmqRouter(args.redis_url) as api:
        if not names:
            await api.wait_for(key.exchange, timeout_s=args.timeout)
            instrument = await api.get_instrument(key)
            strategy = ThresholdStrategy(
                api, instrument, Decimal(str(args.drop_pct)), args.prefix, order_tasks=args.order_tasks
            )
            strategies = {"": strategy}
        else:
            strategies = {}
            turns = Turns(len(names))
            for i, name in enumerate(names):
                await api.wait_for(name, timeout_s=args.timeout)
                runner = api.runner(name)
                strategies[name] = ThresholdStrategy(
                    runner,
                    await runner.get_instrument(key),
                    Decimal(str(args.drop_pct)),
                    args.prefix,
                    order_tasks=args.order_tasks,
                    takes=partial(turns.takes, index=i),
                )

        def stats() -> dict[str, object]:
            if not names:
                return strategy.stats()
            per = {name: s.stats() for name, s in strategies.items()}
            total = Counter[str]()
            for one in per.values():
                total.update({k: v for k, v in one.items() if isinstance(v, int)})
            return {**total, "by_runner": per}

        def trace() -> dict[str, object]:
            out: dict[str, object] = {"trace": [t for s in strategies.values() for t in s.trace]}
            if names:  # which runner answered each trigger (update id → index in --alternate)
                out["turns"] = {str(u): i for u, i in turns.by_update.items()}
            return out

        serve_stdin(loop, stop, {"stats": stats, "trace": trace})
        runners = names or None
        async with await api.subscribe(kinds="book", keys=key, runners=runners, snapshot=False) as sub:
            gc.collect()
            gc.freeze()  # startup heap out of the collector's way: shorter GC pauses on the hot path
            print("ready", flush=True)

            async def consume() -> None:
                async for item in sub:
                    if isinstance(item, Received) and isinstance(item.event, BookEvent):
                        one = strategies.get(item.runner if names else "")
                        if one is not None:
                            await one.on_book(item.event.book, item)

            reader = loop.create_task(consume(), name="books")
            await stop.wait()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        for one in strategies.values():
            await one.close()
        print(json.dumps(stats()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--key", default="binance:perp:BTCUSDT")
    parser.add_argument("--drop-pct", type=float, default=1.0, help="act when the ask falls this far (percent)")
    parser.add_argument("--prefix", default="tto-", help="client id prefix (the simulator's probe matches it)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the runner")
    parser.add_argument("--order-tasks", action="store_true", help="submit each order from its own task")
    parser.add_argument(
        "--alternate",
        default="",
        metavar="A,B",
        help="runner names: read the books of each, answer each trigger through the one turn() picks",
    )
    run_async(run(parser.parse_args()))


if __name__ == "__main__":
    main()
