"""A resilient WebSocket connection: reconnects, keeps alive, replays subscriptions.

:class:`ResilientWs` owns one logical stream. ``run()`` (awaited inside the caller's
``asyncio.TaskGroup``) connects with aiohttp's WebSocket client and, until cancelled:

- reconnects after any drop with exponential backoff and jitter (:class:`Backoff`, paced by a
  :class:`~exchanges.wsutil.ReconnectPacer`); the attempt counter resets as soon as a
  connection is healthy — its first frame or pong (a ping is sent right after connecting, so
  a quiet user-data stream proves itself within a round trip) — so a stream killed again
  and again comes back after the shortest delay every time;
- answers the venue's pings from its reader (a pong with the same payload, as Binance requires:
  spot pings every 20 s and closes after 1 min without a pong, futures every 3 min / 10 min) and
  sends its own pings every ``ping_interval_s`` so a dead TCP path is noticed within
  ``ping_interval_s + ping_timeout_s`` (no pong after the ping by then: reconnect);
- reconnects proactively before Binance's 24 h cut (``max_lifetime_s``; sends are refused and
  in-flight work reported by ``busy()`` may finish first, up to ``drain_timeout_s``), on a ``serverShutdown``
  event, after ``idle_timeout_s`` without any message (optional), and on
  :meth:`request_reconnect` (e.g. listenKeyExpired);
- re-sends ``SUBSCRIBE`` for every stream added with :meth:`subscribe` after each reconnect and
  consumes the control replies itself (``{"result": null, "id": N}``; errors are logged);
- puts every data frame, as a :class:`Frame`, and a :class:`~exchanges.base.StreamStatus` on
  each connect and disconnect into a :class:`BoundedBuffer` that consumers read.

Overflow policy of :class:`BoundedBuffer`:

- ``Overflow.DROP_OLDEST`` (market data): when full, the oldest *frame* is discarded and
  counted in ``dropped``; a newer snapshot supersedes it. Status items are never dropped.
- ``Overflow.BLOCK`` (user data, WS-API replies): nothing is ever dropped; the reader waits for
  space, which stops reading the socket and pushes back on the venue over TCP. A consumer
  that stalls for a minute therefore gets disconnected by Binance (no pong) and the stream
  reconnects and reports it; it never silently loses an execution.

Counters live in :class:`WsStats`: messages, reconnects, drops, control errors, and decode
errors by kind (:class:`ErrorTally`, shared with the parsers that read the frames).

Why aiohttp: its frame reader is compiled (Cython), and receiving a market-data frame costs
about a third of what the pure-Python ``websockets`` client costs (1.5 µs against 4.3 µs per
depth frame on one loop; the runner's share in ``docs/performance.md``); text frames arrive as
bytes (``decode_text=False``), ready for msgspec. Requests are sent as text frames.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec
from aiohttp import ClientWebSocketResponse, ClientWSTimeout, WSMsgType
from loguru import logger

from exchanges import telemetry
from exchanges.base import StreamStatus
from exchanges.wsutil import Backoff, BoundedBuffer, ErrorTally, Overflow, ReconnectPacer

from .ws_schemas import ControlReply, EventTag, UserEventEnvelope

__all__ = [
    "Overflow",
    "Frame",
    "BoundedBuffer",
    "Backoff",
    "ErrorTally",
    "WsStats",
    "NotConnected",
    "ResilientWs",
    "UrlSource",
    "redact_url",
]


UrlSource = str | Callable[[], Awaitable[str]]
"""A fixed URL, or an async factory called before every connect (e.g. to fetch a listenKey)."""


class Frame(msgspec.Struct, frozen=True, gc=False):
    """One text/binary message as received. ``generation`` numbers the connection (1, 2...)."""

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
    connect_failures: int = 0
    backoffs: int = 0
    decode_errors: ErrorTally = field(default_factory=lambda: ErrorTally("ws"))
    last_disconnect_reason: str = ""


class NotConnected(Exception):
    """:meth:`ResilientWs.send` with no live connection (nothing was sent)."""


def redact_url(url: str) -> str:
    """The URL without its query string or a listenKey path, safe to log."""
    parts = urlsplit(url)
    path = parts.path
    if "/ws/" in path and "/private" in path:
        path = path.rsplit("/", 1)[0] + "/<listenKey>"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


_PROACTIVE = ("lifetime", "serverShutdown", "requested")
_SEND_ERRORS: tuple[type[Exception], ...] = (ConnectionError, OSError, RuntimeError, aiohttp.ClientError)
_CLOSE_ERRORS: tuple[type[Exception], ...] = (TimeoutError, *_SEND_ERRORS)
_Conn = ClientWebSocketResponse[Literal[False]]  # decode_text=False: text frames as bytes
_MAX_QUICK_PROACTIVE = 3
_HEALTHY_KINDS = frozenset({WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.PING, WSMsgType.PONG})
_SUBSCRIBE_CHUNK = 200
_CONTROL_MAX_BYTES = 4096
_decode_control = msgspec.json.Decoder(ControlReply).decode
_decode_tag = msgspec.json.Decoder(EventTag).decode
_decode_user_envelope = msgspec.json.Decoder(UserEventEnvelope).decode


def _is_server_shutdown(data: bytes) -> bool:
    """``{"e":"serverShutdown",...}`` on streams, or wrapped as a WS-API user-data event."""
    try:
        if _decode_tag(data).e == "serverShutdown":
            return True
    except msgspec.DecodeError:
        return False
    try:
        return _decode_tag(bytes(_decode_user_envelope(data).event)).e == "serverShutdown"
    except msgspec.DecodeError:
        return False


class ResilientWs:
    """One self-healing WebSocket stream feeding a :class:`BoundedBuffer` (see module doc)."""

    def __init__(
        self,
        name: str,
        url: UrlSource,
        *,
        buffer: BoundedBuffer[Frame | StreamStatus] | None = None,
        overflow: Overflow = Overflow.DROP_OLDEST,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
        stable_after_s: float = 10.0,
        ping_interval_s: float | None = 20.0,
        ping_timeout_s: float | None = 20.0,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 2.0,
        max_lifetime_s: float | None = 23.5 * 3600,
        idle_timeout_s: float | None = None,
        max_message_bytes: int = 4 * 1024 * 1024,
        busy: Callable[[], bool] | None = None,
        drain_timeout_s: float = 5.0,
        subscriptions: Iterable[str] = (),
        tally: ErrorTally | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self.buffer: BoundedBuffer[Frame | StreamStatus] = (
            buffer if buffer is not None else BoundedBuffer(queue_size, overflow)
        )
        self._backoff = backoff or Backoff()
        self._stable_after_s = stable_after_s
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._open_timeout_s = open_timeout_s
        self._close_timeout_s = close_timeout_s
        self._max_lifetime_s = max_lifetime_s
        self._idle_timeout_s = idle_timeout_s
        self._max_message_bytes = max_message_bytes
        self._busy = busy
        self._drain_timeout_s = drain_timeout_s
        self._draining = False
        self._subscriptions: dict[str, None] = dict.fromkeys(subscriptions)
        self._rng = rng or random.Random()
        self.pacer = ReconnectPacer(self._backoff, self._rng)
        self.stats = WsStats(decode_errors=tally if tally is not None else ErrorTally(name))
        self._conn: _Conn | None = None
        self._generation = 0
        self._control_id = 0
        self._pending_control: dict[int, list[str]] = {}
        self._reconnect_requested = asyncio.Event()
        self._reconnect_reason = ""
        self._close_reason = ""
        self._last_rx = 0.0
        self._last_pong = 0.0
        self._connected_event = asyncio.Event()

    # -- state ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def draining(self) -> bool:
        """True while a planned (lifetime) reconnect waits for in-flight work; sends are refused."""
        return self._draining

    @property
    def generation(self) -> int:
        """Number of connections opened so far (the current one's number while connected)."""
        return self._generation

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return tuple(self._subscriptions)

    async def wait_connected(self) -> int:
        """Wait for a live connection; returns its generation."""
        while self._conn is None:
            self._connected_event.clear()
            await self._connected_event.wait()
        return self._generation

    # -- commands ------------------------------------------------------------------------------

    async def send(self, data: bytes | str, *, generation: int | None = None) -> None:
        """Send on the live connection (only if it is still ``generation`` when given)."""
        conn = self._conn
        if conn is None or (generation is not None and generation != self._generation):
            raise NotConnected(f"{self.name}: not connected")
        if self._draining:
            raise NotConnected(f"{self.name}: connection draining before a planned reconnect")
        await conn.send_frame(data.encode() if isinstance(data, str) else data, WSMsgType.TEXT)

    async def subscribe(self, streams: Iterable[str]) -> None:
        """Add streams; sent now if connected and replayed after every reconnect."""
        new = [s for s in streams if s not in self._subscriptions]
        self._subscriptions.update(dict.fromkeys(new))
        if new and self._conn is not None:
            await self._control_now("SUBSCRIBE", new)

    async def unsubscribe(self, streams: Iterable[str]) -> None:
        gone = [s for s in streams if s in self._subscriptions]
        for s in gone:
            del self._subscriptions[s]
        if gone and self._conn is not None:
            await self._control_now("UNSUBSCRIBE", gone)

    async def _control_now(self, method: str, streams: list[str]) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            await self._send_control(conn, method, streams)
        except _SEND_ERRORS:
            logger.debug("{}: {} not sent, connection closing; replayed on reconnect", self.name, method)

    def request_reconnect(self, reason: str) -> None:
        """Close the live connection (the run loop reconnects at once). No-op when down."""
        if self._conn is None:
            return
        self._reconnect_reason = reason
        self._reconnect_requested.set()

    # -- run loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and keep connected until cancelled."""
        try:
            async with aiohttp.ClientSession(trust_env=True) as session:  # HTTP(S)_PROXY, as websockets did
                await self._run_forever(session)
        finally:
            telemetry.ws_closed(self.name)

    async def _connect(self, session: aiohttp.ClientSession, url: str) -> _Conn:
        async with asyncio.timeout(self._open_timeout_s):
            return await session.ws_connect(
                url,
                autoping=False,  # pings are answered and pongs seen by _read (see the module doc)
                timeout=ClientWSTimeout(ws_receive=None, ws_close=self._close_timeout_s),
                max_msg_size=self._max_message_bytes,
                compress=0,
                decode_text=False,
            )

    async def _run_forever(self, session: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        pacer = self.pacer
        quick_proactive = 0  # planned reconnects in a row from short-lived connections
        first_attempt = True
        ever_connected = False
        while True:
            opened_at: float | None = None
            reason: str
            try:
                url = self._url if isinstance(self._url, str) else await self._url()
                conn = await self._connect(session, url)
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, aiohttp.ClientError, ValueError) as exc:
                reason = f"connect failed: {exc!r}"
            except Exception as exc:  # the URL factory (e.g. listenKey REST call) failed
                reason = f"connect failed: {exc!r}"
            else:
                opened_at = loop.time()
                reason = await self._serve(conn, url, ever_connected)
                ever_connected = True
            self.stats.last_disconnect_reason = reason
            if opened_at is not None or first_attempt:
                telemetry.ws_state(self.name, False)
                logger.info("{}: disconnected ({})", self.name, reason)
                await self.buffer.put(self._status(False, reason))
            else:
                self.stats.connect_failures += 1
                if self.stats.connect_failures % 10 == 0:
                    logger.warning("{}: still down after {} attempts ({})", self.name, pacer.attempt + 1, reason)
            first_attempt = False
            # ``stable`` (up for stable_after_s) only guards against a venue that keeps asking for
            # planned reconnects; the backoff itself was reset by the connection's first good message
            stable = opened_at is not None and loop.time() - opened_at >= self._stable_after_s
            if opened_at is not None and reason.startswith(_PROACTIVE):
                # planned: reconnect at once, unless the venue keeps asking right after connecting
                quick_proactive = 0 if stable else quick_proactive + 1
                if quick_proactive <= _MAX_QUICK_PROACTIVE:
                    continue
            else:
                quick_proactive = 0
            self.stats.backoffs += 1
            await asyncio.sleep(pacer.next_delay())

    def _status(self, connected: bool, reason: str) -> StreamStatus:
        return StreamStatus(stream=self.name, connected=connected, reason=reason, ts_ns=time.time_ns())

    async def _serve(self, conn: _Conn, url: str, is_reconnect: bool) -> str:
        loop = asyncio.get_running_loop()
        self._generation += 1
        self.stats.connects += 1
        if is_reconnect:
            self.stats.reconnects += 1
        self._reconnect_requested.clear()
        self._reconnect_reason = ""
        self._close_reason = ""
        self._draining = False
        self._pending_control.clear()
        self._last_rx = loop.time()
        opened_at = loop.time()
        try:
            self._conn = conn
            self._connected_event.set()
            logger.info("{}: connected to {} (#{})", self.name, redact_url(url), self._generation)
            telemetry.ws_state(self.name, True, is_reconnect)
            await self.buffer.put(
                self._status(True, "reconnected: events may have been missed" if is_reconnect else "connected")
            )
            if self._subscriptions:
                await self._send_control(conn, "SUBSCRIBE", list(self._subscriptions))
            async with asyncio.TaskGroup() as tg:
                watcher = tg.create_task(self._watch(conn, opened_at), name=f"{self.name}:watch")
                try:
                    reason = await self._read(conn)
                finally:
                    watcher.cancel()
        except _SEND_ERRORS as exc:  # a control send raced the close
            reason = f"closed: {exc!r}"
        finally:
            self._conn = None
            if not conn.closed:
                await _close_quietly(conn, self._close_timeout_s)
        return self._close_reason or reason

    async def _watch(self, conn: _Conn, opened_at: float) -> None:
        """Closes the connection on request, at end of lifetime, when idle for too long, or
        when a ping of ours is not answered within ``ping_timeout_s``; sends those pings."""
        loop = asyncio.get_running_loop()
        interval, ping_timeout = self._ping_interval_s, self._ping_timeout_s
        next_ping = opened_at if interval else None  # at once: the pong proves a quiet stream healthy
        ping_sent: float | None = None
        self._last_pong = 0.0
        while True:
            deadlines = []
            if self._max_lifetime_s is not None:
                deadlines.append(opened_at + self._max_lifetime_s)
            if self._idle_timeout_s is not None:
                deadlines.append(self._last_rx + self._idle_timeout_s)
            if next_ping is not None:
                deadlines.append(next_ping)
            if ping_sent is not None and ping_timeout is not None:
                deadlines.append(ping_sent + ping_timeout)
            wait = max(0.0, min(deadlines) - loop.time()) if deadlines else None
            try:
                async with asyncio.timeout(wait):
                    await self._reconnect_requested.wait()
                reason = f"requested: {self._reconnect_reason}"
            except TimeoutError:
                now = loop.time()
                if ping_sent is not None and self._last_pong >= ping_sent:
                    ping_sent = None  # answered
                if self._max_lifetime_s is not None and now >= opened_at + self._max_lifetime_s:
                    reason = f"lifetime: {self._max_lifetime_s:g}s reached"
                    await self._drain()
                elif self._idle_timeout_s is not None and now >= self._last_rx + self._idle_timeout_s:
                    reason = f"idle: no message for {self._idle_timeout_s:g}s"
                elif ping_sent is not None and ping_timeout is not None and now >= ping_sent + ping_timeout:
                    reason = f"ping timeout: no pong within {ping_timeout:g}s"
                else:
                    if interval and next_ping is not None and now >= next_ping:
                        next_ping = now + interval
                        if ping_sent is None:
                            ping_sent = now
                            try:
                                await conn.ping(str(time.time_ns()).encode())
                            except _SEND_ERRORS:
                                pass  # the reader sees the close
                    continue
            self._close_reason = reason
            await _close_quietly(conn, self._close_timeout_s)
            return

    async def _drain(self) -> None:
        """Before a planned close: refuse new sends and let in-flight work (``busy``) finish,
        for at most ``drain_timeout_s``, so a lifetime reconnect does not orphan replies."""
        self._draining = True
        if self._busy is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._drain_timeout_s
        while self._busy() and loop.time() < deadline:
            await asyncio.sleep(0.02)

    async def _read(self, conn: _Conn) -> str:
        loop = asyncio.get_running_loop()
        stats = self.stats
        put = self.buffer.put
        source, generation = self.name, self._generation
        receive = conn.receive
        healthy = False
        while True:
            msg = await receive()
            kind = msg.type
            if not healthy and kind in _HEALTHY_KINDS:
                healthy = True
                self.pacer.healthy()
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                data: bytes = msg.data
                recv_ns = time.time_ns()
                self._last_rx = loop.time()
                stats.messages += 1
                if self._pending_control and len(data) <= _CONTROL_MAX_BYTES and self._handle_control(data):
                    continue
                if b"serverShutdown" in data and _is_server_shutdown(data):
                    logger.warning("{}: serverShutdown received, reconnecting", self.name)
                    self._close_reason = "serverShutdown"
                    await _close_quietly(conn, self._close_timeout_s)
                    continue
                await put(Frame(source, data, recv_ns, generation), droppable=True)
            elif kind is WSMsgType.PING:
                try:
                    await conn.pong(msg.data)
                except _SEND_ERRORS:
                    pass  # closing: the next receive says so
            elif kind is WSMsgType.PONG:
                self._last_pong = loop.time()
            elif kind is WSMsgType.ERROR:
                return f"closed: {msg.data!r}"
            else:  # CLOSE, CLOSING, CLOSED
                extra = f" {msg.extra}" if msg.extra else ""
                return f"closed: code {conn.close_code}{extra}"

    async def _send_control(self, conn: _Conn, method: str, streams: list[str]) -> None:
        for i in range(0, len(streams), _SUBSCRIBE_CHUNK):
            chunk = streams[i : i + _SUBSCRIBE_CHUNK]
            self._control_id += 1
            self._pending_control[self._control_id] = chunk
            payload = msgspec.json.encode({"method": method, "params": chunk, "id": self._control_id})
            await conn.send_frame(payload, WSMsgType.TEXT)

    def _handle_control(self, data: bytes) -> bool:
        try:
            reply = _decode_control(data)
        except msgspec.DecodeError:
            return False
        if not isinstance(reply.id, int) or reply.id not in self._pending_control:
            return False
        streams = self._pending_control.pop(reply.id)
        if reply.code is not None:
            self.stats.control_errors += 1
            logger.error(
                "{}: control request {} for {} failed: code {} {}",
                self.name,
                reply.id,
                streams[:5],
                reply.code,
                reply.msg,
            )
        return True


async def _close_quietly(conn: _Conn, timeout_s: float) -> None:
    """Close with a handshake bounded by ``timeout_s`` (aiohttp then drops the TCP connection);
    a close that hangs longer is cancelled, which also drops it."""
    try:
        async with asyncio.timeout(timeout_s + 1.0):
            await conn.close()
    except _CLOSE_ERRORS:
        pass
