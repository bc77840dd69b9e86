"""/readyz turns 503 when the command loop is not answering (issue 12, defect 1's "kept
answering 200"): a self-ping through the real socket path, with a deadline. And a real runner
(in process, on its embedded venue) under the hostile input of defects 1 and 4.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import zmq
import zmq.asyncio

from exchange_runner.config import RunnerConfig
from exchange_runner.health import SelfPing, loopback_endpoint
from exchange_runner.ports import free_port, free_port_pair
from exchange_runner.runner import ExchangeRunner
from exchange_runner.venues import open_venue
from exchange_runner.zmq_server import ZmqServer
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.wire import (
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorReply,
    GetAllPositions,
    Header,
    Ping,
    Pong,
    Reply,
    Request,
    decode_header,
    encode,
)
from tests.helpers import eventually


def test_loopback_endpoint() -> None:
    assert loopback_endpoint("tcp://0.0.0.0:5555") == "tcp://127.0.0.1:5555"
    assert loopback_endpoint("tcp://*:5555") == "tcp://127.0.0.1:5555"
    assert loopback_endpoint("tcp://10.1.2.3:5555") == "tcp://10.1.2.3:5555"


async def test_self_ping_fails_while_the_server_is_saturated_and_recovers() -> None:
    """Every slot taken by a hung venue call: the server stops reading (backpressure), no
    command is answered — the probe says so within its deadline, and recovers after."""
    release = asyncio.Event()

    async def handler(req: Request, header: Header) -> Reply:
        if isinstance(req, Ping):
            return Pong(exchange=Exchange.BINANCE, runner_version="t", protocol_version=PROTOCOL_VERSION)
        await release.wait()  # a venue call that hangs
        return ErrorReply(code=ErrorCode.VENUE_UNAVAILABLE, message="late")

    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    srv = ZmqServer(router, handler, max_in_flight=3)
    probe = SelfPing(ctx, f"tcp://127.0.0.1:{port}", interval_s=0.05, deadline_s=0.5)
    assert probe.check() == (False, "self-ping not started")
    tasks = [asyncio.create_task(srv.serve()), asyncio.create_task(probe.run())]
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.connect(f"tcp://127.0.0.1:{port}")
    try:
        await eventually(lambda: probe.check()[0], what="first self-ping answered")
        assert probe.last_rtt_s is not None and probe.last_rtt_s < 0.5
        for i in range(3):
            await client.send_multipart(
                [encode(Header(id=f"hang{i}")), encode(GetAllPositions(exchange=Exchange.BINANCE))]
            )
        await eventually(lambda: not probe.check()[0], what="self-ping failing while saturated")
        assert "no answer for" in probe.check()[1] and probe.detail()["answering"] is False
        release.set()
        await eventually(lambda: probe.check()[0], what="self-ping answering again")
        assert probe.detail()["answering"] is True and "reason" not in probe.detail()
    finally:
        client.close(linger=0)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        router.close(linger=0)
        ctx.term()


@pytest.fixture()
async def runner(redis_url: str) -> AsyncIterator[ExchangeRunner]:
    cfg = RunnerConfig(
        redis_url=redis_url,
        name=f"selfping-{os.getpid()}",
        symbols=["BTCUSDT"],
        sim_port_base=free_port_pair(),
        metrics_port=free_port(),
    )
    cfg.validate()
    async with open_venue(cfg) as adapter:
        r = ExchangeRunner(cfg, adapter)
        task = asyncio.create_task(r.run(), name="runner")
        try:
            await eventually(lambda: r.started.is_set() or task.done(), timeout=30, what="runner started")
            if task.done():
                task.result()
            yield r
        finally:
            r.stop()
            await asyncio.wait_for(task, 20)


async def test_readyz_is_503_while_the_command_reader_is_stalled(runner: ExchangeRunner) -> None:
    assert runner.self_ping is not None and runner.server is not None and runner.health is not None
    runner.self_ping.interval_s, runner.self_ping.deadline_s = 0.05, 0.5
    server = runner.server
    async with httpx.AsyncClient(base_url=runner.health.url, timeout=5) as http:

        async def status() -> tuple[int, dict[str, object]]:
            r = await http.get("/readyz")
            return r.status_code, r.json()

        async def ready() -> bool:
            return (await status())[0] == 200

        await eventually(ready, timeout=20, what="/readyz 200")
        code, body = await status()
        assert body["checks"]["commands_answering"] is True  # type: ignore[index]
        # the reader stops reading: what the RecursionError did to the edge-triggered socket
        server._stop_reading()
        await eventually(lambda: not runner.self_ping.check()[0], what="self-ping failing")  # type: ignore[union-attr]
        code, body = await status()
        assert code == 503 and body["not_ready"] == ["commands_answering"], body
        assert "no answer for" in body["self_ping"]["reason"]  # type: ignore[index]
        server._start_reading()
        server._kick()
        await eventually(ready, what="/readyz 200 again")


async def test_a_real_runner_survives_hostile_input_and_refuses_bad_numbers(runner: ExchangeRunner) -> None:
    """Defects 1 and 4 end to end on a runner with its embedded venue: 500 frames nested 1,000
    deep, then a client's pings are all answered; ``NaN``/``Infinity``/``1e9999`` quantities and a
    10,000-character client id are ``invalid_params`` and never reach the venue; /readyz stays 200."""
    import msgspec

    from strategy_client.command_client import ZmqCommandClient
    from strategy_client.wire import OrderReply, Ping, Pong, SubmitOrder, decode_reply

    assert runner.server is not None and runner.health is not None
    hostile = runner.ctx.socket(zmq.DEALER)
    hostile.setsockopt(zmq.LINGER, 0)
    hostile.setsockopt(zmq.RCVHWM, 0)
    hostile.connect(loopback_endpoint(runner.router_endpoint))
    deep = b"\x82" + encode("method") + encode("ping") + encode("x") + b"\x91" * 1000 + b"\x01"
    order = {"key": ["binance", "BTCUSDT", "perp"], "side": "buy", "type": "market", "qty": "0.01"}
    bad = [order | {"qty": q} for q in ("NaN", "Infinity", "1e9999", "-1", "0")] + [order | {"client_id": "x" * 10_000}]
    decode_errors = runner.server.bad_frames["decode_error"]
    submitted = runner.orders.submitted
    try:
        for i in range(500):
            await hostile.send_multipart([encode(Header(id=f"h{i}")), deep])
        async with ZmqCommandClient(runner.router_endpoint) as client:
            for _ in range(20):
                assert isinstance(await client.call(Ping(), timeout_s=5), Pong)
            for i, body in enumerate(bad):
                raw = msgspec.msgpack.encode({"method": "submit_order", "order": body})
                await hostile.send_multipart([encode(Header(id=f"b{i}")), raw])
        codes: dict[str, str] = {}
        while len(codes) < 500 + len(bad):
            frames = await asyncio.wait_for(hostile.recv_multipart(), 10)
            reply = decode_reply(frames[1])
            assert isinstance(reply, ErrorReply)
            codes[decode_header(frames[0]).cid] = reply.code.value
        assert {codes[f"h{i}"] for i in range(500)} == {"decode_error"}
        assert {codes[f"b{i}"] for i in range(len(bad))} == {"invalid_params"}
        assert runner.server.bad_frames["decode_error"] - decode_errors == 500
        assert runner.orders.submitted == submitted  # nothing went to the venue
        # a good order still goes through
        async with ZmqCommandClient(runner.router_endpoint) as client:
            key = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
            good = OrderRequest(key=key, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.010"))
            assert isinstance(await client.call(SubmitOrder(order=good), timeout_s=10), OrderReply)
        assert runner.orders.submitted == submitted + 1
        async with httpx.AsyncClient(base_url=runner.health.url, timeout=5) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
    finally:
        hostile.close(linger=0)
