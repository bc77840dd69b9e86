"""A small real WebSocket server for the Binance WS tests (websockets' asyncio server).

It records every connection (with its request path) and every message received, lets a test
react to messages (``on_message``) or to new connections (``on_connect``), push frames, and
drop connections abruptly (``abort``) the way a network failure or venue restart would.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

__all__ = ["FakeWsServer", "Conn"]

MessageHook = Callable[["Conn", str | bytes], Awaitable[None]]
ConnectHook = Callable[["Conn"], Awaitable[None]]


class Conn:
    """One accepted client connection, as the test sees it."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.path: str = ws.request.path if ws.request is not None else ""
        self.received: list[str | bytes] = []

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    @property
    def open(self) -> bool:
        return self.ws.state is State.OPEN

    def json_received(self) -> list[Any]:
        return [json.loads(m) for m in self.received]

    async def send(self, data: str | bytes | dict[str, Any]) -> None:
        await self.ws.send(json.dumps(data) if isinstance(data, dict) else data)

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake."""
        self.ws.transport.abort()


class FakeWsServer:
    def __init__(
        self, *, on_message: MessageHook | None = None, on_connect: ConnectHook | None = None, port: int = 0
    ) -> None:
        self.on_message = on_message
        self.on_connect = on_connect
        self.conns: list[Conn] = []
        self._port = port
        self._server: Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def live(self) -> list[Conn]:
        return [c for c in self.conns if c.open]

    def on_path(self, prefix: str) -> list[Conn]:
        return [c for c in self.conns if c.path.startswith(prefix)]

    async def __aenter__(self) -> FakeWsServer:
        self._server = await serve(
            self._handle, "127.0.0.1", self._port, ping_interval=None, compression=None
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        conn = Conn(ws)
        self.conns.append(conn)
        try:
            if self.on_connect is not None:
                await self.on_connect(conn)
            async for message in ws:
                conn.received.append(message)
                if self.on_message is not None:
                    await self.on_message(conn, message)
        except ConnectionClosed:
            pass

    async def send_all(self, data: str | bytes | dict[str, Any]) -> None:
        for conn in self.live:
            await conn.send(data)

    def abort_all(self) -> None:
        for conn in self.live:
            conn.abort()
