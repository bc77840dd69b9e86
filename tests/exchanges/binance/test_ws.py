"""ResilientWs against real local sockets: reconnect, replay, pings, proactive reconnects;
BoundedBuffer overflow policies; Backoff."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import WSMsgType, web

from exchanges.base import StreamStatus
from exchanges.binance.ws import BinanceWs as ResilientWs
from exchanges.transport.backoff import Backoff
from exchanges.transport.ws import Frame, NotConnected, redact_url
from tests.helpers import eventually, free_port

from .ws_fake_server import Conn, FakeWsServer

FAST = Backoff(initial_s=0.01, max_s=0.05)


@asynccontextmanager
async def running(ws: ResilientWs) -> AsyncIterator[ResilientWs]:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(ws.run())
        try:
            yield ws
        finally:
            task.cancel()


async def next_item(ws: ResilientWs) -> Frame | StreamStatus:
    async with asyncio.timeout(5):
        return await ws.buffer.get()


async def next_frame(ws: ResilientWs) -> Frame:
    while True:
        item = await next_item(ws)
        if isinstance(item, Frame):
            return item


async def next_status(ws: ResilientWs) -> StreamStatus:
    while True:
        item = await next_item(ws)
        if isinstance(item, StreamStatus):
            return item


async def ack_subscriptions(conn: Conn, message: str | bytes) -> None:
    request = json.loads(message)
    if request.get("method") in ("SUBSCRIBE", "UNSUBSCRIBE"):
        await conn.send({"result": None, "id": request["id"]})


def subscribed(conn: Conn) -> list[str]:
    streams: list[str] = []
    for request in conn.json_received():
        if request.get("method") == "SUBSCRIBE":
            streams += request["params"]
    return streams


async def test_reconnects_after_drop_and_replays_subscriptions() -> None:
    async with FakeWsServer(on_message=ack_subscriptions) as server:
        ws = ResilientWs("t", server.url + "/stream", backoff=FAST, subscriptions=["btcusdt@depth5@100ms"])
        async with running(ws):
            first = await next_status(ws)
            assert first.connected and first.reason == "connected" and first.stream == "t"
            await eventually(lambda: server.conns and subscribed(server.conns[0]), what="first SUBSCRIBE")
            await ws.subscribe(["ethusdt@depth5@100ms"])
            await eventually(lambda: len(subscribed(server.conns[0])) == 2, what="second SUBSCRIBE")
            # control replies are consumed by the connection, data frames reach the buffer
            await server.send_all('{"stream":"btcusdt@depth5@100ms","data":{}}')
            frame = await next_frame(ws)
            assert frame.data.startswith(b'{"stream"') and frame.generation == 1
            assert len(ws.buffer) == 0

            server.abort_all()
            down = await next_status(ws)
            assert not down.connected and down.reason.startswith("closed")
            up = await next_status(ws)
            assert up.connected and up.reason.startswith("reconnected")
            await eventually(
                lambda: len(server.conns) == 2 and len(subscribed(server.conns[1])) == 2,
                what="subscriptions replayed",
            )
            assert subscribed(server.conns[1]) == ["btcusdt@depth5@100ms", "ethusdt@depth5@100ms"]
            assert server.conns[1].path == "/stream"
            await server.send_all('{"stream":"ethusdt@depth5@100ms","data":{}}')
            assert (await next_frame(ws)).generation == 2
            assert ws.stats.reconnects == 1 and ws.stats.connects == 2
            assert ws.stats.messages >= 4  # two acks + frame on #1, at least the frame on #2

            await ws.unsubscribe(["btcusdt@depth5@100ms"])
            await eventually(
                lambda: any(r.get("method") == "UNSUBSCRIBE" for r in server.conns[1].json_received()),
                what="UNSUBSCRIBE",
            )
            assert ws.subscriptions == ("ethusdt@depth5@100ms",)


async def test_control_error_is_counted_not_forwarded() -> None:
    async def reject(conn: Conn, message: str | bytes) -> None:
        await conn.send({"code": 2, "msg": "Invalid request: unknown stream", "id": json.loads(message)["id"]})

    async with FakeWsServer(on_message=reject) as server:
        ws = ResilientWs("t", server.url, backoff=FAST, subscriptions=["bad@@stream"])
        async with running(ws):
            await eventually(lambda: ws.stats.control_errors == 1, what="control error counted")
            await server.send_all('{"e":"x"}')
            assert (await next_frame(ws)).data == b'{"e":"x"}'


async def test_answers_server_pings_with_the_same_payload() -> None:
    async with FakeWsServer() as server:
        ws = ResilientWs("t", server.url, backoff=FAST, ping_interval_s=None)
        async with running(ws):
            await eventually(lambda: server.live, what="connection")
            pong = await server.live[0].ws.ping(b"binance-ping-123")
            async with asyncio.timeout(5):
                await pong  # resolves only when a pong with the same payload arrives


async def test_own_pings_detect_a_dead_peer_and_reconnect() -> None:
    """A server that never answers pings (aiohttp with autoping off) is dropped and redialled."""
    pings: list[bytes] = []
    connections = 0

    async def handler(request: web.Request) -> web.WebSocketResponse:
        nonlocal connections
        connections += 1
        sock = web.WebSocketResponse(autoping=False)
        await sock.prepare(request)
        async for msg in sock:
            if msg.type is WSMsgType.PING:
                pings.append(msg.data)  # and never pong
        return sock

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        ws = ResilientWs(
            "t",
            f"ws://127.0.0.1:{port}/ws",
            backoff=FAST,
            ping_interval_s=0.05,
            ping_timeout_s=0.1,
            close_timeout_s=0.1,
        )
        async with running(ws):
            assert (await next_status(ws)).connected
            down = await next_status(ws)
            assert not down.connected and "ping" in down.reason
            assert (await next_status(ws)).connected
            assert pings and connections >= 2
    finally:
        await runner.cleanup()


async def test_server_shutdown_event_triggers_reconnect() -> None:
    async with FakeWsServer() as server:
        ws = ResilientWs("t", server.url, backoff=Backoff(initial_s=30, max_s=30))  # no backoff wait
        async with running(ws):
            assert (await next_status(ws)).connected
            await server.send_all({"e": "serverShutdown", "E": 1752148800000})
            down = await next_status(ws)
            assert down.reason == "serverShutdown"
            assert (await next_status(ws)).connected
            assert len(server.conns) == 2 and ws.buffer.dropped == 0


async def test_planned_reconnects_back_off_when_the_venue_repeats_them_at_once() -> None:
    async def shutdown_now(conn: Conn) -> None:
        await conn.send({"e": "serverShutdown", "E": 1})

    async with FakeWsServer(on_connect=shutdown_now) as server:
        ws = ResilientWs("t", server.url, backoff=Backoff(initial_s=30, max_s=30))
        async with running(ws):
            await eventually(lambda: ws.stats.backoffs == 1, what="backing off")
            assert len(server.conns) == 4  # the first + three immediate planned reconnects


async def test_server_shutdown_inside_a_ws_api_event_envelope() -> None:
    async with FakeWsServer() as server:
        ws = ResilientWs("t", server.url, backoff=FAST)
        async with running(ws):
            await next_status(ws)
            await server.send_all({"subscriptionId": 0, "event": {"e": "serverShutdown", "E": 1}})
            assert (await next_status(ws)).reason == "serverShutdown"


async def test_proactive_reconnect_at_end_of_lifetime() -> None:
    async with FakeWsServer() as server:
        ws = ResilientWs("t", server.url, backoff=Backoff(initial_s=30, max_s=30), max_lifetime_s=0.2)
        async with running(ws):
            await next_status(ws)
            down = await next_status(ws)
            assert down.reason.startswith("lifetime")
            assert (await next_status(ws)).connected  # at once, despite the 30 s backoff


async def test_idle_connection_is_replaced() -> None:
    async with FakeWsServer() as server:
        ws = ResilientWs("t", server.url, backoff=FAST, idle_timeout_s=0.2)
        async with running(ws):
            await next_status(ws)
            down = await next_status(ws)
            assert down.reason.startswith("idle")
            assert (await next_status(ws)).connected


async def test_requested_reconnect_and_send() -> None:
    async with FakeWsServer() as server:
        ws = ResilientWs("t", server.url, backoff=FAST)
        with pytest.raises(NotConnected):
            await ws.send(b"{}")
        async with running(ws):
            generation = await ws.wait_connected()
            await ws.send(b'{"hello":1}', generation=generation)
            await eventually(
                lambda: server.conns[0].received == [b'{"hello":1}'] or server.conns[0].received == ['{"hello":1}'],
                what="message received",
            )
            ws.request_reconnect("listenKeyExpired")
            await next_status(ws)
            down = await next_status(ws)
            assert down.reason == "requested: listenKeyExpired"
            assert (await next_status(ws)).connected
            with pytest.raises(NotConnected):
                await ws.send(b"{}", generation=generation)


async def test_connect_failure_reported_once_then_connects_when_venue_appears() -> None:
    port = free_port()
    ws = ResilientWs("t", f"ws://127.0.0.1:{port}", backoff=Backoff(initial_s=0.01, max_s=0.05))
    async with running(ws):
        down = await next_status(ws)
        assert not down.connected and down.reason.startswith("connect failed")
        async with FakeWsServer(port=port) as server:
            up = await next_status(ws)
            assert up.connected
            await eventually(lambda: server.live, what="server side connection")


async def test_url_factory_is_called_before_every_connect() -> None:
    calls = 0
    async with FakeWsServer() as server:

        async def url() -> str:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("listenKey service down")
            return f"{server.url}/private/ws?listenKey=k{calls}"

        ws = ResilientWs("t", url, backoff=FAST)
        async with running(ws):
            down = await next_status(ws)
            assert "listenKey service down" in down.reason
            await next_status(ws)
            assert server.conns[0].query["listenKey"] == ["k2"]


def test_redact_url_hides_listen_keys() -> None:
    assert redact_url("ws://h:1/private/ws?listenKey=abc&events=X") == "ws://h:1/private/ws"
    assert (
        redact_url("wss://fstream.binance.com/private/ws/abcdef") == "wss://fstream.binance.com/private/ws/<listenKey>"
    )


# -- BoundedBuffer ------------------------------------------------------------------------------
