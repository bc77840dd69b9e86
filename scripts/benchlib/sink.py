"""A lean event subscriber for the ingest and memory runs (``python -m benchlib.sink``).

One SUB socket on the runner's PUB endpoint, subscribed to a topic prefix (``ob|`` = every book).
It receives every event, decodes the header for the per-topic sequence number and counts:
``received``, ``gaps`` (a sequence jump: events lost between runner and here), ``lost`` (how
many), ``bad`` (undecodable frames). It decodes the header only, not the book: the subscriber is
the benchmark's instrument, and on a 2-core machine every microsecond it spends is taken from
the runner being measured. (A strategy using ``strategy_client`` decodes the whole event; its
cost is in the tick-to-order run.)

Protocol on stdin/stdout: the line ``stats`` is answered with one JSON line of the counters;
``quit`` (or end of stdin) exits. Prints ``ready`` once connected.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import msgspec
import zmq

from strategy_client.wire import decode_header

__all__ = ["Sink", "main"]


class Sink:
    def __init__(self, endpoint: str, prefix: bytes, rcvhwm: int = 100_000) -> None:
        self.ctx = zmq.Context()
        self.sock: zmq.Socket[bytes] = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, prefix)
        self.sock.connect(endpoint)
        self.received = 0
        self.gaps = 0
        self.lost = 0
        self.bad = 0
        self.topics: dict[bytes, int] = {}
        self.last_recv = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        sock = self.sock
        last = self.topics
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        recv = zmq.backend.Socket.recv  # the compiled recv under pyzmq's Python wrapper
        more = sock.getsockopt
        rcvmore, noblock = int(zmq.RCVMORE), int(zmq.NOBLOCK)
        while not self.stopped.is_set():
            if not poller.poll(100):
                continue
            while True:
                try:
                    frames = [recv(sock, noblock)]
                except zmq.Again:
                    break
                while more(rcvmore):
                    frames.append(recv(sock, noblock))
                if len(frames) != 3:
                    self.bad += 1
                    continue
                try:
                    seq = decode_header(frames[1]).seq
                except (msgspec.DecodeError, msgspec.ValidationError):
                    self.bad += 1
                    continue
                t = frames[0]
                prev = last.get(t)
                if prev is not None and seq != prev + 1:
                    self.gaps += 1
                    if seq > prev + 1:
                        self.lost += seq - prev - 1
                last[t] = seq
                self.received += 1
            self.last_recv = time.monotonic()
        self.sock.close(0)
        self.ctx.term()

    def stats(self) -> dict[str, object]:
        return {
            "received": self.received,
            "gaps": self.gaps,
            "lost": self.lost,
            "bad": self.bad,
            "topics": len(self.topics),
            "idle_s": round(time.monotonic() - self.last_recv, 3) if self.last_recv else None,
        }


def _commands(sink: Sink) -> None:
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "stats":
            print(json.dumps(sink.stats()), flush=True)
        elif cmd == "quit":
            break
    sink.stopped.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--prefix", default="ob|")
    args = parser.parse_args()
    sink = Sink(args.endpoint, args.prefix.encode())
    threading.Thread(target=_commands, args=(sink,), name="sink-commands", daemon=True).start()
    print("ready", flush=True)
    try:
        sink.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
