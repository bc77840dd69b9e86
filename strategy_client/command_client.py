"""ZmqCommandClient: one DEALER per runner, many calls in flight, replies matched by id.

A single reader task receives every reply and resolves the waiting call by correlation id, so
any number of tasks can call concurrently over one socket. Each call has its own timeout. If
the runner goes away, calls fail with :class:`RunnerUnavailable` as soon as that is known
(the socket reconnects by itself when the runner is back, and ``ping`` works again).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import zmq
import zmq.asyncio

from .wire import (
    PROTOCOL_VERSION,
    ErrorReply,
    Header,
    Ping,
    Pong,
    Reply,
    Request,
    decode_header,
    decode_reply,
    encode,
    error_class,
    new_message_id,
    now_ns,
)
from .wire.errors import ProtocolMismatch, RequestTimeout, RunnerUnavailable

__all__ = ["ZmqCommandClient"]


class ZmqCommandClient:
    def __init__(
        self,
        endpoint: str,
        *,
        name: str = "",
        context: zmq.asyncio.Context | None = None,
        default_timeout_s: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self.name = name or endpoint
        self._ctx = context or zmq.asyncio.Context.instance()
        self.default_timeout_s = default_timeout_s
        self._sock: zmq.asyncio.Socket | None = None
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.calls = 0
        self.timeouts = 0
        self.late_replies = 0
        self.last_reply_at = 0.0

    async def connect(self, *, check_version: bool = True, timeout_s: float = 5.0) -> Pong | None:
        if self._sock is None:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
            sock.connect(self.endpoint)
            self._sock = sock
            self._reader = asyncio.get_running_loop().create_task(
                self._read(), name=f"zmq-reader:{self.name}"
            )
        if not check_version:
            return None
        pong = await self.call(Ping(), timeout_s=timeout_s)
        assert isinstance(pong, Pong)
        if pong.protocol_version != PROTOCOL_VERSION:
            raise ProtocolMismatch(
                f"runner {self.name} speaks protocol v{pong.protocol_version}, this client v{PROTOCOL_VERSION}"
            )
        return pong

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass
            self._reader = None
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RunnerUnavailable(f"client for {self.name} closed"))
        self._pending.clear()

    async def _read(self) -> None:
        assert self._sock is not None
        while True:
            frames = await self._sock.recv_multipart()
            if len(frames) != 2:
                continue
            try:
                header = decode_header(frames[0])
                reply = decode_reply(frames[1])
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            self.last_reply_at = time.monotonic()
            fut = self._pending.pop(header.cid, None)
            if fut is None or fut.done():
                self.late_replies += 1
                continue
            fut.set_result(reply)

    async def call(self, request: Request, *, timeout_s: float | None = None, traceparent: str = "") -> Reply:
        """Send ``request`` and return its reply; an error reply is raised as a typed exception."""
        if self._sock is None:
            await self.connect(check_version=False)
        assert self._sock is not None
        timeout = self.default_timeout_s if timeout_s is None else timeout_s
        msg_id = new_message_id()
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        header = Header(id=msg_id, ts=now_ns(), tp=traceparent, timeout_ms=int(timeout * 1000))
        self.calls += 1
        try:
            await self._sock.send_multipart((encode(header), encode(request)), flags=zmq.NOBLOCK)
        except zmq.Again:
            self._pending.pop(msg_id, None)
            raise RunnerUnavailable(f"runner {self.name} at {self.endpoint} is not connected") from None
        try:
            reply = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self._pending.pop(msg_id, None)
            self.timeouts += 1
            method = type(request).__struct_config__.tag
            raise RequestTimeout(f"{method} to {self.name}: no reply within {timeout:.1f}s") from None
        if isinstance(reply, ErrorReply):
            raise _to_exception(reply)
        return reply

    async def __aenter__(self) -> ZmqCommandClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _to_exception(reply: ErrorReply) -> Exception:
    cls = error_class(reply.code)
    return cls(reply.message, code=reply.code, venue_code=reply.venue_code, venue_message=reply.venue_message)
