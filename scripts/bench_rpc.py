"""CoreApi call round trip against a bare pyzmq round trip, measured in the same run.

    .venv/bin/python scripts/bench_rpc.py [--calls 3000] [--rounds 3] [--json PATH]

Starts a private redis-server and a Binance runner on the embedded simulator, then measures,
in interleaved rounds (so machine noise hits every case alike):

* ``raw_pyzmq`` — the baseline: a blocking pyzmq DEALER in this process ↔ a ROUTER echo server
  in another process, frames the size of a real request;
* ``raw_pyzmq_asyncio`` — the same with a naive ``await sock.recv_multipart()`` on zmq.asyncio;
* ``client_vs_stub_uvloop`` — ``ZmqCommandClient.get_reference_price`` against a stub runner
  (another process answering every request with a prepared reply): the client library's cost;
* ``runner_floor`` — a blocking pyzmq DEALER sending real ``get_reference_price`` frames to the
  runner: what the runner's side costs, with no client library at all;
* ``coreapi_uvloop`` / ``coreapi_asyncio`` — ``ZmqRouter.get_reference_price`` (the CoreApi a
  strategy uses: routing, typed request, reply future, typed result) on uvloop / the default loop;
* ``*_spin`` — the same with ``spin_us=300``: a call alone in flight busy-reads its socket for up
  to 300 µs before yielding to the loop (burns a core; opt-in);
* ``sync_client`` — the blocking facade (``strategy_client.connect()``), which adds a hop to the
  client's loop thread and back.

Prints p50/p90/p99 in µs and the ratio CoreApi p50 / raw p50 (target ≤ 2), and writes JSON with
``--json``. The measurement functions are importable (``raw_roundtrip``, ``client_roundtrip``,
``runner_floor``, ``coreapi_roundtrip``, ``sync_roundtrip``, ``echo_server``, ``bench_runner``,
``run``) for a wider benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import redis
import zmq
import zmq.asyncio

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from exchange_runner.localredis import LocalRedisServer
from exchange_runner.ports import free_port_pair
from strategy_client import ZmqCommandClient, ZmqRouter, connect
from strategy_client.model import InstrumentKey
from strategy_client.wire import (
    GetReferencePrice,
    Header,
    RunnerRecord,
    decode_record,
    encode,
    new_message_id,
    now_ns,
    runner_key,
)

__all__ = [
    "Stats",
    "stats",
    "bench_runner",
    "echo_server",
    "echo_endpoints",
    "raw_roundtrip",
    "raw_asyncio_roundtrip",
    "runner_floor",
    "client_roundtrip",
    "coreapi_roundtrip",
    "sync_roundtrip",
    "run",
]

KEY = InstrumentKey.parse("binance:perp:BTCUSDT")
SPIN_US = 300  # the ``spin_us`` of the *_spin cases

ECHO_SERVER = """
import sys, zmq
sock = zmq.Context().socket(zmq.ROUTER)
sock.setsockopt(zmq.LINGER, 0)
port = sock.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
while True:
    frames = sock.recv_multipart()
    if frames[-1] == b"stop":
        break
    sock.send_multipart(frames)
"""


ECHO_SERVER_BOTH = """
import sys, zmq
sock = zmq.Context().socket(zmq.ROUTER)
sock.setsockopt(zmq.LINGER, 0)
port = sock.bind_to_random_port("tcp://127.0.0.1")
sock.bind(sys.argv[1])
print(port, flush=True)
while True:
    sock.send_multipart(sock.recv_multipart())
"""


STUB_RUNNER = """
import sys
from decimal import Decimal
import zmq
sys.path.insert(0, sys.argv[1])
from strategy_client.model import InstrumentKey
from strategy_client.wire import Header, PriceReply, PriceSource, ReferencePrice, decode_header, encode
key = InstrumentKey.parse("binance:perp:BTCUSDT")
reply = encode(PriceReply(price=ReferencePrice(key=key, price=Decimal("60000.1"), source=PriceSource.MID, ts_ms=1)))
sock = zmq.Context().socket(zmq.ROUTER)
sock.setsockopt(zmq.LINGER, 0)
port = sock.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
while True:
    identity, header, body = sock.recv_multipart()
    sock.send_multipart((identity, encode(Header(cid=decode_header(header).id)), reply))
"""


class Stats(msgspec.Struct, frozen=True):
    n: int
    p50_us: float
    p90_us: float
    p99_us: float
    mean_us: float
    min_us: float


def stats(samples_ns: list[int]) -> Stats:
    s = sorted(samples_ns)
    n = len(s)

    def pct(p: float) -> float:
        return s[min(n - 1, int(p * n))] / 1000

    return Stats(
        n=n,
        p50_us=pct(0.50),
        p90_us=pct(0.90),
        p99_us=pct(0.99),
        mean_us=statistics.fmean(s) / 1000,
        min_us=s[0] / 1000,
    )


def _request_frames() -> tuple[bytes, bytes]:
    header = encode(Header(id=new_message_id(), ts=now_ns(), timeout_ms=10_000))
    return header, encode(GetReferencePrice(key=KEY))


@contextlib.contextmanager
def echo_server(code: str = ECHO_SERVER) -> Iterator[str]:
    """A ROUTER server (``ECHO_SERVER`` or ``STUB_RUNNER``) in another process; yields its endpoint."""
    proc = subprocess.Popen([sys.executable, "-c", code, str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"tcp://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=5)


@contextlib.contextmanager
def echo_endpoints() -> Iterator[dict[str, str]]:
    """One ROUTER echo process bound on tcp:// and ipc://; yields ``{"tcp": ..., "ipc": ...}``."""
    directory = tempfile.mkdtemp(prefix="echo-")
    ipc = f"ipc://{directory}/echo"
    proc = subprocess.Popen([sys.executable, "-c", ECHO_SERVER_BOTH, ipc], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield {"tcp": f"tcp://127.0.0.1:{port}", "ipc": ipc}
    finally:
        proc.kill()
        proc.wait(timeout=5)
        shutil.rmtree(directory, ignore_errors=True)


def raw_roundtrip(endpoint: str, calls: int, warmup: int = 300) -> list[int]:
    """Blocking DEALER send + recv against ``endpoint``; ns per round trip."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    frames = _request_frames()
    out: list[int] = []
    try:
        for i in range(warmup + calls):
            t0 = time.perf_counter_ns()
            sock.send_multipart(frames)
            sock.recv_multipart()
            if i >= warmup:
                out.append(time.perf_counter_ns() - t0)
    finally:
        sock.close(linger=0)
    return out


async def raw_asyncio_roundtrip(endpoint: str, calls: int, warmup: int = 300) -> list[int]:
    """The same on zmq.asyncio with a plain ``await`` per receive."""
    sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    frames = _request_frames()
    out: list[int] = []
    try:
        for i in range(warmup + calls):
            t0 = time.perf_counter_ns()
            await sock.send_multipart(frames)
            await sock.recv_multipart()
            if i >= warmup:
                out.append(time.perf_counter_ns() - t0)
    finally:
        sock.close(linger=0)
    return out


def runner_floor(router_endpoint: str, calls: int, warmup: int = 300) -> list[int]:
    """Blocking DEALER with real get_reference_price frames against the runner (no library)."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(router_endpoint)
    body = encode(GetReferencePrice(key=KEY))
    out: list[int] = []
    try:
        for i in range(warmup + calls):
            header = encode(Header(id=new_message_id(), ts=now_ns(), timeout_ms=10_000))
            t0 = time.perf_counter_ns()
            sock.send_multipart((header, body))
            sock.recv_multipart()
            if i >= warmup:
                out.append(time.perf_counter_ns() - t0)
    finally:
        sock.close(linger=0)
    return out


async def client_roundtrip(endpoint: str, calls: int, warmup: int = 300, spin_us: int = 0) -> list[int]:
    """``ZmqCommandClient.get_reference_price`` against ``endpoint`` (the stub runner: client cost only)."""
    client = ZmqCommandClient(endpoint, spin_us=spin_us)
    try:
        await client.connect(check_version=False)  # the stub answers everything with a price
        out: list[int] = []
        for i in range(warmup + calls):
            t0 = time.perf_counter_ns()
            await client.get_reference_price(KEY)
            if i >= warmup:
                out.append(time.perf_counter_ns() - t0)
        return out
    finally:
        await client.close()


async def coreapi_roundtrip(
    redis_url: str, runner: str, calls: int, warmup: int = 300, spin_us: int = 0, transport: str | None = None
) -> list[int]:
    """``ZmqRouter.get_reference_price`` one call at a time; ns per call. ``transport``: the
    router's (``auto``: ipc:// to a runner on this host; ``tcp``)."""
    async with ZmqRouter(redis_url, spin_us=spin_us, transport=transport) as api:
        await api.wait_for(runner)
        out: list[int] = []
        for i in range(warmup + calls):
            t0 = time.perf_counter_ns()
            await api.get_reference_price(KEY)
            if i >= warmup:
                out.append(time.perf_counter_ns() - t0)
        return out


def sync_roundtrip(redis_url: str, runner: str, calls: int, warmup: int = 300) -> list[int]:
    """The blocking facade's get_reference_price; ns per call."""
    with connect(redis_url, wait_for=runner, record=0) as client:
        out: list[int] = []
        for i in range(warmup + calls):
            t0 = time.perf_counter_ns()
            client.get_reference_price(KEY)
            if i >= warmup:
                out.append(time.perf_counter_ns() - t0)
        return out


@contextlib.contextmanager
def bench_runner(log_level: str = "WARNING") -> Iterator[tuple[str, RunnerRecord]]:
    """A private redis-server and a Binance runner on the embedded simulator: (redis_url, record)."""
    with LocalRedisServer() as server:
        name = f"bench-{os.getpid()}"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exchange_runner.cli",
                "binance",
                "--redis-url",
                server.url,
                "--name",
                name,
                "--sim-port-base",
                str(free_port_pair()),
                "--log-level",
                log_level,
            ],
            cwd=ROOT,
        )
        try:
            yield server.url, _wait_ready(server.url, name, proc)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _wait_ready(url: str, name: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> RunnerRecord:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"bench: the runner exited with code {proc.returncode}")
            raw = client.get(runner_key(name))
            if isinstance(raw, bytes):
                rec = decode_record(raw)
                if rec.status == "ready" and rec.pid == proc.pid:
                    return rec
            time.sleep(0.05)
    finally:
        client.close()
    raise SystemExit("bench: the runner was not ready within a minute")


def _uvloop_run(coro_factory: Callable[[], Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.run(coro_factory())


def run(calls: int = 3000, rounds: int = 3, warmup: int = 300) -> dict[str, Any]:
    """Every case, ``rounds`` times interleaved; returns the JSON-ready results."""
    samples: dict[str, list[int]] = {
        "raw_pyzmq": [],
        "raw_pyzmq_asyncio": [],
        "client_vs_stub_uvloop": [],
        "client_vs_stub_spin": [],
        "runner_floor": [],
        "coreapi_uvloop": [],
        "coreapi_asyncio": [],
        "coreapi_uvloop_spin": [],
        "sync_client": [],
    }
    with echo_server() as echo, echo_server(STUB_RUNNER) as stub, bench_runner() as (redis_url, rec):
        for _ in range(rounds):
            samples["raw_pyzmq"] += raw_roundtrip(echo, calls, warmup)
            samples["raw_pyzmq_asyncio"] += asyncio.run(raw_asyncio_roundtrip(echo, calls, warmup))
            got = _uvloop_run(lambda: client_roundtrip(stub, calls, warmup))
            if got is not None:
                samples["client_vs_stub_uvloop"] += got
            got = _uvloop_run(lambda: client_roundtrip(stub, calls, warmup, spin_us=SPIN_US))
            if got is not None:
                samples["client_vs_stub_spin"] += got
            samples["runner_floor"] += runner_floor(rec.router_endpoint, calls, warmup)
            got = _uvloop_run(lambda: coreapi_roundtrip(redis_url, rec.name, calls, warmup))
            if got is not None:
                samples["coreapi_uvloop"] += got
            samples["coreapi_asyncio"] += asyncio.run(coreapi_roundtrip(redis_url, rec.name, calls, warmup))
            got = _uvloop_run(lambda: coreapi_roundtrip(redis_url, rec.name, calls, warmup, spin_us=SPIN_US))
            if got is not None:
                samples["coreapi_uvloop_spin"] += got
            samples["sync_client"] += sync_roundtrip(redis_url, rec.name, calls, warmup)
    results = {name: msgspec.to_builtins(stats(s)) for name, s in samples.items() if s}
    raw = results["raw_pyzmq"]["p50_us"]
    best = results.get("coreapi_uvloop", results["coreapi_asyncio"])["p50_us"]
    return {
        "bench": "rpc",
        "calls_per_round": calls,
        "rounds": rounds,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "pyzmq": zmq.__version__,
            "libzmq": zmq.zmq_version(),
        },
        "results_us": results,
        "ratio_coreapi_p50_to_raw_p50": round(best / raw, 2),
        "ratio_coreapi_asyncio_p50_to_raw_p50": round(results["coreapi_asyncio"]["p50_us"] / raw, 2),
        "ratio_client_vs_stub_p50_to_raw_p50": (
            round(results["client_vs_stub_uvloop"]["p50_us"] / raw, 2) if "client_vs_stub_uvloop" in results else None
        ),
        "ratio_runner_floor_p50_to_raw_p50": round(results["runner_floor"]["p50_us"] / raw, 2),
        "ratio_coreapi_spin_p50_to_raw_p50": (
            round(results["coreapi_uvloop_spin"]["p50_us"] / raw, 2) if "coreapi_uvloop_spin" in results else None
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per case per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=300, help="calls discarded at the start of each round")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    out = run(args.calls, args.rounds, args.warmup)
    print(f"{'case':<20} {'n':>7} {'p50 µs':>9} {'p90 µs':>9} {'p99 µs':>9} {'min µs':>8}")
    for name, s in out["results_us"].items():
        print(f"{name:<20} {s['n']:>7} {s['p50_us']:>9.1f} {s['p90_us']:>9.1f} {s['p99_us']:>9.1f} {s['min_us']:>8.1f}")
    print(
        f"CoreApi p50 / raw pyzmq p50 = {out['ratio_coreapi_p50_to_raw_p50']}× (target ≤ 2; "
        f"default asyncio loop: {out['ratio_coreapi_asyncio_p50_to_raw_p50']}×); "
        f"client library alone (stub runner): {out['ratio_client_vs_stub_p50_to_raw_p50']}×; "
        f"runner's side alone (blocking pyzmq client): {out['ratio_runner_floor_p50_to_raw_p50']}×; "
        f"CoreApi with spin_us={SPIN_US}: {out['ratio_coreapi_spin_p50_to_raw_p50']}×"
    )
    if args.json is not None:
        args.json.write_text(msgspec.json.format(msgspec.json.encode(out)).decode() + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
