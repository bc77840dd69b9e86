"""ZmqCommandClient: one DEALER per runner, many calls in flight, replies matched by id.

The reply path is built to be cheap: the socket is a plain (blocking-API) pyzmq socket driven
by the event loop's reader callback on its file descriptor. The callback drains every reply
that is ready and resolves the waiting call's future by correlation id — no reader task, no
per-call poll; each call costs one future and one timer handle. Any number of tasks may call
concurrently; each call has its own timeout.

Runner restarts: the socket's monitor says when the connection to the runner is up. While it
is down a call fails at once with :class:`RunnerUnavailable` (calls in flight when it drops
fail the same way) instead of waiting for its timeout; ZeroMQ reconnects by itself when a
runner is back at the endpoint, and :meth:`retarget` moves the client to a new endpoint (the
router does that when a restarted runner registers new ports). Right after :meth:`open` or
:meth:`retarget` a call waits up to ``connect_timeout_s`` for the first connection.

Latency option: ``spin_us`` > 0 makes a call that is alone in flight busy-read the socket for
up to that many microseconds before yielding to the event loop, so a fast reply is taken
without an epoll wake-up and two loop iterations. It trades a CPU core for a lower round trip
(see ``scripts/bench_rpc.py``); leave it at 0 on shared machines and with many calls in flight.

All methods must be called from the event loop the client was opened on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec
import zmq

from .aio import within
from .api_calls import CoreApiCalls, Route, expect
from .connection import ConnectionMonitor, fd_of, readable, recv_frames
from .errors import BadReply, CoreApiError, OutcomeUnknown, ProtocolMismatch, RequestTimeout, RunnerUnavailable
from .wire import (
    BY_METHOD,
    PROTOCOL_VERSION,
    ErrorReply,
    Header,
    Permission,
    Ping,
    Pong,
    Reply,
    Request,
    Scope,
    SubmitOrder,
    decode_header,
    decode_reply,
    encode,
    error_class,
    new_message_id,
    now_ns,
)

if TYPE_CHECKING:
    from .security import CurveClient

__all__ = ["ZmqCommandClient"]

log = logging.getLogger("strategy_client.command_client")

_send = zmq.backend.Socket.send
_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_NOBLOCK = int(zmq.NOBLOCK)

#: Commands that change the account at the venue (the registry's ``ACCOUNT`` commands beyond
#: role read: orders, leverage): unanswered, the error says how to learn what happened.
_MUTATING = frozenset(
    m for m, c in BY_METHOD.items() if c.scope is Scope.ACCOUNT and c.permission is not Permission.READ
)
#: Sent and then unanswered, these have an unknown outcome (:class:`OutcomeUnknown`, never
#: retried); other calls unanswered are :class:`RequestTimeout` / :class:`RunnerUnavailable`.
#: The order commands: role trade in the registry.
_ORDER_COMMANDS = frozenset(m for m, c in BY_METHOD.items() if c.permission is Permission.TRADE)


def _method(request: Request) -> str:
    return str(type(request).__struct_config__.tag)


def _order_hint(request: Request) -> str:
    method = _method(request)
    if method not in _MUTATING:
        return ""
    if isinstance(request, SubmitOrder):
        return (
            f"; the outcome is unknown: do not resend — the runner tracks order "
            f"{request.order.client_id!r} until the venue says; learn its fate from the exec topic or "
            f"get_order({request.order.key}, client_id={request.order.client_id!r})"
        )
    if method == "cancel_order":
        return "; the outcome is unknown: learn the order's state from the exec topic or get_order"
    return "; the outcome is unknown: query the state before retrying"


def _unanswered(request: Request, cls: type[CoreApiError], message: str) -> CoreApiError:
    """A call sent and then left without a reply: for an order command the outcome is unknown."""
    if _method(request) in _ORDER_COMMANDS:
        return OutcomeUnknown(message)
    return cls(message)


class ZmqCommandClient(CoreApiCalls):
    """A :class:`~strategy_client.core_api.CoreApi` over one runner's ROUTER socket."""

    def __init__(
        self,
        endpoint: str,
        *,
        name: str = "",
        context: zmq.Context[Any] | None = None,
        default_timeout_s: float = 10.0,
        connect_timeout_s: float = 2.0,
        heartbeat_ms: int = 1000,
        spin_us: int = 0,
        curve: CurveClient | None = None,
    ) -> None:
        """``curve``: connect over CURVE with these keys (``strategy_client.security``)."""
        self.endpoint = endpoint
        self.curve = curve
        self.epoch = ""  # the runner instance's id, from reply headers (``ep``)
        self.epoch_changes = 0  # replies that came from another runner instance than before
        self.spin_us = spin_us
        self.name = name or endpoint
        self.default_timeout_s = default_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.heartbeat_ms = heartbeat_ms
        self._ctx: zmq.Context[Any] = context or zmq.Context.instance()
        self._sock: zmq.Socket[bytes] | None = None
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitor: ConnectionMonitor | None = None
        self._targeted_at = 0.0
        self._up_waiters: list[asyncio.Future[None]] = []
        self._pending: dict[str, tuple[asyncio.Future[Reply], Request]] = {}
        self.pong: Pong | None = None
        # counters
        self.calls = 0
        self.timeouts = 0
        self.late_replies = 0
        self.bad_replies = 0
        self.failed_fast = 0
        self.spin_hits = 0
        self.last_reply_at = 0.0
        self._logged_bad = False

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._monitor is not None and self._monitor.up

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def open(self) -> None:
        """Create the socket and start connecting (returns at once; needs a running loop)."""
        if self._sock is not None:
            return
        loop = asyncio.get_running_loop()
        sock: zmq.Socket[bytes] = zmq.Socket(self._ctx, zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only on a live connection: a send to a gone runner fails
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        if self.curve is not None:
            self.curve.apply(sock)
        if self.heartbeat_ms > 0:  # notice a runner that vanished without closing its sockets
            sock.setsockopt(zmq.HEARTBEAT_IVL, self.heartbeat_ms)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, self.heartbeat_ms * 3)
        self._loop = loop
        self._sock = sock
        self._monitor = ConnectionMonitor(sock, self.endpoint, self._on_state)
        sock.connect(self.endpoint)
        self._targeted_at = time.monotonic()
        self._fd = fd_of(sock)
        loop.add_reader(self._fd, self._on_readable)
        loop.call_soon(self._on_readable)

    async def connect(self, *, check_version: bool = True, timeout_s: float | None = None) -> Pong | None:
        """Open, wait for the connection, and (by default) check the runner's protocol version."""
        self.open()
        await self.wait_connected(self.connect_timeout_s if timeout_s is None else timeout_s)
        if not check_version:
            return None
        return await self.ping(timeout_s=timeout_s)

    async def ping(self, *, timeout_s: float | None = None) -> Pong:
        """Ask the runner who it is; a different protocol version raises :class:`ProtocolMismatch`."""
        req = Ping()
        pong = expect(await self.call(req, timeout_s=timeout_s), Pong, req)
        if pong.protocol_version != PROTOCOL_VERSION:
            raise ProtocolMismatch(
                f"runner {self.name} at {self.endpoint} speaks protocol v{pong.protocol_version}; "
                f"this client speaks v{PROTOCOL_VERSION}"
            )
        self.pong = pong
        return pong

    async def wait_connected(self, timeout_s: float) -> None:
        self.open()
        assert self._monitor is not None
        if self._monitor.up:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._up_waiters.append(fut)
        try:
            await within(fut, timeout_s)
        except TimeoutError:
            raise RunnerUnavailable(
                f"runner {self.name} at {self.endpoint}: no connection within {timeout_s:.1f}s ({self._monitor.reason})"
            ) from None
        finally:
            if fut in self._up_waiters:
                self._up_waiters.remove(fut)

    def retarget(self, endpoint: str, curve: CurveClient | None = None) -> None:
        """Move to a new endpoint (a restarted runner on new ports, or with a new server key
        ``curve``); calls in flight fail."""
        new_key = curve is not None and (self.curve is None or curve.server != self.curve.server)
        if endpoint == self.endpoint and not new_key:
            return
        if curve is not None:
            self.curve = curve
            if self._sock is not None:
                curve.apply(self._sock)  # used by the next connect
        old, self.endpoint = self.endpoint, endpoint
        if self._sock is None or self._monitor is None:
            return
        self._fail_all(RunnerUnavailable, f"runner {self.name} moved from {old} to {endpoint} during the call")
        try:
            self._sock.disconnect(old)
        except zmq.ZMQError:
            pass
        self._monitor.retarget(endpoint)
        self._sock.connect(endpoint)
        self._targeted_at = time.monotonic()

    async def close(self) -> None:
        self.close_now()

    def close_now(self) -> None:
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        if self._sock is not None and self._loop is not None:
            try:
                self._loop.remove_reader(self._fd)
            except (RuntimeError, ValueError):
                pass
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        self._fail_all(RunnerUnavailable, f"client for runner {self.name} closed")
        for fut in self._up_waiters:
            if not fut.done():
                fut.cancel()
        self._up_waiters.clear()

    async def __aenter__(self) -> ZmqCommandClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- calls --------------------------------------------------------------------------
    async def _request(
        self, request: Request, route: Route, timeout_s: float | None, traceparent: str, tracestate: str
    ) -> Reply:
        return await self.call(request, timeout_s=timeout_s, traceparent=traceparent, tracestate=tracestate)

    async def call(
        self, request: Request, *, timeout_s: float | None = None, traceparent: str = "", tracestate: str = ""
    ) -> Reply:
        """Send ``request`` and return its reply; an error reply is raised as a typed exception.

        The low-level call: no span of its own (the typed methods open one); pass the W3C
        ``traceparent``/``tracestate`` of your own span to continue a trace in the runner."""
        monitor = self._monitor
        if monitor is None or not monitor.up:
            await self._await_connection(request)
        sock = self._sock
        loop = self._loop
        assert sock is not None and loop is not None
        timeout = self.default_timeout_s if timeout_s is None else timeout_s
        msg_id = new_message_id()
        header = Header(id=msg_id, ts=now_ns(), tp=traceparent, tst=tracestate, timeout_ms=int(timeout * 1000))
        try:
            # the compiled send, two frames: pyzmq's send_multipart wrapper costs more than the sends
            _send(sock, encode(header), _MORE)
            _send(sock, encode(request), _NOBLOCK)
        except zmq.Again:
            self.failed_fast += 1
            raise RunnerUnavailable(
                f"{_method(request)}: runner {self.name} at {self.endpoint} is not connected"
            ) from None
        fut: asyncio.Future[Reply] = loop.create_future()
        self._pending[msg_id] = (fut, request)
        self.calls += 1
        if self.spin_us and len(self._pending) == 1:
            self._spin(fut, sock)
        if readable(sock):  # the send may have eaten the fd's wake-up
            loop.call_soon(self._on_readable)
        if fut.done():
            self.spin_hits += 1
            self._pending.pop(msg_id, None)
            reply = fut.result()
        else:
            timer = loop.call_later(timeout, self._expire, msg_id, timeout)
            try:
                reply = await fut
            finally:
                timer.cancel()
                self._pending.pop(msg_id, None)
        if type(reply) is ErrorReply:
            raise _to_exception(reply)
        return reply

    def _spin(self, fut: asyncio.Future[Reply], sock: zmq.Socket[bytes]) -> None:
        """Busy-read for up to ``spin_us`` before yielding to the loop (see ``spin_us``)."""
        deadline = time.perf_counter_ns() + self.spin_us * 1000
        while not fut.done() and time.perf_counter_ns() < deadline:
            if readable(sock):
                self._on_readable()

    async def _await_connection(self, request: Request) -> None:
        if self._sock is None:
            self.open()
        monitor = self._monitor
        assert monitor is not None
        if monitor.up:
            return
        grace = self.connect_timeout_s - (time.monotonic() - self._targeted_at)
        if not monitor.ever_up and grace > 0:  # just opened or retargeted: give it a moment
            try:
                await self.wait_connected(grace)
                return
            except RunnerUnavailable:
                pass
        self.failed_fast += 1
        raise RunnerUnavailable(
            f"{_method(request)}: runner {self.name} at {self.endpoint} is not connected "
            f"({monitor.reason} {monitor.since_s():.1f}s ago); ZeroMQ reconnects when it is back"
        )

    # -- reply path (event-loop reader callback) ----------------------------------------
    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            while readable(sock):
                self._on_frames(recv_frames(sock))
        except zmq.Again:
            return
        except zmq.ZMQError as exc:
            log.debug("client %s: socket error while reading: %s", self.name, exc)

    def _on_frames(self, frames: list[bytes]) -> None:
        if len(frames) == 3 and not frames[0]:  # tolerate an empty delimiter
            frames = frames[1:]
        if len(frames) != 2:
            self._bad(f"reply of {len(frames)} frames, expected [header, reply]")
            return
        try:
            header = decode_header(frames[0])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._bad(f"undecodable reply header: {exc}")
            return
        if header.ep != self.epoch and header.ep:
            if self.epoch:
                self.epoch_changes += 1
                log.info("client %s: runner is a new instance (epoch %s -> %s)", self.name, self.epoch, header.ep)
            self.epoch = header.ep
        entry = self._pending.pop(header.cid, None)
        if entry is None:
            self.late_replies += 1
            return
        fut, request = entry
        self.last_reply_at = time.monotonic()
        if fut.done():
            return
        try:
            reply = decode_reply(frames[1])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._bad(f"undecodable reply: {exc}")
            fut.set_exception(
                BadReply(
                    f"{_method(request)}: the reply of runner {self.name} could not be decoded ({exc}); "
                    f"this client speaks protocol v{PROTOCOL_VERSION} (header says v{header.v})"
                )
            )
            return
        fut.set_result(reply)

    def _bad(self, what: str) -> None:
        self.bad_replies += 1
        if not self._logged_bad:
            self._logged_bad = True
            log.warning("client %s: %s (logged once; counted in bad_replies)", self.name, what)

    def _expire(self, msg_id: str, timeout: float) -> None:
        entry = self._pending.pop(msg_id, None)
        if entry is None:
            return
        fut, request = entry
        if fut.done():
            return
        self.timeouts += 1
        fut.set_exception(
            _unanswered(
                request,
                RequestTimeout,
                f"{_method(request)} to runner {self.name}: no reply within {timeout:.1f}s{_order_hint(request)}",
            )
        )

    def _on_state(self, up: bool, reason: str) -> None:
        if up:
            waiters, self._up_waiters = self._up_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            return
        self._fail_all(RunnerUnavailable, f"runner {self.name} at {self.endpoint}: {reason} during the call")

    def _fail_all(self, cls: type[RunnerUnavailable], message: str) -> None:
        """Fail the calls in flight: they were sent, so an order command's outcome is unknown."""
        pending, self._pending = self._pending, {}
        for fut, request in pending.values():
            if not fut.done():
                fut.set_exception(_unanswered(request, cls, f"{_method(request)}: {message}{_order_hint(request)}"))


def _to_exception(reply: ErrorReply) -> Exception:
    cls = error_class(reply.code)
    return cls(
        reply.message,
        code=reply.code,
        venue_code=reply.venue_code,
        venue_message=reply.venue_message,
        retryable=reply.retryable,
        reject_code=reply.reject_code,
    )
