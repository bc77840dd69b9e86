"""One WebSocket connection: its outbound queue, keep-alive, lifetime and injected frame faults.

Overflow policy: market-data frames are dropped oldest-first when ``market_queue_max`` frames
wait (counted in ``dropped``); replies and user-data frames are never dropped — if more than
``user_queue_max`` wait, the consumer is too slow and the connection is closed (as Binance
disconnects slow consumers).

Keep-alive (§6): the server pings every ``ping_interval_s``; a client that has not answered a
ping within ``pong_timeout_s`` is disconnected. Client pings are answered with their payload.
After ``lifetime_s`` the connection is closed (Binance's 24 h cut).

``sent_probe`` (None unless the bench firehose sets it) is called with each frame just before
it is written to the socket: the latency probe's send timestamp.
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

__all__ = ["WsConn", "ConnRole"]

_log = logging.getLogger("exchanges.binance.sim.connection")
_ids = itertools.count(1)

ConnRole = Literal["streams", "ws-api"]


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
        self.combined = False
        self.has_user_data = False
        self.dropped = 0
        self.sent = 0
        self.closed = False
        self._pong_pending_since: float | None = None
        self._pending_close: tuple[int, bytes] | None = None
        self.sent_probe: Callable[[bytes], None] | None = None

    # -- enqueue ----------------------------------------------------------------------------

    def send_reply(self, frame: bytes) -> None:
        """A control reply, WS-API response or user-data event: never dropped."""
        if self.closed:
            return
        self._queue.append((False, frame))
        if len(self._queue) - self._market_waiting > self._user_max:
            _log.warning("connection %s: %d frames waiting, closing slow consumer", self.id, len(self._queue))
            self.close_soon(1008, b"slow consumer")
            return
        self._wakeup.set()

    def send_market(self, name: str, data: bytes, combined_frame: bytes | None = None) -> None:
        """A market-data frame of stream ``name`` (``data`` is the event, unwrapped)."""
        if self.closed:
            return
        frame = data
        if self.combined:
            frame = combined_frame if combined_frame is not None else wrap(name, data)
        fault = self._faults.take_stream(self.host)
        if fault is None:
            self._push_market(frame)
        elif fault is StreamFault.MALFORMED:
            self._push_market(frame[: max(1, len(frame) // 2)])
        elif fault is StreamFault.STALE:
            self._push_market(frame)
            self._push_market(self._last_frame.get(name, frame))
        else:  # OUT_OF_ORDER: this frame goes after the next one
            if self._held is not None:
                self._push_market(self._held)
            self._held = frame
            self._last_frame[name] = frame
            return
        self._last_frame[name] = frame
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
                    if self.sent_probe is not None:
                        self.sent_probe(frame)
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

    async def serve(
        self,
        read: Callable[[asyncio.TaskGroup], Awaitable[None]],
        ping_interval_s: float,
        pong_timeout_s: float,
        lifetime_s: float,
    ) -> None:
        """Run the sender and keep-alive beside ``read`` until the reader ends, then stop them."""
        async with asyncio.TaskGroup() as tg:
            sender = tg.create_task(self.run_sender(), name=f"{self.role}{self.id}-send")
            keeper = tg.create_task(
                self.run_keepalive(ping_interval_s, pong_timeout_s, lifetime_s),
                name=f"{self.role}{self.id}-ping",
            )
            try:
                await read(tg)
            finally:
                self.mark_closed()
                sender.cancel()
                keeper.cancel()

    def mark_closed(self) -> None:
        self.closed = True
        self._wakeup.set()


def wrap(name: str, data: bytes) -> bytes:
    """Combined-stream envelope ``{"stream":name,"data":data}``."""
    return b'{"stream":"' + name.encode() + b'","data":' + data + b"}"
