"""ZmqServer: the ROUTER socket serving CoreApi commands.

Each request is decoded at the edge; a bad frame of any kind gets a typed :class:`ErrorReply`
with a code and is counted by kind (``bad_frames``) — nothing a client sends can crash the
server or stall its reader. Sizes are checked first (``MAX_FRAME_BYTES``), nesting before
the decoder runs (``codec.check_nesting``), values by the types (``decode_command``); anything
else a decode raises is still answered (``decode_error``). A frame with no peer identity to
answer is counted in ``dropped``. The reader drains the socket until EAGAIN whatever one
message does, yielding to the event loop every ``turn_budget_s`` (see ``_on_readable``). Requests are
handled concurrently (a call waiting on the venue does not block other clients), bounded by
``max_in_flight``; beyond that the server stops reading and requests wait in the socket
(ZeroMQ queues them) until a slot frees.

The socket is driven without ``zmq.asyncio``: a reader callback on its file descriptor drains
every message that is ready (ZeroMQ's descriptor is edge-triggered, so the socket's ``EVENTS``
are re-checked after every send). A ``zmq.asyncio`` socket may be passed: its plain twin
(``zmq.Socket.shadow``) is used. Replies go out with a non-blocking send (a ROUTER never
blocks: a peer over its high-water mark loses the reply, as with any ROUTER).

Two ways to serve a request:

* **started** (the fast path) — when a ``starter`` is given, it is called from the reader
  callback itself and either answers at once (a :data:`Reply`) or has already handed the work
  to an actor and returns a :class:`Pending` (the actor's reply future, how to turn it into the
  reply, the timeout); the reply is sent from the future's completion callback — or at once
  when the future is already done (an idle actor answers queries in the caller's turn, see
  ``actors/base.py``). No task, no coroutine: a query to an idle actor is answered within the
  turn of the event loop that read it.
* **handled** — everything else (the starter returned ``None``, or tracing is on and the
  request needs its span) runs ``handler`` in its own task in the server's TaskGroup.

Awaiting ``zmq.asyncio`` futures and starting a task per command cost a few hundred
microseconds per round trip on a loaded 2-core machine (``docs/performance.md``).

Permissions: with ``authorize`` set (CURVE on, ``exchange_runner.security``), frames are read
with ``copy=False`` to see the ZeroMQ ``User-Id`` the ZAP handler gave the connection (the
client's public key), and ``authorize(user_id, method)`` runs after decoding, before anything
else: a message refuses the request with a ``forbidden`` reply (counted in ``errors``).
``epoch`` (the runner instance's id) goes in every reply header (``ep``).

Telemetry: when tracing is on, each request runs in a server span continuing the caller's
trace (header ``tp``/``tst``); ``on_command(method, outcome, seconds)``, when set, is told how
long each request took (``outcome`` = ``ok`` or the error code), on both paths.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import zmq
from loguru import logger

from strategy_client.telemetry import server_span, tracing_enabled
from strategy_client.wire import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorReply,
    Header,
    Reply,
    Request,
    encode,
    new_message_id,
    now_ns,
)
from strategy_client.wire.codec import FrameError, decode_command, decode_command_header

__all__ = ["ZmqServer", "Handler", "Starter", "Pending", "CommandObserver"]

Handler = Callable[[Request, Header], Awaitable[Reply]]
CommandObserver = Callable[[str, str, float], None]
Authorizer = Callable[[str | None, str], str | None]  # (User-Id, method) -> None or why not
#: Who sent the request being started/handled: the CURVE User-Id (client key) if any, else the
#: ROUTER identity bytes. Set before the starter runs and inherited by the handler's task (the
#: risk gate's per-client throttle reads it through the service).
PEER: ContextVar[str | bytes] = ContextVar("tradebus_peer", default="")


class Pending:
    """A command handed to an actor: ``finish(future)`` makes its reply (and never raises);
    after ``timeout_s`` the future fails with ``TimeoutError`` if nothing answered."""

    __slots__ = ("future", "finish", "timeout_s")

    def __init__(
        self, future: asyncio.Future[Any], finish: Callable[[asyncio.Future[Any]], Reply], timeout_s: float
    ) -> None:
        self.future = future
        self.finish = finish
        self.timeout_s = timeout_s


Starter = Callable[[Request, Header], "Reply | Pending | None"]

_NOBLOCK = int(zmq.NOBLOCK)
_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_POLLIN = int(zmq.POLLIN)
_EVENTS = int(zmq.EVENTS)
_send = zmq.backend.Socket.send


def _plain(socket: Any) -> Any:
    """The blocking-API socket behind ``socket`` (an asyncio socket's shadow); anything else as is."""
    if isinstance(socket, zmq.Socket) and type(socket) is not zmq.Socket:
        return zmq.Socket.shadow(socket.underlying)
    return socket


def _method(request: Request) -> str:
    return str(type(request).__struct_config__.tag)


def _user_id(frame: zmq.Frame) -> str | None:
    """The ZAP ``User-Id`` of the connection a frame came on (None if it has none)."""
    try:
        return str(frame.get("User-Id"))
    except zmq.ZMQError:
        return None


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class ZmqServer:
    def __init__(
        self,
        socket: zmq.Socket[Any],
        handler: Handler,
        *,
        starter: Starter | None = None,
        max_in_flight: int = 256,
        exchange: str = "",
        on_command: CommandObserver | None = None,
        authorize: Authorizer | None = None,
        epoch: str = "",
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._sock = _plain(socket)
        self._handler = handler
        self._starter = starter
        self.exchange = exchange
        self.on_command = on_command
        self.authorize = authorize
        self.epoch = epoch
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.requests: Counter[str] = Counter()
        self.bad_frames: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.started = 0  # requests served on the fast path
        self.dropped = 0  # frames with nobody to answer (no peer identity)
        self.turn_budget_s = 0.005  # reading time per event-loop turn before yielding
        self._logged_kinds: set[str] = set()
        self._tg: asyncio.TaskGroup | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._fd = -1
        self._reading = False
        self._kick_pending = False

    async def serve(self) -> None:
        """Serve until cancelled (the requests in flight are cancelled with it)."""
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as tg:
            self._tg, self._loop = tg, loop
            self._fd = int(self._sock.getsockopt(zmq.FD))
            self._start_reading()
            loop.call_soon(self._on_readable)  # messages queued before we started
            try:
                await loop.create_future()  # until cancelled
            finally:
                self._stop_reading()
                self._tg = None
                for timer in self._timers:
                    timer.cancel()
                self._timers.clear()

    # -- reading ----------------------------------------------------------------------
    def _start_reading(self) -> None:
        if not self._reading and self._loop is not None:
            self._loop.add_reader(self._fd, self._on_readable)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _kick(self) -> None:
        """Re-check the socket soon: a send may have consumed the descriptor's wake-up."""
        if not self._kick_pending and self._loop is not None:
            self._kick_pending = True
            self._loop.call_soon(self._on_readable)

    def _on_readable(self) -> None:
        """Drain the socket until EAGAIN (its descriptor is edge-triggered: a message left
        behind would wait for the next edge). A message that fails is answered or counted and
        the drain goes on; after :attr:`turn_budget_s` of work it yields to the event loop and
        comes back (``_kick``), so a flood of expensive frames cannot starve the actors."""
        self._kick_pending = False
        sock = self._sock
        if self._tg is None:
            return
        deadline = time.perf_counter() + self.turn_budget_s
        authorize = self.authorize
        user: str | None = None
        while self.in_flight < self.max_in_flight:
            try:
                if not sock.getsockopt(_EVENTS) & _POLLIN:
                    return
                if authorize is None:
                    frames = sock.recv_multipart(_NOBLOCK)
                else:  # Frames carry the connection's User-Id (the client key ZAP admitted)
                    parts = sock.recv_multipart(_NOBLOCK, copy=False)
                    frames = [p.bytes for p in parts]
                    user = _user_id(parts[-1])
            except zmq.Again:
                return
            except zmq.ZMQError as exc:  # the socket is closing
                logger.debug("zmq server: socket error while reading: {}", exc)
                return
            try:
                self._take(frames, user)
            except Exception:  # noqa: BLE001 - one failing message must not strand the others
                self.errors["internal"] += 1
                logger.exception("zmq server: serving a command failed")
                if frames:
                    self._send(frames[0], "", ErrorReply(code=ErrorCode.INTERNAL, message="serving the command failed"))
            if time.perf_counter() > deadline:
                self._kick()  # more may be waiting: read on after the loop's other callbacks
                return
        self._stop_reading()  # backpressure: requests wait in the socket

    def _take(self, frames: list[bytes], user: str | None = None) -> None:
        parsed = self._decode(frames)
        if parsed is None:
            return
        identity, header, request = parsed
        method = _method(request)
        self.requests[method] += 1
        PEER.set(user or identity)
        if self.authorize is not None and (why := self.authorize(user, method)) is not None:
            denied = ErrorReply(code=ErrorCode.FORBIDDEN, message=why)
            self._finish(identity, header.id, method, denied, time.perf_counter())
            return
        if self._starter is not None and not tracing_enabled():
            t0 = time.perf_counter()
            try:
                started = self._starter(request, header)
            except Exception:  # noqa: BLE001 - a starter bug must not stop the reader
                self.errors["internal"] += 1
                logger.exception("zmq server: starting {} failed", method)
                started = ErrorReply(code=ErrorCode.INTERNAL, message=f"starting {method} failed")
            if isinstance(started, Pending):
                self._await_pending(identity, header.id, method, started, t0)
                return
            if started is not None:
                self._finish(identity, header.id, method, started, t0)
                return
        assert self._tg is not None
        self.in_flight += 1
        self._tg.create_task(self._serve_one(identity, header, request, method))

    # -- the started (fast) path ------------------------------------------------------
    def _await_pending(self, identity: bytes, cid: str, method: str, pending: Pending, t0: float) -> None:
        assert self._loop is not None
        self.started += 1
        fut = pending.future
        if fut.done():  # the actor answered at once (it was idle): reply in this same turn
            self._finish(identity, cid, method, pending.finish(fut), t0)
            return
        self.in_flight += 1
        timer = self._loop.call_later(pending.timeout_s, _expire, fut)
        self._timers.add(timer)

        def done(f: asyncio.Future[Any]) -> None:
            timer.cancel()
            self._timers.discard(timer)
            self._release()
            self._finish(identity, cid, method, pending.finish(f), t0)

        fut.add_done_callback(done)

    def _finish(self, identity: bytes, cid: str, method: str, reply: Reply, t0: float) -> None:
        if isinstance(reply, ErrorReply):
            self.errors[reply.code.value] += 1
        observe = self.on_command
        if observe is not None:
            observe(method, reply.code.value if isinstance(reply, ErrorReply) else "ok", time.perf_counter() - t0)
        self._send(identity, cid, reply)

    def _release(self) -> None:
        self.in_flight -= 1
        if not self._reading and self.in_flight < self.max_in_flight and self._tg is not None:
            self._start_reading()
            self._kick()

    # -- the handled (task) path ------------------------------------------------------
    async def _serve_one(self, identity: bytes, header: Header, request: Request, method: str) -> None:
        try:
            if self.on_command is None and not tracing_enabled():
                reply = await self._handler(request, header)
            else:
                reply = await self._observed(method, request, header)
            if isinstance(reply, ErrorReply):
                self.errors[reply.code.value] += 1
            self._send(identity, header.id, reply)
        except Exception:  # noqa: BLE001 - never let one request take the server down
            self.errors["internal"] += 1
            logger.exception("zmq server: request handling failed")
        finally:
            self._release()

    async def _observed(self, method: str, request: Request, header: Header) -> Reply:
        t0 = time.perf_counter()
        with server_span(method, header.tp, header.tst, exchange=self.exchange) as span:
            reply = await self._handler(request, header)
            if isinstance(reply, ErrorReply):
                span.set_error(reply.code.value, reply.message)
        observe = self.on_command
        if observe is not None:
            observe(method, reply.code.value if isinstance(reply, ErrorReply) else "ok", time.perf_counter() - t0)
        return reply

    async def _dispatch(self, frames: list[bytes]) -> None:
        """Decode and handle one request on the handled path (kept for benches and tests)."""
        parsed = self._decode(frames)
        if parsed is None:
            return
        identity, header, request = parsed
        method = _method(request)
        self.requests[method] += 1
        if self.on_command is None and not tracing_enabled():
            reply = await self._handler(request, header)
        else:
            reply = await self._observed(method, request, header)
        if isinstance(reply, ErrorReply):
            self.errors[reply.code.value] += 1
        self._send(identity, header.id, reply)

    # -- decoding and replying --------------------------------------------------------
    def _bad(self, kind: ErrorCode, sample: object) -> None:
        self.bad_frames[kind.value] += 1
        if kind.value not in self._logged_kinds:
            self._logged_kinds.add(kind.value)
            logger.warning("zmq server: bad frame ({}), first sample: {!r}", kind.value, sample)

    def _refuse(self, identity: bytes, cid: str, code: ErrorCode, message: str, sample: object) -> None:
        self._bad(code, sample)
        self._send(identity, cid, ErrorReply(code=code, message=message))

    def _decode(self, frames: list[bytes]) -> tuple[bytes, Header, Request] | None:
        """The request in ``frames``; None when there is none (a bad frame is answered here,
        or — without an identity to answer to — counted as ``dropped``). Nothing raises."""
        if len(frames) < 2:
            self._bad(ErrorCode.BAD_FRAME, [len(f) for f in frames])
            self.dropped += 1  # no identity to answer to
            return None
        identity = frames[0]
        body_frames = frames[1:]
        if body_frames and body_frames[0] == b"":  # REQ-style empty delimiter
            body_frames = body_frames[1:]
        if len(body_frames) != 2:
            message = f"expected 2 frames [header, request], got {len(body_frames)}"
            self._refuse(identity, "", ErrorCode.BAD_FRAME, message, [len(f) for f in frames])
            return None
        raw_header, raw_body = body_frames
        size = len(raw_header) + len(raw_body)
        if size > MAX_FRAME_BYTES:
            message = f"command of {size} bytes exceeds {MAX_FRAME_BYTES}"
            self._refuse(identity, "", ErrorCode.OVERSIZED, message, size)
            return None
        cid = ""
        try:
            header = decode_command_header(raw_header)
            cid = header.id
            if header.v != PROTOCOL_VERSION:
                message = f"client speaks protocol v{header.v}, runner speaks v{PROTOCOL_VERSION}"
                self._refuse(identity, cid, ErrorCode.VERSION_MISMATCH, message, header.v)
                return None
            return identity, header, decode_command(raw_body)
        except FrameError as exc:
            self._refuse(identity, cid, exc.code, str(exc), (raw_header if not cid else raw_body)[:64])
        except Exception as exc:  # noqa: BLE001 - the decode boundary: nothing a peer sends escapes
            if type(exc).__name__ not in self._logged_kinds:
                self._logged_kinds.add(type(exc).__name__)
                logger.opt(exception=exc).error("zmq server: decoding a command raised")
            message = f"command could not be decoded ({type(exc).__name__})"
            self._refuse(identity, cid, ErrorCode.DECODE_ERROR, message, raw_body[:64])
        return None

    def _send(self, identity: bytes, cid: str, reply: Reply) -> None:
        header = encode(Header(id=new_message_id(), cid=cid, ts=now_ns(), ep=self.epoch))
        body = encode(reply)
        sock = self._sock
        try:
            if type(sock) is zmq.Socket:  # the compiled send, without pyzmq's Python wrapper
                _send(sock, identity, _MORE)
                _send(sock, header, _MORE)
                _send(sock, body, _NOBLOCK)
            else:
                sock.send_multipart((identity, header, body), _NOBLOCK)
        except zmq.Again:  # only with ROUTER_MANDATORY and an unroutable peer: the client is gone
            self.errors["unroutable"] += 1
        except zmq.ZMQError as exc:  # the socket closed under us (shutdown)
            self.errors["send_failed"] += 1
            logger.debug("zmq server: reply not sent: {}", exc)
            return
        if self._tg is not None and sock.getsockopt(_EVENTS) & _POLLIN:
            self._kick()  # the send consumed the descriptor's edge: read what is waiting
