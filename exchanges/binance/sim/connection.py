"""One Binance WebSocket connection: the shared outbound side (:class:`exchanges.sim.wsconn.SimWsConn`:
queue, overflow policy, frame faults, closing) plus Binance's keep-alive and lifetime.

Market-data frames are dropped oldest-first past ``market_queue_max``; replies and user-data
frames are never dropped, and past ``user_queue_max`` the slow consumer is disconnected (as
Binance disconnects slow consumers).

Keep-alive (§6): the server pings every ``ping_interval_s``; a client that has not answered a
ping within ``pong_timeout_s`` is disconnected. Client pings are answered with their payload.
After ``lifetime_s`` the connection is closed (Binance's 24 h cut).

``sent_probe`` (None unless the bench firehose sets it) is called with each market frame just
before it is written to the socket: the latency probe's send timestamp.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web

from exchanges.sim.faults import Faults
from exchanges.sim.wsconn import SimWsConn

__all__ = ["WsConn", "ConnRole"]

ConnRole = Literal["streams", "ws-api"]


class WsConn(SimWsConn):
    """Outbound side of one client connection; the reader loop lives in the route handler."""

    numbers = itertools.count(1)
    log = logging.getLogger("exchanges.binance.sim.connection")

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        host: str,
        role: ConnRole,
        faults: Faults,
        market_queue_max: int,
        user_queue_max: int,
    ) -> None:
        super().__init__(ws, request, faults=faults, market_queue_max=market_queue_max, user_queue_max=user_queue_max)
        self.host = host
        self.role = role
        self.combined = False
        self.has_user_data = False
        self._pong_pending_since: float | None = None

    def send_market(self, name: str, data: bytes, combined_frame: bytes | None = None) -> None:
        """A market-data frame of stream ``name`` (``data`` is the event, unwrapped)."""
        if self.closed:
            return
        frame = data
        if self.combined:
            frame = combined_frame if combined_frame is not None else wrap(name, data)
        self.queue_market(name, frame, self.host)

    async def run_keepalive(self, ping_interval_s: float, pong_timeout_s: float, lifetime_s: float) -> None:
        started = time.monotonic()
        next_ping = started + ping_interval_s
        tick = max(0.05, min(1.0, ping_interval_s / 4, pong_timeout_s / 4))
        while not self.closed:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - started >= lifetime_s:
                await self._close(1000, b"connection lifetime reached")
                return
            pending = self._pong_pending_since
            if pending is not None and now - pending >= pong_timeout_s:
                await self._close(1008, b"pong timeout")
                return
            if now >= next_ping:
                next_ping = now + ping_interval_s
                if self._pong_pending_since is None:
                    self._pong_pending_since = now
                try:
                    await self.ws.ping(str(int(time.time() * 1000)).encode())
                except (ConnectionError, RuntimeError):
                    self.closed = True
                    return

    def on_pong(self) -> None:
        self._pong_pending_since = None

    async def serve(
        self,
        read: Callable[[asyncio.TaskGroup], Awaitable[None]],
        ping_interval_s: float,
        pong_timeout_s: float,
        lifetime_s: float,
    ) -> None:
        """Run the sender and keep-alive beside ``read`` until the reader ends, then stop them."""
        keepalive = self.run_keepalive(ping_interval_s, pong_timeout_s, lifetime_s)
        await self.run_beside(read, keepalive, name=f"{self.role}{self.id}", watchdog_name="ping")


def wrap(name: str, data: bytes) -> bytes:
    """Combined-stream envelope ``{"stream":name,"data":data}``."""
    return b'{"stream":"' + name.encode() + b'","data":' + data + b"}"
