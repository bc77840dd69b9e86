#!/usr/bin/env python
"""What "publish after journaling" adds to an exec event (a script, not a test).

    python scripts/bench_journal_publish.py [--n 2000] [--journal URL] [--json PATH]

In one process: a real journal (default SQLite in a temp dir, or ``--journal postgresql://…``),
the runner's :class:`~exchange_runner.journaling.JournalingPublisher` on a real XPUB socket and a
SUB reading it. Each sample publishes one ``exec`` event and waits until the SUB has it; the
same is done with the plain :class:`~exchange_runner.publisher.Publisher` (no journal),
interleaved sample by sample. Prints p50/p90/p99 of both (µs) and of their paired difference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zmq

from exchange_runner.journaling import JournalingPublisher
from exchange_runner.publisher import Publisher, pub_socket
from strategy_client.journal import Journal, ProcessInfo
from strategy_client.model import (
    Exchange,
    InstrumentKey,
    MarketKind,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.wire import OrderEvent, OrderEventKind, TopicKind

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))], 1)


def summary(xs: list[float]) -> dict[str, float]:
    return {"p50": pct(xs, 0.5), "p90": pct(xs, 0.9), "p99": pct(xs, 0.99)}


async def main(n: int, url: str | None) -> dict[str, object]:
    data = tempfile.mkdtemp(prefix="tb-jpub-")
    own_schema = ""
    if url is not None and url.startswith("postgresql") and "schema=" not in url:
        own_schema = f"bjp_{uuid.uuid4().hex[:8]}"  # a schema of this run, dropped at the end
        url = f"{url}{'&' if '?' in url else '?'}schema={own_schema}"
    journal = Journal.open(url, process=ProcessInfo(role="runner", name="binance:bench"), data_dir=data)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    socks: list[zmq.Socket[bytes]] = []
    pubs: list[Publisher] = []
    subs: list[zmq.Socket[bytes]] = []
    for journaled in (True, False):
        xpub = pub_socket(ctx)
        xpub.setsockopt(zmq.LINGER, 0)
        port = xpub.bind_to_random_port("tcp://127.0.0.1")
        sub: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://127.0.0.1:{port}")
        xpub.poll(5000)
        xpub.recv()
        socks += [xpub, sub]
        subs.append(sub)
        pubs.append(
            JournalingPublisher(xpub, Exchange.BINANCE, journal) if journaled else Publisher(xpub, Exchange.BINANCE)
        )
    times: dict[bool, list[float]] = {True: [], False: []}
    diffs: list[float] = []
    writer = asyncio.get_running_loop().create_task(journal.run_writer())
    try:
        for i in range(n + 100):
            one: dict[bool, float] = {}
            for journaled, pub, reader in ((True, pubs[0], subs[0]), (False, pubs[1], subs[1])):
                order = Order(
                    key=KEY,
                    client_id=f"b-{journaled:d}-{i}",
                    venue_id=str(i),
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    tif=TimeInForce.GTC,
                    price=Decimal("100"),
                    qty=Decimal("0.001"),
                    status=OrderStatus.NEW,
                    created_ts_ms=1,
                    updated_ts_ms=1,
                )
                t0 = time.perf_counter()
                pub.publish(TopicKind.EXECUTION, OrderEvent(kind=OrderEventKind.NEW, order=order), KEY)
                while True:
                    try:
                        reader.recv_multipart(zmq.NOBLOCK)
                        break
                    except zmq.Again:
                        await asyncio.sleep(0)  # let the writer commit and publish
                one[journaled] = (time.perf_counter() - t0) * 1e6
            if i >= 100:
                times[True].append(one[True])
                times[False].append(one[False])
                diffs.append(one[True] - one[False])
    finally:
        await journal.drain(10)
        await writer
        journal.close()
        for s in socks:
            s.close(linger=0)
        if own_schema and url is not None:
            import psycopg

            with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{own_schema}" CASCADE')
    return {
        "journal": url or "sqlite (default)",
        "n": n,
        "journaled_us": summary(times[True]),
        "plain_us": summary(times[False]),
        "added_us": summary(diffs),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--journal", default=None)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    out = asyncio.run(main(a.n, a.journal))
    print(json.dumps(out, indent=2))
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n")
