"""The runner's ingest path in one process, without the socket: N real venue frames pushed
through the functions the runner uses, for wall time and instruction counts per book update.

    python scripts/bench_ingest_path.py record --out /tmp/frames.bin --frames 20000
    python scripts/bench_ingest_path.py replay --frames-file /tmp/frames.bin --updates 20000
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        python scripts/bench_ingest_path.py replay --frames-file /tmp/frames.bin --updates 2000

``record`` starts the offline Binance venue in process (``BinanceSim``, seed 1, BTCUSDT and
ETHUSDT), opens the runner's four partial-depth streams (``<s>@depth5@100ms``, spot on
``{spot_ws}/stream``, perps on ``{futures_ws}/public/stream``) with a plain aiohttp client,
turns the bench firehose on and saves the first ``--frames`` frames as received (bytes, with
the connection they came on), in arrival order.

``replay`` is the runner's path from the socket reader's hand-off on, wired as the tree's own
runner wires it: what each connection's reader calls with a frame (this tree: the connection's
push-mode parser, which hands its ``TextBook`` on; older trees: the one push-mode sink, which
parses into a Decimal ``OrderBook``), the runner's book sink (a count, then the price actor's
feed — this tree applies the book in the reader's turn while the actor is idle), the price
actor's apply (quality control with the bench's configuration: z-score off, and no staleness
bound, the recording's venue times being from when it was made), and the publisher's three
sends on a real XPUB socket with one subscriber: a ``SUB`` in a child process on ``ipc://``
that counts what it receives (not in the measured process). Frames go in bursts of ``--burst``
per turn of the event loop (uvloop), as a socket read at a high rate hands the reader several
frames at once; anything queued is taken by the feed's consumer at its wake-up.

What is not in it: the socket read and the WebSocket frame reader (aiohttp's C reader) — the
``Frame`` the reader builds is built here. Per-update instruction counts: run ``replay`` under
callgrind at two ``--updates`` (``PYTHONHASHSEED=0``) and divide the difference (start-up
cancels out); the script prints ``updates``, wall and CPU seconds (CPU: every thread of the
process, libzmq's I/O thread included) and µs per update, and what the subscriber received.
``--profile PATH`` writes pyinstrument's profile of the replay (the ``bench`` extra).

The same script runs against an older tree (``PYTHONPATH=<tree>``, e.g. ``9a5ae0f``): it uses
only interfaces the ingest path has had since before issue 20's work, or this tree's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path and not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(_HERE.parent))

_SYMBOLS = ("BTCUSDT", "ETHUSDT")
_SUB_CHILD = r"""
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.RCVHWM, 0)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.connect(sys.argv[1])
print("ready", flush=True)
n = 0
while True:
    frames = s.recv_multipart()
    if frames[0] == b"stop":
        break
    n += 1
print(n, flush=True)
"""


# -- record ----------------------------------------------------------------------------------


async def _record(out: Path, count: int, rate: int) -> None:
    import aiohttp

    from exchange_runner.ports import free_port_pair
    from exchanges.binance.sim import BinanceSim, BinanceSimOptions

    port = free_port_pair()
    sim = BinanceSim(
        port_base=port, seed=1, symbols=list(_SYMBOLS), options=BinanceSimOptions(enforce_rate_limits=False)
    )
    await sim.start()
    frames: list[tuple[int, bytes]] = []
    try:
        urls = sim.urls
        streams = "/".join(f"{s.lower()}@depth5@100ms" for s in _SYMBOLS)
        targets = [f"{urls.spot_ws}/stream?streams={streams}", f"{urls.futures_ws}/public/stream?streams={streams}"]
        async with aiohttp.ClientSession() as http:
            conns = [await http.ws_connect(u, autoping=False, compress=0) for u in targets]
            done = asyncio.Event()
            flowing = asyncio.Event()  # every connection delivered a frame: all subscribed
            seen: set[int] = set()

            async def read(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
                async for msg in ws:
                    if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                        seen.add(i)
                        if len(seen) == len(conns):
                            flowing.set()
                        frames.append((i, data))
                        if len(frames) >= count:
                            done.set()
                            return

            readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(conns)]
            await asyncio.wait_for(flowing.wait(), 30)  # the venue's periodic books, before the firehose
            frames.clear()
            async with http.post(urls.spot_rest + "/_sim/bench/firehose", json={"rate": rate}) as r:
                r.raise_for_status()
            await asyncio.wait_for(done.wait(), 120)
            async with http.delete(urls.spot_rest + "/_sim/bench/firehose") as r:
                r.raise_for_status()
            for t in readers:
                t.cancel()
            for ws in conns:
                await ws.close()
    finally:
        await sim.stop()
    with out.open("wb") as f:
        for i, data in frames[:count]:
            f.write(struct.pack("<BI", i, len(data)))
            f.write(data)
    print(f"recorded {min(count, len(frames))} frames to {out}")


def _load(path: Path) -> list[tuple[int, bytes]]:
    raw = path.read_bytes()
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(raw):
        i, n = struct.unpack_from("<BI", raw, pos)
        pos += 5
        out.append((i, raw[pos : pos + n]))
        pos += n
    return out


# -- replay ----------------------------------------------------------------------------------


class _Rig:
    """The runner's objects on the ingest path, wired as the runner wires them."""

    def __init__(self, frames: list[tuple[int, bytes]], endpoint: str) -> None:
        import zmq

        from exchange_runner.actors.price import PriceManager
        from exchange_runner.publisher import Publisher, pub_socket
        from exchange_runner.quality import QualityConfig, QualityControl
        from exchanges.binance import market_stream
        from exchanges.binance.urls import BinanceUrls
        from strategy_client.model import Exchange, InstrumentKey, MarketKind

        keys = [InstrumentKey(Exchange.BINANCE, s, k) for k in (MarketKind.SPOT, MarketKind.PERP) for s in _SYMBOLS]
        self.streams = streams = market_stream.BinanceMarketStreams(BinanceUrls.sim(1))

        self.ctx = ctx = zmq.Context()
        self.sock = sock = pub_socket(ctx)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.bind(endpoint)
        self.child = subprocess.Popen([sys.executable, "-c", _SUB_CHILD, endpoint], stdout=subprocess.PIPE, text=True)
        assert self.child.stdout is not None
        self.child.stdout.readline()
        publisher = Publisher(sock, Exchange.BINANCE)
        deadline = time.monotonic() + 10
        while not publisher.read_subscriptions():
            if time.monotonic() > deadline:
                raise SystemExit("bench_ingest_path: the subscriber did not subscribe within 10 s")
            time.sleep(0.01)  # polling the XPUB for the child's subscription (a condition, bounded)

        # the bench's runners' configuration (z-score off), and no staleness bound: the recording's
        # venue times are from when it was made (the check's cost is the same compare either way)
        quality = QualityControl(QualityConfig(zscore_max=0, max_age_ms=0))
        self.prices = prices = PriceManager(None, publisher, keys, quality=quality)  # type: ignore[arg-type]
        counts: dict[str, int] = {"books": 0}
        self.counts = counts
        if hasattr(prices, "counting_push"):  # the runner's sink, as this tree's runner makes it
            sink = prices.counting_push(counts, "books")
        else:  # (older: exchange_runner/runner.py, _books)
            put = prices.feed.put_nowait

            def sink(book: Any) -> None:
                counts["books"] += 1
                put(book)

        # what the socket reader of each connection calls with each frame, as run_order_books
        # wires it: the plan's emitting parser (this tree), or the one push-mode sink (older)
        plans: list[Any]
        if hasattr(streams, "_text_book_plans"):
            plans = streams._text_book_plans(keys, 5, sink)
            calls = {p.name: p.parse for p in plans}
        else:
            plans = streams._book_plans(keys, 5)
            older_sink: Any = vars(market_stream)["_Push"]  # (gone from this tree)
            push = older_sink({p.name: p.parse for p in plans}, sink, lambda status: None).frame
            calls = {p.name: push for p in plans}
        by_kind = {p.name.split(":")[1]: p.name for p in plans}
        names = [by_kind["spot"], by_kind["perp"]]  # recorded connection 0 is spot, 1 futures
        self.work = [(calls[names[i]], names[i], data) for i, data in frames]

    def finish(self) -> int:
        """Stop the subscriber; what it received."""
        self.sock.send_multipart([b"stop", b"", b""])
        received = int(self.child.communicate(timeout=60)[0].strip() or 0)
        self.sock.close(linger=1000)
        self.ctx.term()
        return received


async def _replay(rig: _Rig, updates: int, burst: int, profiler: Any) -> dict[str, float]:
    from exchanges.transport.ws import Frame

    prices, work = rig.prices, rig.work
    n_frames = len(work)
    consumer = asyncio.get_running_loop().create_task(prices._consume_feed())
    await asyncio.sleep(0)
    if profiler is not None:
        profiler.start()
    t0 = time.perf_counter()
    c0 = time.process_time()
    sent = 0
    while sent < updates:
        end = min(sent + burst, updates)
        for j in range(sent, end):
            call, name, data = work[j % n_frames]
            call(Frame(name, data, time.time_ns(), 1))
        sent = end
        await asyncio.sleep(0)
    while prices.feed.depth:  # noqa: ASYNC110 - the consumer's turn, nothing to wait on
        await asyncio.sleep(0)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    if profiler is not None:
        profiler.stop()
    consumer.cancel()
    return {"wall": wall, "cpu": cpu}


def _run(frames: list[tuple[int, bytes]], updates: int, burst: int, profile: Path | None) -> dict[str, Any]:
    import uvloop

    if updates > len(frames):
        raise SystemExit(f"{updates} updates asked, the recording holds {len(frames)}: record more")
    rig = _Rig(frames, f"ipc://{tempfile.mkdtemp(prefix='ingest-')}/pub")
    profiler: Any = None
    if profile is not None:
        from pyinstrument import Profiler  # the bench extra

        profiler = Profiler(interval=0.0002, async_mode="disabled")
    took = uvloop.run(_replay(rig, updates, burst, profiler))
    if profiler is not None and profile is not None:
        profile.write_text(profiler.output_text(unicode=True, show_all=True, timeline=False))
    received = rig.finish()
    wall, cpu = took["wall"], took["cpu"]
    return {
        "updates": updates,
        "burst": burst,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "wall_us_per_update": round(wall / updates * 1e6, 3),
        "cpu_us_per_update": round(cpu / updates * 1e6, 3),
        "published": rig.prices.books_in,
        "rejected_by_quality": rig.prices.rejected,
        "subscriber_received": received,
        "parse_errors": dict(rig.streams.errors.counts),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="record real venue frames from the offline venue")
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--frames", type=int, default=20_000)
    rec.add_argument("--rate", type=int, default=5_000, help="firehose updates/s while recording")
    rep = sub.add_parser("replay", help="push recorded frames through the runner's ingest path")
    rep.add_argument("--frames-file", type=Path, required=True)
    rep.add_argument("--updates", type=int, default=20_000)
    rep.add_argument("--burst", type=int, default=8, help="frames per turn of the event loop")
    rep.add_argument("--repeat", type=int, default=1, help="replays in one process (fresh state each)")
    rep.add_argument("--profile", type=Path, help="pyinstrument's text profile of the last replay here")
    args = ap.parse_args()
    if args.cmd == "record":
        asyncio.run(_record(args.out, args.frames, args.rate))
        return
    frames = _load(args.frames_file)
    for _ in range(args.repeat):
        print(_run(frames, args.updates, args.burst, args.profile), flush=True)


if __name__ == "__main__":
    main()
