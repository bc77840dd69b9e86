"""How much the offline Binance venue sustains on this machine: orders/s and stream msgs/s.

The venue runs as its own process (``python -m exchanges.sim binance --no-rate-limits``), the
load comes from this one, so the numbers include a real client's HTTP/WebSocket cost:

* REST orders/s — ``--concurrency`` clients place signed IOC limit orders far from the
  market (accepted, then expired: nothing rests, nothing fills), spot and futures;
* WS-API orders/s — the same through ``order.place`` on one spot WS-API connection;
* stream msgs/s — ``--stream-conns`` connections each subscribed to depth/bookTicker
  streams of every symbol, with the random walk running; frames delivered per second.

Usage: ``python scripts/bench_sim.py [--seconds 5] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exchange_runner.ports import free_port_pair
from exchanges.binance.signing import encode_params, sign_rest, sign_ws_params
from exchanges.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

SPOT_STREAMS = [
    "btcusdt@depth20@100ms",
    "ethusdt@depth20@100ms",
    "btcusdt@depth@100ms",
    "ethusdt@depth@100ms",
    "btcusdt@bookTicker",
    "ethusdt@bookTicker",
    "btcusdt@aggTrade",
]
FUTURES_STREAMS = [
    "btcusdt@depth20@100ms",
    "ethusdt@depth20@100ms",
    "btcusdt@depth@100ms",
    "ethusdt@depth@100ms",
    "btcusdt@bookTicker",
    "ethusdt@bookTicker",
    "btcusdt@markPrice@1s",
    "!markPrice@arr@1s",
]


def _start_venue(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exchanges.sim",
            "binance",
            "--port-base",
            str(port),
            "--no-rate-limits",
            "--step-ms",
            "20",
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if "Ctrl-C stops it." in line:
            return proc
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError("the venue did not start")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _rest_orders(base: str, path: str, order: dict[str, str], seconds: float, concurrency: int) -> float:
    done = 0
    errors = 0
    stop_at = time.monotonic() + seconds
    headers = {"X-MBX-APIKEY": DEFAULT_API_KEY, "Content-Type": "application/x-www-form-urlencoded"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:

        async def worker() -> None:
            nonlocal done, errors
            while time.monotonic() < stop_at:
                payload = encode_params({**order, "timestamp": _now_ms()})
                body = f"{payload}&signature={sign_rest(DEFAULT_API_SECRET, payload)}"
                async with session.post(path, data=body, headers=headers) as r:
                    text = await r.text()
                    if r.status == 200:
                        done += 1
                    else:
                        errors += 1
                        if errors == 1:
                            print(f"  first error: {r.status} {text}", file=sys.stderr)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.monotonic() - started)


async def _ws_api_orders(url: str, seconds: float, window: int) -> float:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        sent = received = 0
        stop_at = time.monotonic() + seconds
        started = time.monotonic()

        async def send_one() -> None:
            nonlocal sent
            params: dict[str, Any] = {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "IOC",
                "quantity": "0.001",
                "price": "50000",
                "newOrderRespType": "ACK",
                "apiKey": DEFAULT_API_KEY,
                "timestamp": _now_ms(),
            }
            params["signature"] = sign_ws_params(DEFAULT_API_SECRET, params)
            await ws.send_str(msgspec.json.encode({"id": sent, "method": "order.place", "params": params}).decode())
            sent += 1

        for _ in range(window):
            await send_one()
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            received += 1
            if time.monotonic() < stop_at:
                await send_one()
            elif received >= sent:
                break
        return received / (time.monotonic() - started)


async def _streams(spot_ws: str, futures_ws: str, conns: int, seconds: float) -> tuple[float, int, int]:
    """Delivered frames/s, frames in total, frames the venue dropped (slow-consumer policy)."""
    counts = [0] * conns

    async def reader(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                counts[i] += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        tasks = []
        for i in range(conns):
            streams = FUTURES_STREAMS if i % 2 else SPOT_STREAMS
            base = futures_ws if i % 2 else spot_ws
            ws = await session.ws_connect(f"{base}/stream?streams={'/'.join(streams)}", max_msg_size=0)
            sockets.append(ws)
            tasks.append(asyncio.create_task(reader(i, ws)))
        await asyncio.sleep(2.0)  # warm-up: every subscription flowing, connect backlog drained
        before = sum(counts)
        started = time.monotonic()
        await asyncio.sleep(seconds)
        rate = (sum(counts) - before) / (time.monotonic() - started)
        state_url = spot_ws.replace("ws://", "http://") + "/_sim/state"
        async with session.get(state_url) as r:
            dropped = sum(c["dropped"] for c in (await r.json())["connections"])
        for ws in sockets:
            await ws.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return rate, sum(counts), dropped


async def _run(args: argparse.Namespace, port: int) -> dict[str, Any]:
    spot, fut = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
    async with httpx.AsyncClient() as client:
        await client.post(f"{spot}/_sim/engine/pause", json={"paused": False})
    far = {"side": "BUY", "type": "LIMIT", "timeInForce": "IOC", "newOrderRespType": "ACK"}
    print("REST orders (spot)...", flush=True)
    spot_rate = await _rest_orders(
        spot,
        "/api/v3/order",
        {"symbol": "BTCUSDT", "quantity": "0.001", "price": "50000", **far},
        args.seconds,
        args.concurrency,
    )
    print("REST orders (futures)...", flush=True)
    fut_rate = await _rest_orders(
        fut,
        "/fapi/v1/order",
        {"symbol": "BTCUSDT", "quantity": "0.01", "price": "58000", **far},
        args.seconds,
        args.concurrency,
    )
    print("WS-API orders (spot)...", flush=True)
    ws_rate = await _ws_api_orders(f"ws://127.0.0.1:{port}/ws-api/v3", args.seconds, args.concurrency)
    print("streams...", flush=True)
    stream_rate, frames, dropped = await _streams(
        f"ws://127.0.0.1:{port}", f"ws://127.0.0.1:{port + 1}", args.stream_conns, args.seconds
    )
    async with httpx.AsyncClient() as client:
        state = (await client.get(f"{spot}/_sim/state")).json()
    return {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "params": {"seconds": args.seconds, "concurrency": args.concurrency, "stream_conns": args.stream_conns},
        "rest_orders_per_s": {"spot": round(spot_rate, 1), "futures": round(fut_rate, 1)},
        "ws_api_orders_per_s": {"spot": round(ws_rate, 1)},
        "stream_msgs_per_s": round(stream_rate, 1),
        "stream_frames_total": frames,
        "venue_bad_input": state["bad_input"],
        "venue_frames_dropped": dropped,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent REST clients / WS-API window")
    parser.add_argument("--stream-conns", type=int, default=200, help="stream connections")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    port = free_port_pair()
    proc = _start_venue(port)
    try:
        results = asyncio.run(_run(args, port))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print(
        f"REST orders/s:    spot {results['rest_orders_per_s']['spot']}, "
        f"futures {results['rest_orders_per_s']['futures']}  (concurrency {args.concurrency})"
    )
    print(f"WS-API orders/s:  spot {results['ws_api_orders_per_s']['spot']}")
    print(
        f"stream msgs/s:    {results['stream_msgs_per_s']}  ({args.stream_conns} connections, "
        f"{results['venue_frames_dropped']} frames dropped by the venue)"
    )
    if args.json is not None:
        args.json.write_text(msgspec.json.format(msgspec.json.encode(results)).decode() + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
