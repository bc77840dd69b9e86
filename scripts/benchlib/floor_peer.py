"""The two-process floor peer: the least a two-process Python design does (``python -m benchlib.floor_peer``).

    python -m benchlib.floor_peer --port-base P [--drop-pct 1.0]             # the strategy skeleton
    python -m benchlib.floor_peer --role runner --port-base P --ipc-dir DIR  # its child

What tradebus's tick-to-order path is made of, with nothing else: no tradebus code, the same
libraries (uvloop, aiohttp's WebSocket client opened with the runner's options, pyzmq driven from
file-descriptor readers as ``exchange_runner.zmq_server`` and ``strategy_client`` drive it,
msgspec), two processes on ``ipc://`` in a temp dir. ``scripts/bench.py --peers`` runs it as
``python_floor_2proc`` beside tradebus and the ccxt.pro script on the same venue, load and probe
clock: its tick-to-order p50 is the floor any two-process design on these libraries stands on.

* **runner skeleton** (``--role runner``, started by the strategy skeleton as its child): one
  combined-stream connection ``{futures_ws}/public/stream?streams=btcusdt@depth5@100ms/
  ethusdt@depth5@100ms`` (the runner's URL form); each frame is decoded (msgspec, the fields the
  path reads) and its best ask, update id and wall-clock stamps published on a PUB socket (topic:
  the symbol). A ROUTER takes order requests; each becomes a signed (HMAC-SHA256, the venue's
  test key) ``order.place`` on one open WS-API connection (``{futures_ws}/ws-fapi/v1``); the
  WS-API reply is matched by id and answered on the ROUTER. Prints ``ready`` once the WS-API is
  open and both books arrived.
* **strategy skeleton** (the default role): SUB (topic ``BTCUSDT``) and DEALER; the threshold
  rule of ``scripts/bench_strategy.py`` — the best ask of the last book that did not cross, times
  ``1 - drop_pct/100`` — and on a crossing book a BUY LIMIT IOC at that ask, client id
  ``tto-<update id>`` (the venue's latency probe pairs it with the frame), sent on the DEALER and
  its reply awaited inline (books queue meanwhile). The quantity: the smallest step-aligned one
  above the minimum and 110 % of the minimum notional (``/fapi/v1/exchangeInfo``, read once).

stdin/stdout of the strategy skeleton (the harness protocol of the other peers): ``ready`` once
its child is ready and a book arrived on SUB; ``stats`` is answered with one JSON line of counters
(``runner_cpu_s``: the child's CPU seconds, which the harness does not see), ``trace`` with the
wall-clock trail per order ``[u, runner received, runner published, strategy received, order sent,
reply received]``; ``quit``, end of stdin or SIGTERM stops both processes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import itertools
import json
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Literal, cast

import aiohttp
import msgspec
import psutil
import zmq
from aiohttp import ClientWSTimeout, WSMsgType

from exchanges.binance.sim.options import DEFAULT_API_KEY, DEFAULT_API_SECRET
from exchanges.binance.urls import BinanceUrls

from .childio import run_async, serve_stdin

__all__ = ["RunnerSkeleton", "StrategySkeleton", "main"]

SYMBOLS = ("BTCUSDT", "ETHUSDT")
TRIGGER = "BTCUSDT"
MAX_TRACE = 100_000
RECV_WINDOW_MS = 5000
Conn = aiohttp.ClientWebSocketResponse[Literal[False]]  # decode_text=False: text frames as bytes
_NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


# -- wire: the venue's frames (the fields the path reads) and the two processes' messages ----------


class Depth(msgspec.Struct, gc=False):
    s: str
    u: int
    a: list[tuple[str, str]]


class DepthFrame(msgspec.Struct, gc=False):
    stream: str
    data: Depth


class Tick(msgspec.Struct, array_like=True, gc=False):
    """PUB: one book's best ask; ``recv_ns``/``pub_ns``: the runner's wall-clock stamps."""

    u: int
    ask: str
    recv_ns: int
    pub_ns: int


class OrderIn(msgspec.Struct, array_like=True, gc=False):
    """DEALER → ROUTER: a BUY LIMIT IOC."""

    symbol: str
    client_id: str
    price: str
    qty: str


class OrderOut(msgspec.Struct, array_like=True, gc=False):
    """ROUTER → DEALER: the WS-API reply's HTTP status, the order status, the error if any."""

    status: int
    order_status: str
    error: str


class ApiResult(msgspec.Struct, gc=False):
    status: str = ""


class ApiError(msgspec.Struct, gc=False):
    code: int = 0
    msg: str = ""


class ApiReply(msgspec.Struct, gc=False):
    id: int | str | None = None
    status: int = 0
    result: ApiResult | None = None
    error: ApiError | None = None


class Filter(msgspec.Struct, rename="camel", gc=False):
    filter_type: str
    min_qty: str = "0"
    step_size: str = "0"
    notional: str = "0"


class SymbolInfo(msgspec.Struct, gc=False):
    symbol: str
    filters: list[Filter]


class ExchangeInfo(msgspec.Struct, gc=False):
    symbols: list[SymbolInfo]


_decode_depth = msgspec.json.Decoder(DepthFrame).decode
_decode_reply = msgspec.json.Decoder(ApiReply).decode
_encode_json = msgspec.json.Encoder().encode
_tick = msgspec.msgpack.Decoder(Tick).decode
_order_in = msgspec.msgpack.Decoder(OrderIn).decode
_order_out = msgspec.msgpack.Decoder(OrderOut).decode
_encode = msgspec.msgpack.Encoder().encode


# -- shared pieces ------------------------------------------------------------------------------


class Readable:
    """Awaitable receives on a pyzmq socket driven by a reader on its descriptor (no
    ``zmq.asyncio``): a receive tries the socket first and waits for the descriptor only when
    nothing is queued; the reader reads ``EVENTS`` (which resets the edge-triggered descriptor)."""

    def __init__(self, sock: zmq.Socket[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self.sock = sock
        self.loop = loop
        self.fd = int(sock.getsockopt(zmq.FD))
        self.waiter: asyncio.Future[None] | None = None
        loop.add_reader(self.fd, self._on_fd)

    def kick(self) -> None:
        """Wake a waiting receive if a message is queued: a send on the socket may have consumed
        the descriptor's edge for it."""
        self._on_fd()

    def _on_fd(self) -> None:
        if cast(int, self.sock.getsockopt(_EVENTS)) & _POLLIN and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def recv(self) -> list[bytes]:
        while True:
            try:
                return self.sock.recv_multipart(_NOBLOCK)
            except zmq.Again:
                pass
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def close(self) -> None:
        self.loop.remove_reader(self.fd)


async def ws_connect(session: aiohttp.ClientSession, url: str) -> Conn:
    """The options ``exchanges.transport.ws`` opens every Binance connection with."""
    return await session.ws_connect(
        url,
        autoping=False,
        timeout=ClientWSTimeout(ws_receive=None, ws_close=2.0),
        max_msg_size=4 * 1024 * 1024,
        compress=0,
        decode_text=False,
    )


def freeze_heap() -> None:
    gc.collect()
    gc.freeze()  # as the runner and the bench strategy do


# -- process 1: the runner skeleton --------------------------------------------------------------


class RunnerSkeleton:
    def __init__(self, pub: zmq.Socket[bytes], router: Readable, api: Conn) -> None:
        self.pub = pub
        self.router = router
        self.api = api
        self.keyed = hmac.new(DEFAULT_API_SECRET.encode(), digestmod=hashlib.sha256)
        self.ids = itertools.count(1)
        self.pending: dict[int, bytes] = {}  # WS-API request id → ROUTER identity
        self.seen: set[str] = set()
        self.books_ready = asyncio.Event()
        self.counts: Counter[str] = Counter()

    async def read_books(self, ws: Conn) -> None:
        pub_send = self.pub.send_multipart
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                recv_ns = time.time_ns()
                data = _decode_depth(msg.data).data
                if data.a:
                    tick = Tick(data.u, data.a[0][0], recv_ns, time.time_ns())
                    pub_send([data.s.encode(), _encode(tick)], _NOBLOCK)
                    self.counts["published"] += 1
                if data.s not in self.seen:
                    self.seen.add(data.s)
                    if len(self.seen) == len(SYMBOLS):
                        self.books_ready.set()
            elif msg.type is WSMsgType.PING:
                await ws.pong(msg.data)
            elif msg.type is not WSMsgType.PONG:
                raise ConnectionError(f"market-data stream closed: {msg.type!r}")

    def signed(self, order: OrderIn) -> dict[str, object]:
        params: dict[str, object] = {
            "symbol": order.symbol,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "IOC",
            "quantity": order.qty,
            "price": order.price,
            "newClientOrderId": order.client_id,
            "newOrderRespType": "RESULT",
            "recvWindow": RECV_WINDOW_MS,
            "timestamp": time.time_ns() // 1_000_000,
            "apiKey": DEFAULT_API_KEY,
        }
        mac = self.keyed.copy()
        mac.update("&".join(f"{k}={params[k]}" for k in sorted(params)).encode())
        params["signature"] = mac.hexdigest()
        return params

    async def serve_orders(self) -> None:
        while True:
            identity, body = await self.router.recv()
            request_id = next(self.ids)
            self.pending[request_id] = identity
            payload = _encode_json({"id": request_id, "method": "order.place", "params": self.signed(_order_in(body))})
            await self.api.send_frame(payload, WSMsgType.TEXT)
            self.counts["orders_sent"] += 1

    async def read_replies(self) -> None:
        while True:
            msg = await self.api.receive()
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                reply = _decode_reply(msg.data)
                identity = self.pending.pop(reply.id, None) if isinstance(reply.id, int) else None
                if identity is None:
                    self.counts["unmatched_replies"] += 1
                    continue
                result = reply.result.status if reply.result is not None else ""
                error = f"{reply.error.code} {reply.error.msg}" if reply.error is not None else ""
                self.router.sock.send_multipart([identity, _encode(OrderOut(reply.status, result, error))], _NOBLOCK)
                self.router.kick()
            elif msg.type is WSMsgType.PING:
                await self.api.pong(msg.data)
            elif msg.type is not WSMsgType.PONG:
                raise ConnectionError(f"WS-API closed: {msg.type!r}")


async def run_runner(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    urls = BinanceUrls.sim(args.port_base)
    streams = "/".join(f"{s.lower()}@depth5@100ms" for s in SYMBOLS)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 100_000)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(f"ipc://{args.ipc_dir}/pub")
    router_sock = ctx.socket(zmq.ROUTER)
    router_sock.setsockopt(zmq.LINGER, 0)
    router_sock.bind(f"ipc://{args.ipc_dir}/router")
    router = Readable(router_sock, loop)
    try:
        async with aiohttp.ClientSession() as session:
            api = await ws_connect(session, urls.futures_ws_api)
            books = await ws_connect(session, f"{urls.futures_ws}/public/stream?streams={streams}")
            runner = RunnerSkeleton(pub, router, api)
            serve_stdin(loop, stop, {"stats": lambda: dict(runner.counts)})
            async with asyncio.TaskGroup() as tg:
                tasks = [
                    tg.create_task(runner.read_books(books)),
                    tg.create_task(runner.read_replies()),
                    tg.create_task(runner.serve_orders()),
                ]
                await runner.books_ready.wait()
                freeze_heap()
                print("ready", flush=True)
                await stop.wait()
                for task in tasks:
                    task.cancel()
            print(json.dumps(dict(runner.counts)), file=sys.stderr, flush=True)
    finally:
        router.close()
        ctx.destroy(linger=0)


# -- process 2: the strategy skeleton ------------------------------------------------------------


class Sizing(msgspec.Struct, frozen=True):
    min_qty: Decimal
    step: Decimal
    min_notional: Decimal

    def qty_for(self, price: Decimal) -> Decimal:
        """The smallest step-aligned quantity above the minimum and 110 % of the minimum notional."""
        qty = max(self.min_qty, self.min_notional * Decimal("1.1") / price)
        return (qty / self.step).to_integral_value(rounding=ROUND_UP) * self.step


async def fetch_sizing(session: aiohttp.ClientSession, rest: str, symbol: str) -> Sizing:
    async with session.get(f"{rest}/fapi/v1/exchangeInfo") as resp:
        resp.raise_for_status()
        info = msgspec.json.decode(await resp.read(), type=ExchangeInfo)
    filters = {f.filter_type: f for f in next(s for s in info.symbols if s.symbol == symbol).filters}
    lot, notional = filters["LOT_SIZE"], filters["MIN_NOTIONAL"]
    return Sizing(Decimal(lot.min_qty), Decimal(lot.step_size), Decimal(notional.notional))


class StrategySkeleton:
    def __init__(self, sub: Readable, dealer: Readable, sizing: Sizing, drop_pct: float, prefix: str) -> None:
        self.sub = sub
        self.dealer = dealer
        self.sizing = sizing
        self.factor = 1 - drop_pct / 100
        self.prefix = prefix
        self.reference: float | None = None
        self.books = 0
        self.triggers = 0
        self.orders_ok = 0
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.trace: list[list[int]] = []
        self.first_book = asyncio.Event()
        self.runner_cpu: Callable[[], float] = lambda: 0.0

    async def consume(self) -> None:
        while True:
            _, body = await self.sub.recv()
            recv_ns = time.time_ns()
            self.books += 1
            self.first_book.set()
            await self.on_tick(_tick(body), recv_ns)

    async def on_tick(self, tick: Tick, recv_ns: int) -> None:
        ask = float(tick.ask)
        ref = self.reference
        if ref is None or ask > ref * self.factor:
            self.reference = ask
            return
        self.triggers += 1
        price = Decimal(tick.ask)
        order = OrderIn(TRIGGER, f"{self.prefix}{tick.u}", tick.ask, str(self.sizing.qty_for(price)))
        trail = [tick.u, tick.recv_ns, tick.pub_ns, recv_ns, time.time_ns()]
        self.dealer.sock.send(_encode(order), _NOBLOCK)
        (body,) = await self.dealer.recv()
        trail.append(time.time_ns())
        reply = _order_out(body)
        if reply.status != 200:
            self.errors[reply.error] += 1
            return
        self.orders_ok += 1
        self.statuses[reply.order_status] += 1
        if len(self.trace) < MAX_TRACE:
            self.trace.append(trail)

    def stats(self) -> dict[str, object]:
        return {
            "books": self.books,
            "triggers": self.triggers,
            "orders_ok": self.orders_ok,
            "order_errors": dict(self.errors),
            "statuses": dict(self.statuses),
            "runner_cpu_s": round(self.runner_cpu(), 3),
        }


async def start_runner(port_base: int, ipc_dir: str) -> asyncio.subprocess.Process:
    """The runner skeleton as a child (stderr shared with this process's log), once ``ready``."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchlib.floor_peer",
        "--role",
        "runner",
        "--port-base",
        str(port_base),
        "--ipc-dir",
        ipc_dir,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    async with asyncio.timeout(60):
        while (line := await child.stdout.readline()) != b"ready\n":
            if not line:
                raise RuntimeError(f"the runner skeleton exited at start with status {await child.wait()}")
    return child


async def stop_runner(child: asyncio.subprocess.Process) -> None:
    """End of stdin stops it; SIGKILL (this process's own child, by pid) after 5 s."""
    if child.stdin is not None:
        child.stdin.close()
    try:
        async with asyncio.timeout(5):
            await child.wait()
    except TimeoutError:
        child.kill()
        await child.wait()


async def run_strategy(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ipc_dir = tempfile.mkdtemp(prefix="floor-peer-")
    ctx = zmq.Context()
    try:
        async with aiohttp.ClientSession() as session:
            sizing = await fetch_sizing(session, BinanceUrls.sim(args.port_base).futures_rest, TRIGGER)
        child = await start_runner(args.port_base, ipc_dir)
        try:
            await serve(args, loop, stop, ctx, ipc_dir, sizing, child)
        finally:
            await stop_runner(child)
    finally:
        ctx.destroy(linger=0)
        shutil.rmtree(ipc_dir, ignore_errors=True)


async def serve(
    args: argparse.Namespace,
    loop: asyncio.AbstractEventLoop,
    stop: asyncio.Event,
    ctx: zmq.Context[zmq.Socket[bytes]],
    ipc_dir: str,
    sizing: Sizing,
    child: asyncio.subprocess.Process,
) -> None:
    sub_sock = ctx.socket(zmq.SUB)
    sub_sock.setsockopt(zmq.SUBSCRIBE, TRIGGER.encode())
    sub_sock.connect(f"ipc://{ipc_dir}/pub")
    dealer_sock = ctx.socket(zmq.DEALER)
    dealer_sock.connect(f"ipc://{ipc_dir}/router")
    sub, dealer = Readable(sub_sock, loop), Readable(dealer_sock, loop)
    strategy = StrategySkeleton(sub, dealer, sizing, args.drop_pct, args.prefix)
    runner_ps = psutil.Process(child.pid)
    strategy.runner_cpu = lambda: float(sum(runner_ps.cpu_times()[:2]))
    serve_stdin(loop, stop, {"stats": strategy.stats, "trace": lambda: {"trace": strategy.trace}})
    try:
        async with asyncio.TaskGroup() as tg:
            reader = tg.create_task(strategy.consume())
            async with asyncio.timeout(30):
                await strategy.first_book.wait()
            freeze_heap()
            print("ready", flush=True)
            await stop.wait()
            reader.cancel()
        print(json.dumps(strategy.stats()), flush=True)
    finally:
        sub.close()
        dealer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=("strategy", "runner"), default="strategy")
    parser.add_argument("--port-base", type=int, required=True, help="the offline venue's first port")
    parser.add_argument("--ipc-dir", help="runner: where its ipc:// sockets are bound (the strategy makes one)")
    parser.add_argument("--drop-pct", type=float, default=1.0, help="act when the ask falls this far (percent)")
    parser.add_argument("--prefix", default="tto-", help="client id prefix (the venue's probe matches it)")
    args = parser.parse_args()
    if args.role == "runner":
        if not args.ipc_dir or not Path(args.ipc_dir).is_dir():
            parser.error("--role runner needs --ipc-dir, an existing directory")
        run_async(run_runner(args))
    else:
        run_async(run_strategy(args))


if __name__ == "__main__":
    main()
