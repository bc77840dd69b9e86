"""One OKX WebSocket connection: the shared outbound side (:class:`exchanges.sim.wsconn.SimWsConn`:
queue, overflow policy, frame faults, closing) plus OKX's idle watchdog.

Market-data frames are dropped oldest-first past ``market_queue_max``; replies and private
pushes are never dropped, and past ``user_queue_max`` the slow consumer is closed (1008).

Keep-alive (reference §6): OKX sends no WebSocket pings. A client keeps the connection with
the text frame ``ping`` (answered ``pong``); with no traffic in either direction for
``idle_timeout_s`` — or no subscription and no login that long after connecting — the server
closes it with code 4004.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web

from exchanges.sim.faults import Faults
from exchanges.sim.wsconn import SimWsConn

__all__ = ["WsConn", "Channel"]

Channel = Literal["public", "private", "business"]


class WsConn(SimWsConn):
    """Outbound side of one client connection; the reader loop lives in the route handler."""

    numbers = itertools.count(1)
    log = logging.getLogger("exchanges.okx.sim.connection")

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        channel: Channel,
        conn_id: str,
        faults: Faults,
        market_queue_max: int,
        user_queue_max: int,
    ) -> None:
        super().__init__(ws, request, faults=faults, market_queue_max=market_queue_max, user_queue_max=user_queue_max)
        self.conn_id = conn_id
        self.channel = channel
        self.logged_in = False
        self.has_subscription = False
        self.ops_this_hour: deque[float] = deque()
        self.opened_at = self.last_rx = self.last_tx  # all "now" at connect

    def send_market(self, stream: str, frame: bytes, fault_host: str) -> None:
        """A market-data frame of ``stream`` (e.g. ``books:BTC-USDT``), subject to stream faults."""
        self.queue_market(stream, frame, fault_host)

    async def run_watchdog(self, idle_timeout_s: float) -> None:
        """Close 4004 after ``idle_timeout_s`` without traffic, or without any subscription/login."""
        tick = max(0.02, min(1.0, idle_timeout_s / 10))
        while not self.closed:
            await asyncio.sleep(tick)
            now = time.monotonic()
            idle = now - max(self.last_rx, self.last_tx)
            unused = not (self.has_subscription or self.logged_in) and now - self.opened_at >= idle_timeout_s
            if idle >= idle_timeout_s or unused:
                await self._close(4004, b"No data received in 30s.")
                return

    def on_receive(self) -> None:
        self.last_rx = time.monotonic()

    async def serve(self, read: Callable[[], Awaitable[None]], idle_timeout_s: float) -> None:
        """Run the sender and the watchdog beside ``read`` until the reader ends, then stop them."""
        watchdog = self.run_watchdog(idle_timeout_s)
        await self.run_beside(lambda _tg: read(), watchdog, name=f"okx-ws{self.id}", watchdog_name="idle")
