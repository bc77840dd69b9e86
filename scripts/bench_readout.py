#!/usr/bin/env python
"""The cost of reading one event off a SUB socket, as a strategy's subscriber does (a script).

    python scripts/bench_readout.py [--events 400] [--rounds 6] [--pace-ms 2]

One 3-frame event per wake-up, paced (a strategy sees one book every few ms: its code runs
cold), timed from the wake-up to the socket read empty, alternated between two read-outs:

* ``wrappers`` — what the client did before issue 20: pyzmq's ``getsockopt(EVENTS)`` and
  ``recv_multipart`` (Python wrappers, enum flags), reading until a ``zmq.Again`` is raised;
* ``compiled`` — ``strategy_client.connection.readable`` / ``recv_frames`` (the compiled calls,
  integer flags, ``EVENTS`` asked instead of an exception).

Prints p50/p90 in µs per read-out (docs/performance.md, "Round 2").
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strategy_client.connection import readable, recv_frames

FRAMES = [b"ob|binance|perp|BTCUSDT", b"h" * 40, b"e" * 420]


def wrappers(sub: zmq.Socket[bytes]) -> int:
    n = 0
    if sub.getsockopt(zmq.EVENTS) & zmq.POLLIN:  # the fd callback
        while True:
            try:
                sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            n += 1
    sub.getsockopt(zmq.EVENTS)  # the re-check before waiting again
    return n


def compiled(sub: zmq.Socket[bytes]) -> int:
    n = 0
    if readable(sub):
        while readable(sub):
            recv_frames(sub)
            n += 1
    readable(sub)
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400, help="events per read-out per round")
    parser.add_argument("--rounds", type=int, default=6, help="alternated rounds")
    parser.add_argument("--pace-ms", type=float, default=2.0, help="pause between events")
    args = parser.parse_args()
    ctx = zmq.Context()
    pub: zmq.Socket[bytes] = ctx.socket(zmq.PUB)
    sub: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
    try:
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://127.0.0.1:{port}")
        while not sub.poll(10):  # the subscription has reached the publisher
            pub.send_multipart(FRAMES)
        while sub.poll(50):
            sub.recv_multipart()
        cases: dict[str, Callable[[zmq.Socket[bytes]], int]] = {"wrappers": wrappers, "compiled": compiled}
        samples: dict[str, list[int]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, readout in cases.items():
                for _ in range(args.events):
                    pub.send_multipart(FRAMES)
                    sub.poll(1000)
                    t0 = time.perf_counter_ns()
                    got = readout(sub)
                    samples[name].append(time.perf_counter_ns() - t0)
                    if got != 1:
                        print(f"bench_readout: {name} read {got} events, expected 1", file=sys.stderr)
                        return 1
                    time.sleep(args.pace_ms / 1000)
        for name, values in samples.items():
            values.sort()
            p50, p90 = values[len(values) // 2] / 1000, values[int(len(values) * 0.9)] / 1000
            print(f"{name:<9} p50 {p50:6.1f} µs   p90 {p90:6.1f} µs   (n {len(values)})")
    finally:
        pub.close(0)
        sub.close(0)
        ctx.term()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
