"""One WebSocket connection: its outbound queue, idle cut-off, lifetime and injected frame faults.

Overflow policy: market-data frames are dropped oldest-first when ``market_queue_max`` frames
wait (counted in ``dropped``); replies and private frames are never dropped — if more than
``user_queue_max`` wait, the consumer is too slow and the connection is closed.

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
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import WSMsgType, web

from exchanges.sim.faults import Faults, StreamFault

__all__ = ["WsConn", "ConnRole"]

_log = logging.getLogger("exchanges.bybit.sim.connection")
_ids = itertools.count(1)

ConnRole = Literal["streams", "user"]


def _conn_id() -> str:
    """Bybit's ``conn_id`` looks like ``cejreaspqfh3sjdnldmg-p``."""
    return secrets.token_hex(10) + "-" + secrets.token_hex(2)


class WsConn:
    """Outbound side of one client connection; the reader loop lives in the route handler."""

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
        self.id = next(_ids)
        self.conn_id = _conn_id()
        self.ws = ws
        self.host = host
        self.role = role
        self.remote = request.remote or "?"
        self.path = request.path
        self._transport = request.transport
        self._faults = faults
        self._market_max = market_queue_max
        self._user_max = user_queue_max
        self._queue: deque[tuple[bool, bytes]] = deque()
        self._market_waiting = 0
        self._wakeup = asyncio.Event()
        self._held: bytes | None = None
        self._last_frame: dict[str, bytes] = {}
        self.authed = False
        self.dropped = 0
        self.sent = 0
        self.closed = False
        self.last_rx = time.monotonic()
        self._pending_close: tuple[int, bytes] | None = None

    # -- enqueue ----------------------------------------------------------------------------

    def send_reply(self, frame: bytes) -> None:
        """A reply or a private (user data) frame: never dropped."""
        if self.closed:
            return
        self._queue.append((False, frame))
        if len(self._queue) - self._market_waiting > self._user_max:
            _log.warning("connection %s: %d frames waiting, closing slow consumer", self.id, len(self._queue))
            self.close_soon(1008, b"slow consumer")
            return
        self._wakeup.set()

    def send_market(self, topic: str, frame: bytes) -> None:
        """A market-data frame of ``topic``; stream faults apply here only."""
        if self.closed:
            return
        fault = self._faults.take_stream(self.host)
        if fault is None:
            self._push_market(frame)
        elif fault is StreamFault.MALFORMED:
            self._push_market(frame[: max(1, len(frame) // 2)])
        elif fault is StreamFault.STALE:
            self._push_market(frame)
            self._push_market(self._last_frame.get(topic, frame))
        else:  # OUT_OF_ORDER: this frame goes after the next one
            if self._held is not None:
                self._push_market(self._held)
            self._held = frame
            self._last_frame[topic] = frame
            return
        self._last_frame[topic] = frame
        if self._held is not None and fault is None:
            held, self._held = self._held, None
            self._push_market(held)

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
            if self._pending_close is not None:
                code, message = self._pending_close
                await self._close(code, message)
                return

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

    # -- closing ----------------------------------------------------------------------------

    def close_soon(self, code: int = 1000, message: bytes = b"") -> None:
        """Close after the frames already queued are sent."""
        self._pending_close = (code, message)
        self._wakeup.set()

    async def _close(self, code: int, message: bytes) -> None:
        self.closed = True
        self._wakeup.set()
        if not self.ws.closed:
            await self.ws.close(code=code, message=message)

    def kill(self) -> None:
        """Drop the TCP connection without a close frame (the client sees 1006)."""
        self.closed = True
        self._wakeup.set()
        if self._transport is not None:
            self._transport.abort()

    async def serve(self, read: Callable[[], Awaitable[None]], idle_timeout_s: float, lifetime_s: float) -> None:
        """Run the sender and the watchdog beside ``read`` until the reader ends, then stop them."""
        async with asyncio.TaskGroup() as tg:
            sender = tg.create_task(self.run_sender(), name=f"bybit-{self.role}{self.id}-send")
            watchdog = tg.create_task(
                self.run_watchdog(idle_timeout_s, lifetime_s), name=f"bybit-{self.role}{self.id}-idle"
            )
            try:
                await read()
            finally:
                self.mark_closed()
                sender.cancel()
                watchdog.cancel()

    def mark_closed(self) -> None:
        self.closed = True
        self._wakeup.set()
