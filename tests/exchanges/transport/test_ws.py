"""The shared ResilientWs against a real local WebSocket server, driven by a small test dialect
(login, subscribe frames, text ping): reconnects, backoff reset on health, subscription replay,
login refusal, keep-alive, planned reconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from exchanges.base import StreamStatus
from exchanges.transport.backoff import Backoff
from exchanges.transport.buffer import Overflow
from exchanges.transport.ws import Frame, Keepalive, LoginRefused, NotConnected, ResilientWs, Send, WsDialect
from tests.exchanges.binance.ws_fake_server import Conn, FakeWsServer
from tests.helpers import eventually

FAST = Backoff(initial_s=0.01, max_s=0.05)


class JsonDialect(WsDialect[str]):
    """``{"op":"login"}`` answered by ``{"op":"login","ok":bool}``, ``{"op":"sub","args":[...]}``,
    a text ``ping`` answered by ``pong``; every frame with ``"op"`` is control."""

    keepalive = Keepalive(text=lambda: b"ping", after_silence=True)

    def __init__(self, *, login: bool = False) -> None:
        self.has_login = login
        self._answer: asyncio.Future[bool] | None = None
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    async def login(self, send: Send) -> None:
        self._answer = asyncio.get_running_loop().create_future()
        await send(b'{"op":"login"}')
        if not await self._answer:
            raise LoginRefused("bad key")

    def connection_lost(self) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(LoginRefused("closed"))

    def control_frames(self, op: Literal["subscribe", "unsubscribe"], subs: list[str]) -> list[bytes]:
        return [json.dumps({"op": op[:3] if op == "subscribe" else "unsub", "args": [s]}).encode() for s in subs]

    def on_message(self, data: bytes) -> bool:
        if data == b"pong":
            return True
        if not data.startswith(b'{"op"'):
            return False
        msg = json.loads(data)
        if msg["op"] == "login" and self._answer is not None and not self._answer.done():
            self._answer.set_result(bool(msg["ok"]))
        elif msg["op"] == "bye":
            self.ws.close_planned("serverShutdown")
        return True


@asynccontextmanager
async def running(ws: ResilientWs[str]) -> AsyncIterator[ResilientWs[str]]:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(ws.run())
        try:
            yield ws
        finally:
            task.cancel()


async def next_status(ws: ResilientWs[str]) -> StreamStatus:
    async with asyncio.timeout(10):
        while True:
            item = await ws.buffer.get()
            if isinstance(item, StreamStatus):
                return item


async def next_frame(ws: ResilientWs[str]) -> Frame:
    async with asyncio.timeout(10):
        while True:
            item = await ws.buffer.get()
            if isinstance(item, Frame):
                return item


def subs(conn: Conn) -> list[str]:
    return [a for m in conn.json_received() if m.get("op") == "sub" for a in m["args"]]


def received_json(conn: Conn) -> list[dict[str, object]]:
    return [json.loads(m) for m in conn.received if m not in ("ping", b"ping")]


async def test_subscriptions_are_replayed_on_every_reconnect_and_control_frames_are_consumed() -> None:
    async def ack(conn: Conn, message: str | bytes) -> None:
        if message != "ping":
            await conn.send({"op": "ack"})

    async with FakeWsServer(on_message=ack) as server:
        dialect = JsonDialect()
        ws = ResilientWs("t", server.url, dialect, subscriptions=["a"], backoff=FAST)
        async with running(ws):
            assert (await next_status(ws)).reason == "connected"
            await ws.subscribe(["b", "a"])  # "a" is already there: not sent again
            await eventually(lambda: subs(server.conns[0]) == ["a", "b"], what="both subscribed")
            await server.send_all('{"data":1}')
            frame = await next_frame(ws)
            assert frame.data == b'{"data":1}' and frame.generation == 1 and len(ws.buffer) == 0  # acks consumed
            server.abort_all()
            assert not (await next_status(ws)).connected
            assert (await next_status(ws)).reason.startswith("reconnected")
            await eventually(lambda: len(server.conns) == 2 and subs(server.conns[1]) == ["a", "b"], what="replay")
            await ws.unsubscribe(["a"])
            assert ws.subscriptions == ("b",)
            await server.send_all('{"data":2}')
            assert (await next_frame(ws)).generation == 2
            assert ws.stats.connects == 2 and ws.stats.reconnects == 1 and dialect.resets == 2


async def test_backoff_resets_when_a_connection_proves_healthy() -> None:
    async def hello(conn: Conn) -> None:
        await conn.send('{"data":"hello"}')

    async with FakeWsServer(on_connect=hello) as server:
        ws = ResilientWs("t", server.url, JsonDialect(), backoff=Backoff(initial_s=0.01, max_s=5), ping_interval_s=None)
        async with running(ws):
            for _ in range(4):
                await next_frame(ws)  # the client read a good message: healthy
                server.abort_all()
    attempts = [attempt for attempt, _ in ws.pacer.history]
    assert attempts[:3] == [0, 0, 0]  # every connection was healthy: the shortest delay each time
    assert ws.pacer.resets >= 3


async def test_backoff_grows_while_connections_die_before_any_message() -> None:
    async def drop(conn: Conn) -> None:
        conn.abort()

    async with FakeWsServer(on_connect=drop) as server:
        ws = ResilientWs("t", server.url, JsonDialect(), backoff=Backoff(initial_s=0.01, max_s=5), ping_interval_s=None)
        async with running(ws):
            await eventually(lambda: len(ws.pacer.history) >= 3, what="three backoffs", timeout=20)
    assert [attempt for attempt, _ in ws.pacer.history][:3] == [0, 1, 2]
    assert ws.pacer.resets == 0


async def test_a_refused_login_is_reported_and_backs_off() -> None:
    async def refuse(conn: Conn, message: str | bytes) -> None:
        if json.loads(message).get("op") == "login":
            await conn.send({"op": "login", "ok": False})

    async with FakeWsServer(on_message=refuse) as server:
        ws = ResilientWs("t", server.url, JsonDialect(login=True), backoff=Backoff(initial_s=0.01, max_s=5))
        async with running(ws):
            status = await next_status(ws)
            assert not status.connected and status.reason == "login failed: bad key"
            await eventually(lambda: len(ws.pacer.history) >= 3, what="three backoffs", timeout=20)
            assert not ws.connected
    assert [attempt for attempt, _ in ws.pacer.history][:3] == [0, 1, 2]  # never reset: not healthy
    assert ws.stats.login_failures >= 3 and ws.stats.last_error == "bad key"
    assert all(subs(c) == [] for c in server.conns)  # nothing subscribed before a login


async def test_login_then_subscribe_and_send_only_when_usable() -> None:
    async def accept(conn: Conn, message: str | bytes) -> None:
        if message != "ping" and json.loads(message).get("op") == "login":
            await conn.send({"op": "login", "ok": True})

    async with FakeWsServer(on_message=accept) as server:
        ws = ResilientWs("t", server.url, JsonDialect(login=True), subscriptions=["x"], backoff=FAST)
        try:
            await ws.send("early")
            raise AssertionError("send before connecting must fail")
        except NotConnected:
            pass
        async with running(ws):
            assert (await next_status(ws)).connected
            await ws.send('{"order":1}')
            await eventually(lambda: len(received_json(server.conns[0])) == 3, what="login, sub, order")
            assert [m.get("op") for m in received_json(server.conns[0])] == ["login", "sub", None]


async def test_text_ping_after_silence_and_reconnect_when_unanswered() -> None:
    answer = True

    async def pong(conn: Conn, message: str | bytes) -> None:
        if message == "ping" and answer:
            await conn.send("pong")

    async with FakeWsServer(on_message=pong) as server:
        ws = ResilientWs("t", server.url, JsonDialect(), backoff=FAST, ping_interval_s=0.05, ping_timeout_s=0.2)
        async with running(ws):
            await eventually(lambda: ws.stats.pings_sent >= 4, what="pings answered")
            assert ws.stats.connects == 1 and len(ws.buffer) == 1  # "connected" only: pongs consumed
            answer = False
            down = await next_status(ws)
            while down.connected:
                down = await next_status(ws)
            assert down.reason == "ping timeout: no pong within 0.2s"


async def test_planned_reconnects_happen_at_once_then_back_off_when_the_venue_keeps_asking() -> None:
    async def bye(conn: Conn) -> None:
        await conn.send({"op": "bye"})

    async with FakeWsServer(on_connect=bye) as server:
        ws = ResilientWs("t", server.url, JsonDialect(), backoff=Backoff(initial_s=0.01, max_s=0.02))
        async with running(ws):
            await eventually(lambda: len(server.conns) >= 6, what="six connections")
    assert ws.stats.last_disconnect_reason == "serverShutdown"
    assert ws.stats.backoffs >= 1  # after three quick planned reconnects in a row it backs off


async def test_block_overflow_never_drops_frames() -> None:
    async def burst(conn: Conn) -> None:
        for i in range(20):
            await conn.send(json.dumps({"data": i}))

    async with FakeWsServer(on_connect=burst) as server:
        ws = ResilientWs("t", server.url, JsonDialect(), overflow=Overflow.BLOCK, queue_size=4, backoff=FAST)
        async with running(ws):
            assert (await next_status(ws)).connected
            got = [json.loads((await next_frame(ws)).data)["data"] for _ in range(20)]
            assert got == list(range(20)) and ws.buffer.dropped == 0
            assert server.live


class Sink:
    def __init__(self) -> None:
        self.items: list[Frame | StreamStatus] = []

    def frame(self, frame: Frame) -> None:
        self.items.append(frame)

    def status(self, status: StreamStatus) -> None:
        self.items.append(status)


async def test_push_mode_hands_frames_and_statuses_to_the_sink_in_order_without_the_buffer() -> None:
    async def two(conn: Conn) -> None:
        await conn.send('{"data":1}')
        await conn.send('{"op":"ack"}')
        await conn.send('{"data":2}')

    async with FakeWsServer(on_connect=two) as server:
        sink = Sink()
        ws = ResilientWs("t", server.url, JsonDialect(), sink=sink, backoff=FAST, ping_interval_s=None)
        async with running(ws):
            await eventually(lambda: len(sink.items) == 3, what="status and two frames")
            server.abort_all()
            await eventually(lambda: len(sink.items) == 7, what="down, up, two frames")
        kinds = [("s", i.connected) if isinstance(i, StreamStatus) else ("f", i.data) for i in sink.items]
        assert kinds == [
            ("s", True),
            ("f", b'{"data":1}'),
            ("f", b'{"data":2}'),
            ("s", False),
            ("s", True),
            ("f", b'{"data":1}'),
            ("f", b'{"data":2}'),
        ]
        assert len(ws.buffer) == 0 and ws.buffer.dropped == 0
