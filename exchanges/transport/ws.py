"""One resilient WebSocket for every venue: a venue supplies only a :class:`WsDialect`.

:class:`ResilientWs` owns one logical stream. ``run()`` (awaited inside the caller's
``asyncio.TaskGroup``) connects with aiohttp's WebSocket client and, until cancelled:

- reconnects after any drop with exponential backoff and jitter (a
  :class:`~exchanges.transport.backoff.ReconnectPacer`); the attempt counter resets as soon as
  a connection is healthy — its first message once usable (after the login, when the dialect
  has one; a refused login keeps backing off) — so a stream killed again and again comes back
  after the shortest delay every time;
- logs in first when the dialect has a login (:meth:`WsDialect.login`, bounded by
  ``login_timeout_s``); a refusal is reported as ``StreamStatus(reason="<word> failed: ...")``
  and retried with backoff, never a tight loop;
- replays every subscription added with :meth:`subscribe` after each (re)connect, as the
  dialect's control frames (its chunking, its request ids); the dialect consumes the replies;
- keeps alive: answers the venue's protocol pings (same payload) and sends its own ping every
  ``ping_interval_s`` — a protocol ping or the dialect's text ping (:class:`Keepalive`) — and
  reconnects when it is not answered within ``ping_timeout_s``;
- reconnects proactively at ``max_lifetime_s`` (sends are refused and in-flight work reported
  by ``busy()`` may finish first, up to ``drain_timeout_s``), after ``idle_timeout_s`` without
  any message (optional), and on :meth:`request_reconnect` / :meth:`close_planned` (the
  dialect's server-shutdown or notice frames). A planned reconnect happens at once, unless the
  venue keeps asking right after connecting (then it backs off);
- puts every data frame, as a :class:`Frame`, and a :class:`~exchanges.base.StreamStatus` on
  each connect and disconnect into its :class:`~exchanges.transport.buffer.BoundedBuffer` —
  or, given a :class:`FrameSink` (push mode, market data), hands them to it from the reader
  without any queue in between: the sink parses and pushes into the one bounded queue its
  consumer owns (the runner's price feed).

``connected`` is true once the connection is usable (logged in). Counters live in
:class:`WsStats`, bad payloads in an :class:`~exchanges.transport.tally.ErrorTally` shared
with the parsers that read the frames.

Hot path: the reader does one dialect call (``on_message``) and one buffer ``put`` (push
mode: one ``sink.frame`` call, no await) per frame; no copies (text frames arrive as bytes,
``decode_text=False``, ready for msgspec). Why aiohttp: its frame reader is compiled, and
receiving a market-data frame costs about a third of what the pure-Python ``websockets``
client costs (``docs/performance.md``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec
from aiohttp import ClientWebSocketResponse, ClientWSTimeout, WSMsgType
from loguru import logger

from exchanges import telemetry
from exchanges.base import StreamStatus
from exchanges.errors import ExchangeError

from .backoff import Backoff, ReconnectPacer
from .buffer import BoundedBuffer, Overflow
from .tally import ErrorTally

__all__ = [
    "Frame",
    "WsStats",
    "NotConnected",
    "LoginRefused",
    "Keepalive",
    "WsDialect",
    "FrameSink",
    "WsOptions",
    "ResilientWs",
    "UrlSource",
    "redact_url",
]

S = TypeVar("S")
UrlSource = str | Callable[[], Awaitable[str]]
"""A fixed URL, or an async factory called before every connect (e.g. to fetch a listenKey)."""
Send = Callable[[bytes], Awaitable[None]]


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
    login_failures: int = 0
    control_errors: int = 0
    connect_failures: int = 0
    backoffs: int = 0
    pings_sent: int = 0
    decode_errors: ErrorTally = field(default_factory=lambda: ErrorTally("ws"))
    last_disconnect_reason: str = ""
    last_error: str = ""


class NotConnected(Exception):
    """:meth:`ResilientWs.send` with no usable connection (nothing was sent)."""


class LoginRefused(Exception):
    """The venue refused (or did not answer) the login; the message says why."""


@dataclass(frozen=True, slots=True)
class Keepalive:
    """How a venue wants to be pinged.

    ``text``: the ping frame (None: a protocol ping). ``at_open``: the first ping right after
    connecting (its answer proves a quiet stream healthy at once). ``after_silence``: ping only
    after ``ping_interval_s`` without any message (else every ``ping_interval_s``).
    ``any_traffic``: any message after the ping answers it (else only a protocol pong).
    """

    text: Callable[[], bytes] | None = None
    at_open: bool = False
    after_silence: bool = False
    any_traffic: bool = True


class FrameSink(Protocol):
    """Where a push-mode stream hands its items, from the reader and without a queue: ``frame``
    for every data frame, ``status`` on connect and disconnect, in the order they happen. Both
    must be quick and never raise (bad payloads are tallied, not raised)."""

    def frame(self, frame: Frame) -> None: ...

    def status(self, status: StreamStatus) -> None: ...


class WsDialect(Generic[S]):
    """A venue's control protocol on one socket. Subclasses override what their venue needs;
    the defaults are a socket with no login and no subscriptions.

    One instance serves one :class:`ResilientWs` (:meth:`attach` gives it the socket, for
    :meth:`ResilientWs.request_reconnect`, ``stats`` and ``name``)."""

    keepalive = Keepalive(at_open=True, any_traffic=False)
    login_word = "login"
    has_login = False
    ws: ResilientWs[S]

    def attach(self, ws: ResilientWs[S]) -> None:
        self.ws = ws

    def key(self, sub: S) -> str:
        """A stable identity of one subscription."""
        return str(sub)

    def reset(self) -> None:
        """A new connection: forget what was pending on the last one."""

    async def before_connect(self) -> None:
        """Wait for the venue's connection budget (e.g. OKX: 3 new connections a second)."""

    async def login(self, send: Send) -> None:
        """Send the login and wait for its answer (see :meth:`on_message`); raise
        :class:`LoginRefused` when refused. Only called when ``has_login``."""

    def control_frames(self, op: Literal["subscribe", "unsubscribe"], subs: list[S]) -> list[bytes]:
        """The frames asking for ``op`` on ``subs`` (chunked as the venue allows)."""
        return []

    def on_message(self, data: bytes) -> bool:
        """True when ``data`` was a control message (consumed here), False for a data frame."""
        return False

    def connection_lost(self) -> None:
        """The connection closed: fail a login still waiting for its answer."""


_PROACTIVE = ("lifetime", "serverShutdown", "requested")
_SEND_ERRORS: tuple[type[Exception], ...] = (ConnectionError, OSError, RuntimeError, aiohttp.ClientError)
_CLOSE_ERRORS: tuple[type[Exception], ...] = (TimeoutError, *_SEND_ERRORS)
# what a failed connect raises, the URL factory's failures included (a listenKey REST call:
# ExchangeError; a factory's own RuntimeError): all retried with backoff
_CONNECT_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    aiohttp.ClientError,
    ValueError,
    RuntimeError,
    ExchangeError,
)
_Conn = ClientWebSocketResponse[Literal[False]]  # decode_text=False: text frames as bytes
_MAX_QUICK_PROACTIVE = 3
_HEALTHY_KINDS = frozenset({WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.PING, WSMsgType.PONG})


def redact_url(url: str) -> str:
    """The URL without its query string or a listenKey path, safe to log."""
    parts = urlsplit(url)
    path = parts.path
    if "/ws/" in path and "/private" in path:
        path = path.rsplit("/", 1)[0] + "/<listenKey>"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(slots=True)
class _Ping:
    """Keep-alive state of one connection."""

    next_at: float | None
    sent_at: float | None = None


class WsOptions(TypedDict, total=False):
    """The knobs of :class:`ResilientWs`, each with its default (see the module doc).

    ``buffer`` (a new one of ``queue_size`` [10 000] with ``overflow`` [DROP_OLDEST]) or
    ``sink`` (push mode); ``backoff`` [Backoff()]; ``stable_after_s`` [10]: up that long, a
    planned reconnect is not "quick"; ``ping_interval_s`` / ``ping_timeout_s`` [20 / 20, None:
    no pings of ours]; ``open_timeout_s`` [10], ``close_timeout_s`` [2], ``login_timeout_s``
    [10]; ``max_lifetime_s`` / ``idle_timeout_s`` [None]; ``max_message_bytes`` [4 MiB];
    ``busy`` / ``drain_timeout_s`` [5]: in-flight work a lifetime reconnect waits for;
    ``tally`` [its own]: where bad payloads are counted; ``rng``: backoff jitter."""

    buffer: BoundedBuffer[Frame | StreamStatus] | None
    sink: FrameSink | None
    overflow: Overflow
    queue_size: int
    backoff: Backoff | None
    stable_after_s: float
    ping_interval_s: float | None
    ping_timeout_s: float | None
    open_timeout_s: float
    close_timeout_s: float
    login_timeout_s: float
    max_lifetime_s: float | None
    idle_timeout_s: float | None
    max_message_bytes: int
    busy: Callable[[], bool] | None
    drain_timeout_s: float
    tally: ErrorTally | None
    rng: random.Random | None


class ResilientWs(Generic[S]):
    """One self-healing WebSocket stream feeding a bounded buffer (see the module doc)."""

    def __init__(
        self,
        name: str,
        url: UrlSource,
        dialect: WsDialect[S],
        *,
        subscriptions: Iterable[S] = (),
        **options: Unpack[WsOptions],
    ) -> None:
        self.name = name
        self._url = url
        self.dialect = dialect
        self.sink = options.get("sink")
        buffer = options.get("buffer")
        self.buffer: BoundedBuffer[Frame | StreamStatus] = (
            buffer
            if buffer is not None
            else BoundedBuffer(options.get("queue_size", 10_000), options.get("overflow", Overflow.DROP_OLDEST))
        )
        self._stable_after_s = options.get("stable_after_s", 10.0)
        self._ping_interval_s = options.get("ping_interval_s", 20.0)
        self._ping_timeout_s = options.get("ping_timeout_s", 20.0)
        self._open_timeout_s = options.get("open_timeout_s", 10.0)
        self._close_timeout_s = options.get("close_timeout_s", 2.0)
        self._login_timeout_s = options.get("login_timeout_s", 10.0)
        self._max_lifetime_s = options.get("max_lifetime_s")
        self._idle_timeout_s = options.get("idle_timeout_s")
        self._max_message_bytes = options.get("max_message_bytes", 4 * 1024 * 1024)
        self._busy = options.get("busy")
        self._drain_timeout_s = options.get("drain_timeout_s", 5.0)
        self._draining = False
        self._subs: dict[str, S] = {dialect.key(s): s for s in subscriptions}
        self.pacer = ReconnectPacer(options.get("backoff") or Backoff(), options.get("rng") or random.Random())
        tally = options.get("tally")
        self.stats = WsStats(decode_errors=tally if tally is not None else ErrorTally(name))
        self._conn: _Conn | None = None
        self._usable = False
        self._generation = 0
        self._reconnect_requested = asyncio.Event()
        self._reconnect_reason = ""
        self._close_reason = ""
        self._last_rx = 0.0
        self._last_pong = 0.0
        self._opened_at = 0.0
        self._generation_usable = False
        self._connected_event = asyncio.Event()
        dialect.attach(self)

    # -- state ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The fixed URL (empty when it comes from a factory)."""
        return self._url if isinstance(self._url, str) else ""

    @property
    def connected(self) -> bool:
        return self._usable

    @property
    def draining(self) -> bool:
        """True while a planned (lifetime) reconnect waits for in-flight work; sends are refused."""
        return self._draining

    @property
    def generation(self) -> int:
        """Number of connections opened so far (the current one's number while connected)."""
        return self._generation

    @property
    def subscriptions(self) -> tuple[S, ...]:
        return tuple(self._subs.values())

    async def wait_connected(self) -> int:
        """Wait for a usable connection; returns its generation."""
        while not self._usable:
            self._connected_event.clear()
            await self._connected_event.wait()
        return self._generation

    # -- commands ------------------------------------------------------------------------------

    async def send(self, data: bytes | str, *, generation: int | None = None) -> None:
        """Send on the usable connection (only if it is still ``generation`` when given)."""
        conn = self._conn
        if conn is None or not self._usable or (generation is not None and generation != self._generation):
            raise NotConnected(f"{self.name}: not connected")
        if self._draining:
            raise NotConnected(f"{self.name}: connection draining before a planned reconnect")
        await conn.send_frame(data.encode() if isinstance(data, str) else data, WSMsgType.TEXT)

    async def subscribe(self, subs: Iterable[S]) -> None:
        """Add subscriptions; sent now if connected and replayed after every reconnect."""
        key = self.dialect.key
        new = [s for s in subs if key(s) not in self._subs]
        self._subs.update((key(s), s) for s in new)
        if new:
            await self._control_now("subscribe", new)

    async def unsubscribe(self, subs: Iterable[S]) -> None:
        key = self.dialect.key
        gone = [self._subs.pop(key(s)) for s in subs if key(s) in self._subs]
        if gone:
            await self._control_now("unsubscribe", gone)

    async def resubscribe(self, subs: Iterable[S]) -> None:
        """Unsubscribe and subscribe again (the venue answers with a fresh snapshot)."""
        items = list(subs)
        await self._control_now("unsubscribe", items)
        await self._control_now("subscribe", items)

    async def _control_now(self, op: Literal["subscribe", "unsubscribe"], subs: list[S]) -> None:
        conn = self._conn
        if conn is None or not self._usable:
            return  # the next connection replays the subscriptions
        try:
            await self._send_control(conn, op, subs)
        except _SEND_ERRORS:
            logger.debug("{}: {} not sent, connection closing; replayed on reconnect", self.name, op)

    def request_reconnect(self, reason: str) -> None:
        """Close the live connection (the run loop reconnects at once). No-op when down."""
        self.close_planned(f"requested: {reason}")

    def close_planned(self, reason: str) -> None:
        """Close the live connection with ``reason`` (``serverShutdown``...): a planned reconnect."""
        if self._conn is None:
            return
        self._reconnect_reason = reason
        self._reconnect_requested.set()

    # -- run loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and keep connected until cancelled."""
        try:
            async with aiohttp.ClientSession(trust_env=True) as session:  # honours HTTP(S)_PROXY
                await self._run_forever(session)
        finally:
            telemetry.ws_closed(self.name)

    async def _connect(self, session: aiohttp.ClientSession) -> tuple[_Conn, str]:
        await self.dialect.before_connect()
        url = self._url if isinstance(self._url, str) else await self._url()
        async with asyncio.timeout(self._open_timeout_s):
            conn = await session.ws_connect(
                url,
                autoping=False,  # pings are answered and pongs seen by _read (see the module doc)
                timeout=ClientWSTimeout(ws_receive=None, ws_close=self._close_timeout_s),
                max_msg_size=self._max_message_bytes,
                compress=0,
                decode_text=False,
            )
        return conn, url

    async def _run_forever(self, session: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        quick_proactive = 0  # planned reconnects in a row from short-lived connections
        first_attempt = True
        ever_usable = False
        while True:
            opened_at: float | None = None
            try:
                conn, url = await self._connect(session)
            except asyncio.CancelledError:
                raise
            except _CONNECT_ERRORS as exc:
                reason = f"connect failed: {exc!r}"
            else:
                opened_at = loop.time()
                reason = await self._serve(conn, url, ever_usable)
                ever_usable = ever_usable or self._generation_usable
            await self._report_down(reason, opened_at is not None or first_attempt)
            first_attempt = False
            # ``stable`` (up for stable_after_s) only guards against a venue that keeps asking for
            # planned reconnects; the backoff itself was reset by the connection's first good message
            stable = opened_at is not None and loop.time() - opened_at >= self._stable_after_s
            if opened_at is not None and reason.startswith(_PROACTIVE):
                quick_proactive = 0 if stable else quick_proactive + 1
                if quick_proactive <= _MAX_QUICK_PROACTIVE:
                    continue
            else:
                quick_proactive = 0
            self.stats.backoffs += 1
            await asyncio.sleep(self.pacer.next_delay())

    async def _report_down(self, reason: str, loud: bool) -> None:
        self.stats.last_disconnect_reason = reason
        if loud:
            telemetry.ws_state(self.name, False)
            logger.info("{}: disconnected ({})", self.name, reason)
            await self._put_status(self._status(False, reason))
            return
        self.stats.connect_failures += 1
        if self.stats.connect_failures % 10 == 0:
            logger.warning("{}: still down after {} attempts ({})", self.name, self.pacer.attempt + 1, reason)

    def _status(self, connected: bool, reason: str) -> StreamStatus:
        return StreamStatus(stream=self.name, connected=connected, reason=reason, ts_ns=time.time_ns())

    async def _put_status(self, status: StreamStatus) -> None:
        if self.sink is not None:
            self.sink.status(status)
        else:
            await self.buffer.put(status)

    async def _serve(self, conn: _Conn, url: str, is_reconnect: bool) -> str:
        loop = asyncio.get_running_loop()
        self._generation += 1
        self._generation_usable = False
        self.stats.connects += 1
        self._reconnect_requested.clear()
        self._reconnect_reason = self._close_reason = ""
        self._draining = False
        self.dialect.reset()
        self._last_rx = loop.time()
        self._conn = conn
        try:
            async with asyncio.TaskGroup() as tg:
                reader = tg.create_task(self._read(conn), name=f"{self.name}:read")
                reader.add_done_callback(lambda _: self.dialect.connection_lost())
                try:
                    await self._open(conn, url, is_reconnect)
                except LoginRefused as exc:
                    self._close_reason = f"{self.dialect.login_word} failed: {exc}"
                    self.stats.login_failures += 1
                    self.stats.last_error = str(exc)
                    logger.error("{}: {}", self.name, self._close_reason)
                    await _close_quietly(conn, self._close_timeout_s)
                except _SEND_ERRORS as exc:  # a login/control send raced the close
                    self._close_reason = self._close_reason or f"closed: {exc!r}"
                else:
                    watcher = tg.create_task(self._watch(conn, loop.time()), name=f"{self.name}:watch")
                    reader.add_done_callback(lambda _: watcher.cancel())
                reason = await reader
        finally:
            self._conn = None
            self._usable = False
            self.dialect.connection_lost()
            if not conn.closed:
                await _close_quietly(conn, self._close_timeout_s)
        return self._close_reason or reason

    async def _open(self, conn: _Conn, url: str, is_reconnect: bool) -> None:
        """Log in (when the dialect has one), report the connection usable, replay subscriptions."""
        if self.dialect.has_login:
            try:
                async with asyncio.timeout(self._login_timeout_s):
                    await self.dialect.login(lambda data: conn.send_frame(data, WSMsgType.TEXT))
            except TimeoutError:
                raise LoginRefused(f"no answer within {self._login_timeout_s:g}s") from None
            self.pacer.healthy()  # the login answer was a good message
        self._usable = self._generation_usable = True
        self._connected_event.set()
        if is_reconnect:
            self.stats.reconnects += 1
        logger.info("{}: connected to {} (#{})", self.name, redact_url(url), self._generation)
        telemetry.ws_state(self.name, True, is_reconnect)
        await self._put_status(
            self._status(True, "reconnected: events may have been missed" if is_reconnect else "connected")
        )
        if self._subs:
            await self._send_control(conn, "subscribe", list(self._subs.values()))

    async def _watch(self, conn: _Conn, opened_at: float) -> None:
        """Closes the connection on request, at end of lifetime, when idle for too long, or
        when a ping of ours is not answered within ``ping_timeout_s``; sends those pings."""
        loop = asyncio.get_running_loop()
        keepalive = self.dialect.keepalive
        ping = _Ping(next_at=None)
        if self._ping_interval_s:
            ping.next_at = opened_at if keepalive.at_open else opened_at + self._ping_interval_s
        self._last_pong = 0.0
        self._opened_at = opened_at
        while True:
            try:
                async with asyncio.timeout(self._next_wait(ping, loop.time())):
                    await self._reconnect_requested.wait()
                reason = self._reconnect_reason
            except TimeoutError:
                reason = await self._on_tick(conn, ping, opened_at, loop.time())
                if not reason:
                    continue
            self._close_reason = reason
            await _close_quietly(conn, self._close_timeout_s)
            return

    def _next_wait(self, ping: _Ping, now: float) -> float | None:
        deadlines = []
        if self._max_lifetime_s is not None:
            deadlines.append(self._opened_at + self._max_lifetime_s)
        if self._idle_timeout_s is not None:
            deadlines.append(self._last_rx + self._idle_timeout_s)
        due = self._ping_due(ping)
        if due is not None:
            deadlines.append(due)
        if ping.sent_at is not None and self._ping_timeout_s is not None:
            deadlines.append(ping.sent_at + self._ping_timeout_s)
        return max(0.0, min(deadlines) - now) if deadlines else None

    def _ping_due(self, ping: _Ping) -> float | None:
        """When the next ping is due (None: no pings of ours)."""
        if ping.next_at is None or not self._ping_interval_s:
            return None
        if self.dialect.keepalive.after_silence:
            return max(ping.next_at, self._last_rx + self._ping_interval_s)
        return ping.next_at

    async def _on_tick(self, conn: _Conn, ping: _Ping, opened_at: float, now: float) -> str:
        """The reason to close now ("" to keep going); sends a ping when one is due."""
        keepalive = self.dialect.keepalive
        if ping.sent_at is not None:
            answered_at = self._last_rx if keepalive.any_traffic else self._last_pong
            if answered_at >= ping.sent_at:
                ping.sent_at = None
        if self._max_lifetime_s is not None and now >= opened_at + self._max_lifetime_s:
            await self._drain()
            return f"lifetime: {self._max_lifetime_s:g}s reached"
        if self._idle_timeout_s is not None and now >= self._last_rx + self._idle_timeout_s:
            return f"idle: no message for {self._idle_timeout_s:g}s"
        timeout = self._ping_timeout_s
        if ping.sent_at is not None and timeout is not None and now >= ping.sent_at + timeout:
            return f"ping timeout: no pong within {timeout:g}s"
        due = self._ping_due(ping)
        if due is not None and self._ping_interval_s and now >= due:
            ping.next_at = now + self._ping_interval_s
            if ping.sent_at is None:  # one ping in flight at a time
                ping.sent_at = now
                await self._ping(conn, keepalive)
        return ""

    async def _ping(self, conn: _Conn, keepalive: Keepalive) -> None:
        self.stats.pings_sent += 1
        try:
            if keepalive.text is None:
                await conn.ping(str(time.time_ns()).encode())
            else:
                await conn.send_frame(keepalive.text(), WSMsgType.TEXT)
        except _SEND_ERRORS:
            pass  # the reader sees the close

    async def _drain(self) -> None:
        """Before a planned close: refuse new sends and let in-flight work (``busy``) finish,
        for at most ``drain_timeout_s``, so a lifetime reconnect does not orphan replies."""
        self._draining = True
        if self._busy is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._drain_timeout_s
        while self._busy() and loop.time() < deadline:  # noqa: ASYNC110 - busy() is the venue's predicate: nothing signals it
            await asyncio.sleep(0.02)

    async def _read(self, conn: _Conn) -> str:
        loop = asyncio.get_running_loop()
        stats = self.stats
        put = self.buffer.put
        push = self.sink.frame if self.sink is not None else None
        on_message = self.dialect.on_message
        source, generation = self.name, self._generation
        receive = conn.receive
        healthy = False
        while True:
            msg = await receive()
            kind = msg.type
            if not healthy and self._usable and kind in _HEALTHY_KINDS:
                healthy = True
                self.pacer.healthy()
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                data: bytes = msg.data
                recv_ns = time.time_ns()
                self._last_rx = loop.time()
                stats.messages += 1
                if on_message(data):
                    continue
                if push is not None:
                    push(Frame(source, data, recv_ns, generation))
                else:
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

    async def _send_control(self, conn: _Conn, op: Literal["subscribe", "unsubscribe"], subs: list[S]) -> None:
        for frame in self.dialect.control_frames(op, subs):
            await conn.send_frame(frame, WSMsgType.TEXT)


async def _close_quietly(conn: _Conn, timeout_s: float) -> None:
    """Close with a handshake bounded by ``timeout_s`` (aiohttp then drops the TCP connection);
    a close that hangs longer is cancelled, which also drops it."""
    try:
        async with asyncio.timeout(timeout_s + 1.0):
            await conn.close()
    except _CLOSE_ERRORS:
        pass
