"""A resilient Bybit WebSocket connection: reconnects, authenticates, keeps alive, resubscribes.

:class:`BybitWs` owns one logical stream. ``run()`` (awaited inside the caller's
``asyncio.TaskGroup``) connects with the ``websockets`` client and, until cancelled:

- reconnects after any drop with exponential backoff and jitter (:class:`Backoff`, paced by a
  :class:`~exchanges.wsutil.ReconnectPacer`); the attempt counter resets as soon as a
  connection is healthy — its first message (auth answer, subscribe ack, data) — unless that
  connection's authentication was refused (a wrong key keeps backing off);
- on a private stream sends ``{"op":"auth","args":[key, expires, signature]}`` first and waits
  for its answer; a refusal is reported (``StreamStatus`` reason ``auth failed: ...``) and
  retried with backoff;
- sends ``{"op":"subscribe","args":[...]}`` for every topic (at most ``max_args`` per request)
  after each (re)connect; acknowledgements are consumed here, refusals counted and logged;
- keeps alive as Bybit requires: ``{"op":"ping"}`` every ``ping_interval_s`` (20 s
  recommended); no message at all within ``pong_timeout_s`` after a ping closes the
  connection (a dead TCP path is noticed within ``ping_interval_s + pong_timeout_s``);
- reports :class:`~exchanges.base.StreamStatus` on connect (once authenticated and
  subscribed) and disconnect into its :class:`BoundedBuffer`, with every data frame as a
  :class:`Frame`.

Overflow policy of :class:`BoundedBuffer`:

- ``Overflow.DROP_OLDEST`` (market data): when full, the oldest *frame* is discarded and
  counted in ``dropped`` (a book that then sees a gap resyncs). Status items are never dropped.
- ``Overflow.BLOCK`` (user data): nothing is ever dropped; the reader waits for space, which
  stops reading the socket and pushes back on the venue over TCP.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec
from loguru import logger
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from exchanges.base import StreamStatus
from exchanges.wsutil import Backoff, BoundedBuffer, ErrorTally, Overflow, ReconnectPacer

__all__ = [
    "Overflow",
    "Frame",
    "BoundedBuffer",
    "Backoff",
    "ErrorTally",
    "WsStats",
    "NotConnected",
    "BybitWs",
    "AuthArgs",
]

AuthArgs = Callable[[], list[object]]
"""Builds the ``args`` of the auth request (key, expires, signature) right before it is sent."""


class Frame(msgspec.Struct, frozen=True, gc=False):
    """One data message as received. ``generation`` numbers the connection (1, 2...)."""

    source: str
    data: bytes
    recv_ns: int
    generation: int


@dataclass(slots=True)
class WsStats:
    messages: int = 0
    connects: int = 0
    reconnects: int = 0
    control_errors: int = 0
    auth_failures: int = 0
    connect_failures: int = 0
    backoffs: int = 0
    pings: int = 0
    decode_errors: ErrorTally = field(default_factory=lambda: ErrorTally("bybit:ws"))
    last_disconnect_reason: str = ""


class NotConnected(Exception):
    """:meth:`BybitWs.send` with no live connection (nothing was sent)."""


class _Control(msgspec.Struct, kw_only=True):
    """Any non-data message: replies to auth/subscribe/unsubscribe/ping."""

    op: str = ""
    success: bool | None = None
    ret_msg: str = ""
    req_id: str | int | None = None
    topic: str | None = None


class _AuthFailed(Exception):
    pass


_decode_control = msgspec.json.Decoder(_Control).decode
_CONTROL_OPS = frozenset({"auth", "subscribe", "unsubscribe", "ping", "pong"})


class BybitWs:
    """One self-healing Bybit stream feeding a :class:`BoundedBuffer` (see the module doc)."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        topics: Iterable[str] = (),
        auth: AuthArgs | None = None,
        buffer: BoundedBuffer[Frame | StreamStatus] | None = None,
        overflow: Overflow = Overflow.DROP_OLDEST,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
        ping_interval_s: float = 20.0,
        pong_timeout_s: float = 10.0,
        open_timeout_s: float = 10.0,
        auth_timeout_s: float = 10.0,
        close_timeout_s: float = 2.0,
        max_lifetime_s: float | None = None,
        max_args: int = 10,
        max_message_bytes: int = 4 * 1024 * 1024,
        tally: ErrorTally | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._auth = auth
        self.buffer: BoundedBuffer[Frame | StreamStatus] = (
            buffer if buffer is not None else BoundedBuffer(queue_size, overflow)
        )
        self._backoff = backoff or Backoff()
        self._ping_interval_s = ping_interval_s
        self._pong_timeout_s = pong_timeout_s
        self._open_timeout_s = open_timeout_s
        self._auth_timeout_s = auth_timeout_s
        self._close_timeout_s = close_timeout_s
        self._max_lifetime_s = max_lifetime_s
        self._max_args = max(1, max_args)
        self._max_message_bytes = max_message_bytes
        self._topics: dict[str, None] = dict.fromkeys(topics)
        self._rng = rng or random.Random()
        self.pacer = ReconnectPacer(self._backoff, self._rng)
        self._healthy = False
        self.stats = WsStats(decode_errors=tally if tally is not None else ErrorTally(name))
        self._conn: ClientConnection | None = None
        self._generation = 0
        self._req_ids = itertools.count(1)
        self._pending: dict[str, tuple[str, list[str]]] = {}
        self._auth_reply: asyncio.Future[_Control] | None = None
        self._reconnect_requested = asyncio.Event()
        self._reconnect_reason = ""
        self._close_reason = ""
        self._last_rx = 0.0
        self._connected_event = asyncio.Event()

    # -- state ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._topics)

    async def wait_connected(self) -> int:
        while self._conn is None:
            self._connected_event.clear()
            await self._connected_event.wait()
        return self._generation

    # -- commands ------------------------------------------------------------------------------

    async def send(self, data: bytes | str) -> None:
        conn = self._conn
        if conn is None:
            raise NotConnected(f"{self.name}: not connected")
        await conn.send(data)

    async def subscribe(self, topics: Iterable[str]) -> None:
        """Add topics; sent now if connected and replayed after every reconnect."""
        new = [t for t in topics if t not in self._topics]
        self._topics.update(dict.fromkeys(new))
        if new and self._conn is not None:
            await self._control_now("subscribe", new)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        gone = [t for t in topics if t in self._topics]
        for t in gone:
            del self._topics[t]
        if gone and self._conn is not None:
            await self._control_now("unsubscribe", gone)

    async def resubscribe(self, topic: str) -> None:
        """Unsubscribe and subscribe ``topic`` again: Bybit answers with a fresh snapshot."""
        if self._conn is None:
            return  # the next connection subscribes (and gets a snapshot) anyway
        await self._control_now("unsubscribe", [topic])
        await self._control_now("subscribe", [topic])

    async def _control_now(self, op: str, topics: list[str]) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            await self._send_control(conn, op, topics)
        except ConnectionClosed:
            logger.debug("{}: {} not sent, connection closing; replayed on reconnect", self.name, op)

    def request_reconnect(self, reason: str) -> None:
        """Close the live connection (the run loop reconnects at once). No-op when down."""
        if self._conn is None:
            return
        self._reconnect_reason = reason
        self._reconnect_requested.set()

    # -- run loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and keep connected until cancelled."""
        pacer = self.pacer
        first_attempt = True
        ever_connected = False
        while True:
            opened_at: float | None = None
            reason: str
            try:
                conn = await connect(
                    self._url,
                    open_timeout=self._open_timeout_s,
                    ping_interval=self._ping_interval_s,
                    ping_timeout=self._ping_interval_s + self._pong_timeout_s,
                    close_timeout=self._close_timeout_s,
                    max_size=self._max_message_bytes,
                    compression=None,
                )
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                reason = f"connect failed: {exc!r}"
            else:
                opened_at = time.monotonic()
                reason = await self._serve(conn, ever_connected)
                if not reason.startswith(("auth failed", "closed during handshake")):
                    ever_connected = True
            self.stats.last_disconnect_reason = reason
            if opened_at is not None or first_attempt:
                logger.info("{}: disconnected ({})", self.name, reason)
                await self.buffer.put(self._status(False, reason))
            else:
                self.stats.connect_failures += 1
                if self.stats.connect_failures % 10 == 0:
                    logger.warning("{}: still down after {} attempts ({})", self.name, pacer.attempt + 1, reason)
            first_attempt = False
            if opened_at is not None and self._healthy and not reason.startswith("auth failed"):
                pacer.healthy()
            if reason.startswith("requested") and opened_at is not None:
                continue
            self.stats.backoffs += 1
            await asyncio.sleep(pacer.next_delay())

    def _status(self, connected: bool, reason: str) -> StreamStatus:
        return StreamStatus(stream=self.name, connected=connected, reason=reason, ts_ns=time.time_ns())

    async def _serve(self, conn: ClientConnection, is_reconnect: bool) -> str:
        loop = asyncio.get_running_loop()
        self._generation += 1
        self.stats.connects += 1
        if is_reconnect:
            self.stats.reconnects += 1
        self._reconnect_requested.clear()
        self._reconnect_reason = ""
        self._close_reason = ""
        self._pending.clear()
        self._healthy = False
        self._last_rx = loop.time()
        opened_at = loop.time()
        try:
            async with asyncio.TaskGroup() as tg:
                reader = tg.create_task(self._read(conn), name=f"{self.name}:read")
                watcher = tg.create_task(self._watch(conn, opened_at), name=f"{self.name}:watch")
                pinger: asyncio.Task[None] | None = None
                if await self._try_handshake(conn):
                    self._conn = conn
                    self._connected_event.set()
                    status = "reconnected: events may have been missed" if is_reconnect else "connected"
                    await self.buffer.put(self._status(True, status))
                    pinger = tg.create_task(self._ping_forever(conn), name=f"{self.name}:ping")
                reason = await reader
                watcher.cancel()
                if pinger is not None:
                    pinger.cancel()
        finally:
            self._conn = None
            if self._auth_reply is not None and not self._auth_reply.done():
                self._auth_reply.cancel()
            self._auth_reply = None
            if conn.state is not State.CLOSED:
                await _close_quietly(conn, self._close_timeout_s)
        return self._close_reason or reason

    async def _try_handshake(self, conn: ClientConnection) -> bool:
        """Authenticate and subscribe; on failure close the connection (the reader then ends)."""
        try:
            await self._handshake(conn)
        except _AuthFailed as exc:
            self.stats.auth_failures += 1
            self._close_reason = f"auth failed: {exc}"
            logger.error("{}: authentication refused: {}", self.name, exc)
        except TimeoutError:
            self.stats.auth_failures += 1
            self._close_reason = f"auth failed: no answer within {self._auth_timeout_s:g}s"
        except ConnectionClosed as exc:
            self._close_reason = f"closed during handshake: {exc}"
        else:
            return True
        await _close_quietly(conn, self._close_timeout_s)
        return False

    async def _handshake(self, conn: ClientConnection) -> None:
        """Authenticate (private streams) and subscribe; raises _AuthFailed when refused."""
        if self._auth is not None:
            self._auth_reply = asyncio.get_running_loop().create_future()
            req_id = f"auth-{next(self._req_ids)}"
            await conn.send(msgspec.json.encode({"req_id": req_id, "op": "auth", "args": self._auth()}))
            async with asyncio.timeout(self._auth_timeout_s):
                reply = await self._auth_reply
            if not reply.success:
                raise _AuthFailed(reply.ret_msg or "refused")
        if self._topics:
            await self._send_control(conn, "subscribe", list(self._topics))

    async def _watch(self, conn: ClientConnection, opened_at: float) -> None:
        """Closes the connection on request or at the end of its lifetime."""
        loop = asyncio.get_running_loop()
        while True:
            wait = None
            if self._max_lifetime_s is not None:
                wait = max(0.0, opened_at + self._max_lifetime_s - loop.time())
            try:
                async with asyncio.timeout(wait):
                    await self._reconnect_requested.wait()
                reason = f"requested: {self._reconnect_reason}"
            except TimeoutError:
                reason = f"requested: lifetime {self._max_lifetime_s:g}s reached"
            self._close_reason = reason
            await _close_quietly(conn, self._close_timeout_s)
            return

    async def _ping_forever(self, conn: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._ping_interval_s)
            sent_at = loop.time()
            self.stats.pings += 1
            try:
                await conn.send(msgspec.json.encode({"req_id": f"ping-{next(self._req_ids)}", "op": "ping"}))
            except ConnectionClosed:
                return  # the reader reports why
            await asyncio.sleep(self._pong_timeout_s)
            if self._last_rx < sent_at:
                self._close_reason = f"pong timeout: nothing received {self._pong_timeout_s:g}s after a ping"
                logger.warning("{}: {}", self.name, self._close_reason)
                await _close_quietly(conn, self._close_timeout_s)
                return

    async def _read(self, conn: ClientConnection) -> str:
        loop = asyncio.get_running_loop()
        stats = self.stats
        put = self.buffer.put
        source, generation = self.name, self._generation
        try:
            while True:
                data = await conn.recv(decode=False)
                recv_ns = time.time_ns()
                self._last_rx = loop.time()
                stats.messages += 1
                self._healthy = True
                if self._handle_control(data):
                    continue
                await put(Frame(source, data, recv_ns, generation), droppable=True)
        except ConnectionClosed as exc:
            return f"closed: {exc}"

    async def _send_control(self, conn: ClientConnection, op: str, topics: list[str]) -> None:
        for i in range(0, len(topics), self._max_args):
            chunk = topics[i : i + self._max_args]
            req_id = f"{op[:5]}-{next(self._req_ids)}"
            self._pending[req_id] = (op, chunk)
            await conn.send(msgspec.json.encode({"req_id": req_id, "op": op, "args": chunk}))

    def _handle_control(self, data: bytes) -> bool:
        """True when ``data`` was a control reply (consumed here), False for a data frame."""
        try:
            msg = _decode_control(data)
        except msgspec.DecodeError:
            return False  # malformed: the consumer counts it
        if msg.topic is not None:
            return False
        if msg.op not in _CONTROL_OPS and msg.success is None:
            return False
        if msg.op == "auth":
            if self._auth_reply is not None and not self._auth_reply.done():
                self._auth_reply.set_result(msg)
            return True
        if msg.op in ("ping", "pong") or msg.ret_msg == "pong":
            return True
        pending = self._pending.pop(str(msg.req_id), None) if msg.req_id is not None else None
        if msg.success is False:
            self.stats.control_errors += 1
            logger.error("{}: {} {} refused: {}", self.name, msg.op or "request", pending, msg.ret_msg)
        return True


async def _close_quietly(conn: ClientConnection, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s + 1.0):
            await conn.close()
    except (TimeoutError, OSError, ConnectionClosed):
        conn.transport.abort()
