"""One WebSocket connection of the OKX venue: outbound queue, idle watchdog, frame faults.

Overflow policy: market-data frames are dropped oldest-first when ``market_queue_max`` wait
(counted in ``dropped``); replies and private pushes are never dropped — past
``user_queue_max`` waiting the consumer is too slow and the connection is closed (1008).

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

from aiohttp import WSMsgType, web

from exchanges.sim.faults import Faults, StreamFault

__all__ = ["WsConn", "Channel"]

_log = logging.getLogger("exchanges.okx.sim.connection")
_ids = itertools.count(1)

Channel = Literal["public", "private", "business"]


class WsConn:
    """Outbound side of one client connection; the reader loop lives in the route handler."""

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
        self.id = next(_ids)
        self.conn_id = conn_id
        self.ws = ws
        self.channel = channel
        self.remote = request.remote or "?"
        self.path = request.path
        self._transport = request.transport
        self._faults = faults
        self._market_max = market_queue_max
        self._user_max = user_queue_max
        self._queue: deque[tuple[bool, bytes]] = deque()
        self._market_waiting = 0
        self._wakeup = asyncio.Event()
        self._held: tuple[str, bytes] | None = None
        self._last_frame: dict[str, bytes] = {}
        self.logged_in = False
        self.has_subscription = False
        self.ops_this_hour: deque[float] = deque()
        self.dropped = 0
        self.sent = 0
        self.closed = False
        self.close_code: int | None = None
        now = time.monotonic()
        self.opened_at = now
        self.last_rx = now
        self.last_tx = now
        self._pending_close: tuple[int, bytes] | None = None

    # -- enqueue ----------------------------------------------------------------------------

    def send_reply(self, frame: bytes) -> None:
        """A reply, event or private push: never dropped."""
        if self.closed:
            return
        self._queue.append((False, frame))
        if len(self._queue) - self._market_waiting > self._user_max:
            _log.warning("connection %s: %d frames waiting, closing slow consumer", self.id, len(self._queue))
            self.close_soon(1008, b"slow consumer")
            return
        self._wakeup.set()

    def send_market(self, stream: str, frame: bytes, fault_host: str) -> None:
        """A market-data frame of ``stream`` (e.g. ``books:BTC-USDT``), subject to stream faults."""
        if self.closed:
            return
        fault = self._faults.take_stream(fault_host)
        if fault is None:
            self._push_market(frame)
        elif fault is StreamFault.MALFORMED:
            self._push_market(frame[: max(1, len(frame) // 2)])
        elif fault is StreamFault.STALE:
            self._push_market(frame)
            self._push_market(self._last_frame.get(stream, frame))
        else:  # OUT_OF_ORDER: this frame goes after the next one
            if self._held is not None:
                self._push_market(self._held[1])
            self._held = (stream, frame)
            self._last_frame[stream] = frame
            return
        self._last_frame[stream] = frame
        if self._held is not None and fault is None:
            held, self._held = self._held, None
            self._push_market(held[1])

    def _push_market(self, frame: bytes) -> None:
        if self._market_waiting >= self._market_max:
            self._drop_oldest_market()
        self._queue.append((True, frame))
        self._market_waiting += 1
        self._wakeup.set()

    def _drop_oldest_market(self) -> None:
        for i, (is_market, _) in enumerate(self._queue):
            if is_market:
                del self._queue[i]
                self._market_waiting -= 1
                self.dropped += 1
                return

    # -- tasks ------------------------------------------------------------------------------

    async def run_sender(self) -> None:
        ws = self.ws
        while not self.closed:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue and not self.closed:
                is_market, frame = self._queue.popleft()
                if is_market:
                    self._market_waiting -= 1
                try:
                    await ws.send_frame(frame, WSMsgType.TEXT)
                except (ConnectionError, RuntimeError):
                    self.closed = True
                    return
                self.sent += 1
                self.last_tx = time.monotonic()
            if self._pending_close is not None:
                code, message = self._pending_close
                await self._close(code, message)
                return

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

    # -- closing ----------------------------------------------------------------------------

    def close_soon(self, code: int = 1000, message: bytes = b"") -> None:
        """Close after the frames already queued are sent."""
        self._pending_close = (code, message)
        self._wakeup.set()

    async def _close(self, code: int, message: bytes) -> None:
        self.closed = True
        self.close_code = code
        self._wakeup.set()
        if not self.ws.closed:
            await self.ws.close(code=code, message=message)

    def kill(self) -> None:
        """Drop the TCP connection without a close frame (the client sees 1006)."""
        self.closed = True
        self._wakeup.set()
        if self._transport is not None:
            self._transport.abort()

    async def serve(self, read: Callable[[], Awaitable[None]], idle_timeout_s: float) -> None:
        """Run the sender and the watchdog beside ``read`` until the reader ends, then stop them."""
        async with asyncio.TaskGroup() as tg:
            sender = tg.create_task(self.run_sender(), name=f"okx-ws{self.id}-send")
            watchdog = tg.create_task(self.run_watchdog(idle_timeout_s), name=f"okx-ws{self.id}-idle")
            try:
                await read()
            finally:
                self.closed = True
                self._wakeup.set()
                sender.cancel()
                watchdog.cancel()
