"""A resilient OKX WebSocket connection: login, subscriptions, text keep-alive, reconnects.

:class:`OkxWs` owns one connection to ``/ws/v5/public`` or ``/ws/v5/private``. ``run()``
(awaited inside the caller's ``asyncio.TaskGroup``) connects with the ``websockets`` client and,
until cancelled:

- logs in first when it has credentials (``login`` op, timestamp in seconds from the server
  clock; OKX answers ``{"event":"login","code":"0"}``, or an error such as 60009 and closes
  4001). A failed login is reported (``StreamStatus`` with ``login failed: ...``) and retried
  with backoff; a refused key never becomes a tight loop;
- (re)subscribes every channel added with :meth:`subscribe` — after the login, on every
  connection — and consumes the ``subscribe``/``unsubscribe``/``error`` events itself;
- keeps the connection alive as OKX requires: after ``ping_after_s`` (< 30 s) without any
  message it sends the text ``ping``; no ``pong`` (or other traffic) within ``pong_timeout_s``
  means a dead link: it reconnects. The server closes idle connections after 30 s (4004);
- paces its connection attempts through a shared :class:`~exchanges.okx.gate.ConnectGate`
  (OKX: 3 per second per IP);
- reconnects after any drop with exponential backoff and jitter (paced by a
  :class:`~exchanges.wsutil.ReconnectPacer`: the attempt counter resets as soon as a
  connection is healthy — its first message, unless its login was refused), at once after a
  service-upgrade
  ``notice`` (64008), when OKX refuses an operation for the per-connection budget (60014:
  480 subscribe/unsubscribe/login an hour), or on :meth:`request_reconnect`;
- puts every data push and order-operation reply, as a :class:`Frame`, and a
  :class:`~exchanges.base.StreamStatus` on each connect and disconnect into a
  :class:`BoundedBuffer` the consumer reads.

``connected`` is true once the connection is usable (logged in, subscriptions sent).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec
from loguru import logger
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from exchanges import telemetry
from exchanges.base import StreamStatus
from exchanges.credentials import Credentials
from exchanges.wsutil import ReconnectPacer

from .buffers import Backoff, BoundedBuffer, ErrorTally, Frame, Overflow
from .clock import ServerClock
from .gate import ConnectGate
from .signing import sign_ws_login
from .ws_schemas import decode_event, decode_head

__all__ = ["OkxWs", "WsStats", "NotConnected", "arg_key", "LOGIN_CODES"]

_SUBSCRIBE_BYTES = 4000  # args per subscribe request, well under OKX's 64 KB
_MAX_QUICK_PROACTIVE = 3
LOGIN_CODES = frozenset({"60004", "60005", "60006", "60007", "60009", "60024", "60013", "60022", "60023"})


def arg_key(arg: dict[str, str]) -> str:
    """A stable identity of one subscription argument."""
    return "|".join(f"{k}={arg[k]}" for k in sorted(arg))


@dataclass(slots=True)
class WsStats:
    messages: int = 0
    connects: int = 0
    reconnects: int = 0
    login_failures: int = 0
    control_errors: int = 0
    pings_sent: int = 0
    connect_failures: int = 0
    last_disconnect_reason: str = ""
    last_error: str = ""
    decode_errors: ErrorTally = field(default_factory=lambda: ErrorTally("okx:ws"))


class NotConnected(Exception):
    """:meth:`OkxWs.send` with no usable connection (nothing was sent)."""


class _LoginFailed(Exception):
    pass


class OkxWs:
    """One self-healing OKX WebSocket (see the module doc)."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        buffer: BoundedBuffer[Frame | StreamStatus] | None = None,
        overflow: Overflow = Overflow.DROP_OLDEST,
        queue_size: int = 10_000,
        credentials: Credentials | None = None,
        clock: ServerClock | None = None,
        backoff: Backoff | None = None,
        stable_after_s: float = 10.0,
        ping_after_s: float = 20.0,
        pong_timeout_s: float = 10.0,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 2.0,
        login_timeout_s: float = 10.0,
        max_message_bytes: int = 8 * 1024 * 1024,
        subscriptions: Iterable[dict[str, str]] = (),
        tally: ErrorTally | None = None,
        rng: random.Random | None = None,
        gate: ConnectGate | None = None,
    ) -> None:
        self.name = name
        self._gate = gate
        self.url = url
        self.buffer: BoundedBuffer[Frame | StreamStatus] = (
            buffer if buffer is not None else BoundedBuffer(queue_size, overflow)
        )
        self._droppable = self.buffer.overflow is Overflow.DROP_OLDEST
        self._credentials = credentials
        self._clock = clock or ServerClock()
        self._backoff = backoff or Backoff()
        self._stable_after_s = stable_after_s
        self._ping_after_s = ping_after_s
        self._pong_timeout_s = pong_timeout_s
        self._open_timeout_s = open_timeout_s
        self._close_timeout_s = close_timeout_s
        self._login_timeout_s = login_timeout_s
        self._max_message_bytes = max_message_bytes
        self._subs: dict[str, dict[str, str]] = {arg_key(a): dict(a) for a in subscriptions}
        self._rng = rng or random.Random()
        self.pacer = ReconnectPacer(self._backoff, self._rng)
        self._healthy = False
        self.stats = WsStats(decode_errors=tally if tally is not None else ErrorTally(name))
        self._conn: ClientConnection | None = None
        self._usable = False
        self._generation = 0
        self._ids = itertools.count(1)
        self._pending: dict[str, str] = {}
        self._login_result: asyncio.Future[None] | None = None
        self._reconnect = asyncio.Event()
        self._reconnect_reason = ""
        self._close_reason = ""
        self._last_rx = 0.0
        self._ping_sent_at: float | None = None
        self._connected_event = asyncio.Event()

    # -- state ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._usable

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def subscriptions(self) -> list[dict[str, str]]:
        return [dict(a) for a in self._subs.values()]

    async def wait_connected(self) -> int:
        while not self._usable:
            self._connected_event.clear()
            await self._connected_event.wait()
        return self._generation

    # -- commands ------------------------------------------------------------------------------

    async def send(self, data: bytes | str) -> None:
        conn = self._conn
        if conn is None or not self._usable:
            raise NotConnected(f"{self.name}: not connected")
        await conn.send(data)

    async def subscribe(self, args: Iterable[dict[str, str]]) -> None:
        """Add subscriptions; sent now if connected and again after every reconnect."""
        new = [dict(a) for a in args if arg_key(a) not in self._subs]
        for a in new:
            self._subs[arg_key(a)] = a
        if new and self._usable:
            await self._op_quietly("subscribe", new)

    async def unsubscribe(self, args: Iterable[dict[str, str]]) -> None:
        gone = [self._subs.pop(arg_key(a)) for a in args if arg_key(a) in self._subs]
        if gone and self._usable:
            await self._op_quietly("unsubscribe", gone)

    async def resubscribe(self, args: Iterable[dict[str, str]]) -> None:
        """Unsubscribe then subscribe again (a ``books`` channel then starts with a new snapshot)."""
        items = [dict(a) for a in args]
        if self._usable:
            await self._op_quietly("unsubscribe", items)
            await self._op_quietly("subscribe", items)

    def request_reconnect(self, reason: str) -> None:
        if self._conn is None:
            return
        self._reconnect_reason = reason
        self._reconnect.set()

    async def _op_quietly(self, op: str, args: list[dict[str, str]]) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            await self._send_op(conn, op, args)
        except ConnectionClosed:
            logger.debug("{}: {} not sent, connection closing; replayed on reconnect", self.name, op)

    async def _send_op(self, conn: ClientConnection, op: str, args: list[dict[str, str]]) -> None:
        chunk: list[dict[str, str]] = []
        size = 0
        for arg in args:
            encoded = len(msgspec.json.encode(arg))
            if chunk and size + encoded > _SUBSCRIBE_BYTES:
                await self._send_chunk(conn, op, chunk)
                chunk, size = [], 0
            chunk.append(arg)
            size += encoded
        if chunk:
            await self._send_chunk(conn, op, chunk)

    async def _send_chunk(self, conn: ClientConnection, op: str, args: list[dict[str, str]]) -> None:
        req_id = f"{op[:3]}{next(self._ids)}"
        self._pending[req_id] = op
        await conn.send(msgspec.json.encode({"id": req_id, "op": op, "args": args}).decode())

    # -- run loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and keep connected until cancelled."""
        try:
            await self._run_forever()
        finally:
            telemetry.ws_closed(self.name)

    async def _run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        pacer = self.pacer
        quick = 0
        first = True
        ever = False
        while True:
            opened_at: float | None = None
            if self._gate is not None:
                await self._gate.wait()
            try:
                conn = await connect(
                    self.url,
                    open_timeout=self._open_timeout_s,
                    ping_interval=None,  # OKX keep-alive is the text "ping" (see _watch)
                    close_timeout=self._close_timeout_s,
                    max_size=self._max_message_bytes,
                    compression=None,
                )
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                reason = f"connect failed: {exc!r}"
            else:
                opened_at = loop.time()
                reason = await self._serve(conn, ever)
                ever = ever or reason != "login failed"
            self.stats.last_disconnect_reason = reason
            if opened_at is not None or first:
                telemetry.ws_state(self.name, False)
                logger.info("{}: disconnected ({})", self.name, reason)
                await self.buffer.put(self._status(False, reason))
            else:
                self.stats.connect_failures += 1
                if self.stats.connect_failures % 10 == 0:
                    logger.warning("{}: still down after {} attempts ({})", self.name, pacer.attempt + 1, reason)
            first = False
            if opened_at is not None and self._healthy and reason != "login failed":
                pacer.healthy()
            # ``stable`` (up for stable_after_s) only guards against a venue that keeps asking
            # for planned reconnects right after connecting
            stable = opened_at is not None and loop.time() - opened_at >= self._stable_after_s
            if opened_at is not None and reason.startswith("requested"):
                quick = 0 if stable else quick + 1
                if quick <= _MAX_QUICK_PROACTIVE:
                    continue
            else:
                quick = 0
            await asyncio.sleep(pacer.next_delay())

    def _status(self, connected: bool, reason: str) -> StreamStatus:
        return StreamStatus(stream=self.name, connected=connected, reason=reason, ts_ns=time.time_ns())

    async def _serve(self, conn: ClientConnection, is_reconnect: bool) -> str:
        loop = asyncio.get_running_loop()
        self._generation += 1
        self.stats.connects += 1
        self._reconnect.clear()
        self._reconnect_reason = self._close_reason = ""
        self._pending.clear()
        self._healthy = False
        self._last_rx = loop.time()
        self._ping_sent_at = None
        self._conn = conn
        reason = "closed"
        login_failed = False
        try:
            async with asyncio.TaskGroup() as tg:
                reader = tg.create_task(self._read(conn), name=f"{self.name}:read")
                watcher = tg.create_task(self._watch(conn), name=f"{self.name}:watch")
                try:
                    await self._open(conn, is_reconnect)
                except _LoginFailed as exc:
                    login_failed = True
                    self.stats.last_error = str(exc)
                    logger.error("{}: login failed: {}", self.name, exc)
                    await self.buffer.put(self._status(False, f"login failed: {exc}"))
                    await _close_quietly(conn, self._close_timeout_s)
                except ConnectionClosed:
                    pass
                reason = await reader
                watcher.cancel()
        finally:
            self._conn = None
            self._usable = False
            if conn.state is not State.CLOSED:
                await _close_quietly(conn, self._close_timeout_s)
        if login_failed:
            return "login failed"
        return self._close_reason or reason

    async def _open(self, conn: ClientConnection, is_reconnect: bool) -> None:
        """Log in (private sockets), subscribe, and report the connection usable."""
        if self._credentials is not None:
            await self._login(conn)
        if self._subs:
            await self._send_op(conn, "subscribe", list(self._subs.values()))
        self._usable = True
        self._connected_event.set()
        if is_reconnect:
            self.stats.reconnects += 1
        logger.info("{}: connected to {} (#{})", self.name, self.url, self._generation)
        telemetry.ws_state(self.name, True, is_reconnect)
        await self.buffer.put(
            self._status(True, "reconnected: events may have been missed" if is_reconnect else "connected")
        )

    async def _login(self, conn: ClientConnection) -> None:
        creds = self._credentials
        assert creds is not None
        ts = str(self._clock.now_ms() // 1000)
        args = {"apiKey": creds.api_key, "passphrase": creds.passphrase, "timestamp": ts}
        args["sign"] = sign_ws_login(creds.api_secret, ts)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._login_result = fut
        await conn.send(msgspec.json.encode({"op": "login", "args": [args]}).decode())
        try:
            async with asyncio.timeout(self._login_timeout_s):
                await fut
        except TimeoutError:
            self.stats.login_failures += 1
            raise _LoginFailed(f"no login reply within {self._login_timeout_s:g}s") from None
        except _LoginFailed:
            self.stats.login_failures += 1
            raise
        finally:
            self._login_result = None

    async def _watch(self, conn: ClientConnection) -> None:
        """Text keep-alive, dead-link detection and requested reconnects."""
        loop = asyncio.get_running_loop()
        tick = max(0.05, min(1.0, self._ping_after_s / 4, self._pong_timeout_s / 4))
        while True:
            try:
                async with asyncio.timeout(tick):
                    await self._reconnect.wait()
                self._close_reason = f"requested: {self._reconnect_reason}"
                await _close_quietly(conn, self._close_timeout_s)
                return
            except TimeoutError:
                pass
            now = loop.time()
            if self._ping_sent_at is not None:
                if now - self._ping_sent_at >= self._pong_timeout_s:
                    self._close_reason = f"pong timeout: no reply to ping within {self._pong_timeout_s:g}s"
                    await _close_quietly(conn, self._close_timeout_s)
                    return
            elif now - self._last_rx >= self._ping_after_s:
                self._ping_sent_at = now
                self.stats.pings_sent += 1
                try:
                    await conn.send("ping")
                except ConnectionClosed:
                    return

    async def _read(self, conn: ClientConnection) -> str:
        loop = asyncio.get_running_loop()
        stats = self.stats
        try:
            while True:
                data = await conn.recv(decode=False)
                recv_ns = time.time_ns()
                self._last_rx = loop.time()
                self._ping_sent_at = None
                stats.messages += 1
                self._healthy = True
                if data == b"pong":
                    continue
                if data[:9] == b'{"event":' or (data[:1] == b"{" and b'"event":' in data[:120]):
                    self._handle_event(data)
                    continue
                await self.buffer.put(Frame(self.name, data, recv_ns, self._generation), droppable=self._droppable)
        except ConnectionClosed as exc:
            if self._login_result is not None:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                self._fail_login(f"connection closed ({code}) before the login reply")
            return f"closed: {exc}"

    def _fail_login(self, why: str) -> None:
        fut = self._login_result
        if fut is not None and not fut.done():
            fut.set_exception(_LoginFailed(why))

    def _handle_event(self, data: bytes) -> None:
        try:
            ev = decode_event(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.stats.decode_errors.record("event", data, exc)
            return
        if ev.event == "login":
            fut = self._login_result
            if ev.code == "0" and fut is not None and not fut.done():
                fut.set_result(None)
            return
        if ev.event in ("subscribe", "unsubscribe", "channel-conn-count"):
            self._pending.pop(ev.id, None)
            return
        if ev.event == "notice":
            logger.warning("{}: notice {} {}; reconnecting", self.name, ev.code, ev.msg)
            self.request_reconnect(f"notice {ev.code}")
            return
        if ev.event == "error":
            if self._login_result is not None and (ev.code in LOGIN_CODES or ev.code.startswith("600")):
                self._fail_login(f"{ev.code} {ev.msg}")
                return
            self.stats.control_errors += 1
            op = self._pending.pop(ev.id, "request")
            self.stats.last_error = f"{ev.code} {ev.msg}"
            logger.error("{}: {} failed: code {} {}", self.name, op, ev.code, ev.msg)
            if ev.code == "60014":  # the per-connection operation budget is spent: a new one
                self.request_reconnect("operation limit (60014)")
            return
        self.stats.decode_errors.record(f"event:{ev.event}", data)

    def head_of(self, data: bytes) -> str:
        """The channel of a data frame (``""`` when it has none)."""
        try:
            head = decode_head(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return ""
        return head.arg.channel if head.arg is not None else ""


async def _close_quietly(conn: ClientConnection, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s + 1.0):
            await conn.close()
    except (TimeoutError, OSError, ConnectionClosed):
        conn.transport.abort()
