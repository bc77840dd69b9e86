"""One Bybit WebSocket connection: the shared outbound side (:class:`exchanges.sim.wsconn.SimWsConn`:
queue, overflow policy, frame faults, closing) plus Bybit's idle cut-off and lifetime.

Market-data frames are dropped oldest-first past ``market_queue_max``; replies and private
frames are never dropped, and past ``user_queue_max`` the slow consumer is disconnected.

Keep-alive (reference §6): Bybit does not ping; clients send ``{"op":"ping"}`` (every 20 s is
recommended). A connection that sends nothing — no ping, no request, no protocol ping — for
``idle_timeout_s`` is closed (1000), and every connection is closed after ``lifetime_s``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web

from exchanges.sim.faults import Faults
from exchanges.sim.wsconn import SimWsConn

__all__ = ["WsConn", "ConnRole"]

ConnRole = Literal["streams", "user"]


def _conn_id() -> str:
    """Bybit's ``conn_id`` looks like ``cejreaspqfh3sjdnldmg-p``."""
    return secrets.token_hex(10) + "-" + secrets.token_hex(2)


class WsConn(SimWsConn):
    """Outbound side of one client connection; the reader loop lives in the route handler."""

    numbers = itertools.count(1)
    log = logging.getLogger("exchanges.bybit.sim.connection")

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
        self.conn_id = _conn_id()
        self.host = host
        self.role = role
        self.authed = False
        self.last_rx = time.monotonic()

    def send_market(self, topic: str, frame: bytes) -> None:
        """A market-data frame of ``topic``; stream faults apply here only."""
        self.queue_market(topic, frame, self.host)

    async def run_watchdog(self, idle_timeout_s: float, lifetime_s: float) -> None:
        started = time.monotonic()
        tick = max(0.05, min(1.0, idle_timeout_s / 4))
        while not self.closed:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - started >= lifetime_s:
                await self._close(1000, b"connection lifetime reached")
                return
            if now - self.last_rx >= idle_timeout_s:
                await self._close(1000, b"idle timeout: no ping received")
                return

    def touch(self) -> None:
        self.last_rx = time.monotonic()

    async def serve(self, read: Callable[[], Awaitable[None]], idle_timeout_s: float, lifetime_s: float) -> None:
        """Run the sender and the watchdog beside ``read`` until the reader ends, then stop them."""
        watchdog = self.run_watchdog(idle_timeout_s, lifetime_s)
        await self.run_beside(lambda _tg: read(), watchdog, name=f"bybit-{self.role}{self.id}", watchdog_name="idle")
