"""The server side of one simulated WebSocket connection, whatever venue it speaks for:
its outbound queue, injected frame faults, the sender task and closing.

Overflow policy: market-data frames are dropped oldest-first when ``market_queue_max`` frames
wait (counted in ``dropped``); replies and user-data frames are never dropped — if more than
``user_queue_max`` wait, the consumer is too slow and the connection is closed (1008).

Stream faults (``Faults.take_stream``) apply to market frames only: a truncated frame, a stale
repeat of the key's previous frame, or a frame held back behind the next one.

A venue's ``WsConn`` subclasses :class:`SimWsConn` with its own keep-alive (server pings, an
idle watchdog, a lifetime cut) and runs it beside the reader with :meth:`SimWsConn.run_beside`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from exchanges.sim.faults import Faults, StreamFault

__all__ = ["SimWsConn"]


class SimWsConn:
    """Outbound side of one client connection; the reader loop lives in the route handler.

    A venue's subclass sets ``numbers`` (where its connections' ``id``s come from, so each venue
    numbers its own from 1) and ``log`` (its logger). ``sent_probe`` (None unless a benchmark
    sets it) is called with each market frame just before it is written to the socket.
    """

    numbers: ClassVar[Iterator[int]] = itertools.count(1)
    log: ClassVar[logging.Logger] = logging.getLogger("exchanges.sim.wsconn")

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        faults: Faults,
        market_queue_max: int,
        user_queue_max: int,
    ) -> None:
        self.id = next(self.numbers)
        self.ws = ws
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
        self.dropped = 0
        self.sent = 0
        self.closed = False
        self.close_code: int | None = None
        self.last_tx = time.monotonic()
        self._pending_close: tuple[int, bytes] | None = None
        self.sent_probe: Callable[[bytes], None] | None = None

    # -- enqueue ----------------------------------------------------------------------------

    def send_reply(self, frame: bytes) -> None:
        """A reply, event or user-data (private) frame: never dropped."""
        if self.closed:
            return
        self._queue.append((False, frame))
        if len(self._queue) - self._market_waiting > self._user_max:
            self.log.warning("connection %s: %d frames waiting, closing slow consumer", self.id, len(self._queue))
            self.close_soon(1008, b"slow consumer")
            return
        self._wakeup.set()

    def queue_market(self, key: str, frame: bytes, fault_host: str) -> None:
        """A market-data ``frame`` of stream ``key``, subject to the stream faults armed for ``fault_host``."""
        if self.closed:
            return
        fault = self._faults.take_stream(fault_host)
        if fault is None:
            self._push_market(frame)
        elif fault is StreamFault.MALFORMED:
            self._push_market(frame[: max(1, len(frame) // 2)])
        elif fault is StreamFault.STALE:
            self._push_market(frame)
            self._push_market(self._last_frame.get(key, frame))
        else:  # OUT_OF_ORDER: this frame goes after the next one
            if self._held is not None:
                self._push_market(self._held)
            self._held = frame
            self._last_frame[key] = frame
            return
        self._last_frame[key] = frame
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
                self.last_tx = time.monotonic()
            if self._pending_close is not None:
                code, message = self._pending_close
                await self._close(code, message)
                return

    async def run_beside(
        self,
        read: Callable[[asyncio.TaskGroup], Awaitable[None]],
        watchdog: Coroutine[Any, Any, None],
        *,
        name: str,
        watchdog_name: str,
    ) -> None:
        """Run the sender and ``watchdog`` (the venue's keep-alive) beside ``read`` until the
        reader ends, then stop them. ``read`` gets the task group for work of its own."""
        async with asyncio.TaskGroup() as tg:
            sender = tg.create_task(self.run_sender(), name=f"{name}-send")
            guard = tg.create_task(watchdog, name=f"{name}-{watchdog_name}")
            try:
                await read(tg)
            finally:
                self.mark_closed()
                sender.cancel()
                guard.cancel()

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

    def mark_closed(self) -> None:
        self.closed = True
        self._wakeup.set()
