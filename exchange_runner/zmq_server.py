"""ZmqServer: the ROUTER socket serving CoreApi commands.

Each request is decoded at the edge; a bad frame of any kind gets a typed :class:`ErrorReply`
with a code and is counted by kind — nothing a client sends can crash the server. Requests are
handled concurrently (a call waiting on the venue does not block other clients), bounded by
``max_in_flight``; beyond that, requests wait in the socket (ZeroMQ queues them).

Telemetry: when tracing is on, each request runs in a server span continuing the caller's
trace (header ``tp``/``tst``); ``on_command(method, outcome, seconds)``, when set, is told how
long each request took (``outcome`` = ``ok`` or the error code). With neither, the path is
unchanged but for one check.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import msgspec
import zmq
import zmq.asyncio
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
    classify_request_error,
    decode_header,
    decode_request,
    encode,
    new_message_id,
    now_ns,
)

__all__ = ["ZmqServer", "Handler", "CommandObserver"]

Handler = Callable[[Request, Header], Awaitable[Reply]]
CommandObserver = Callable[[str, str, float], None]


class ZmqServer:
    def __init__(
        self,
        socket: zmq.asyncio.Socket,
        handler: Handler,
        *,
        max_in_flight: int = 256,
        exchange: str = "",
        on_command: CommandObserver | None = None,
    ) -> None:
        self._sock = socket
        self._handler = handler
        self.exchange = exchange
        self.on_command = on_command
        self._slots = asyncio.Semaphore(max_in_flight)
        self.requests: Counter[str] = Counter()
        self.bad_frames: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._logged_kinds: set[str] = set()

    async def serve(self) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                frames = await self._sock.recv_multipart(copy=True)
                await self._slots.acquire()
                tg.create_task(self._serve_one(frames))

    async def _serve_one(self, frames: list[bytes]) -> None:
        try:
            await self._dispatch(frames)
        except Exception:  # noqa: BLE001 - never let one request take the server down
            self.errors["internal"] += 1
            logger.exception("zmq server: request handling failed")
        finally:
            self._slots.release()

    def _bad(self, kind: ErrorCode, sample: object) -> None:
        self.bad_frames[kind.value] += 1
        if kind.value not in self._logged_kinds:
            self._logged_kinds.add(kind.value)
            logger.warning("zmq server: bad frame ({}), first sample: {!r}", kind.value, sample)

    async def _dispatch(self, frames: list[bytes]) -> None:
        if len(frames) < 2:
            return  # no identity to answer to
        identity = frames[0]
        body_frames = frames[1:]
        if body_frames and body_frames[0] == b"":  # REQ-style empty delimiter
            body_frames = body_frames[1:]
        if len(body_frames) != 2:
            self._bad(ErrorCode.BAD_FRAME, [len(f) for f in frames])
            await self._reply(
                identity,
                "",
                ErrorReply(
                    code=ErrorCode.BAD_FRAME,
                    message=f"expected 2 frames [header, request], got {len(body_frames)}",
                ),
            )
            return
        raw_header, raw_body = body_frames
        if len(raw_header) + len(raw_body) > MAX_FRAME_BYTES:
            self._bad(ErrorCode.OVERSIZED, len(raw_body))
            await self._reply(
                identity,
                "",
                ErrorReply(
                    code=ErrorCode.OVERSIZED,
                    message=f"request of {len(raw_body)} bytes exceeds {MAX_FRAME_BYTES}",
                ),
            )
            return
        try:
            header = decode_header(raw_header)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._bad(ErrorCode.DECODE_ERROR, raw_header[:64])
            await self._reply(identity, "", ErrorReply(code=ErrorCode.DECODE_ERROR, message=f"header: {exc}"))
            return
        if header.v != PROTOCOL_VERSION:
            self._bad(ErrorCode.VERSION_MISMATCH, header.v)
            await self._reply(
                identity,
                header.id,
                ErrorReply(
                    code=ErrorCode.VERSION_MISMATCH,
                    message=f"client speaks protocol v{header.v}, runner speaks v{PROTOCOL_VERSION}",
                ),
            )
            return
        try:
            request = decode_request(raw_body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            kind, method = classify_request_error(raw_body)
            code = ErrorCode(kind)
            self._bad(code, raw_body[:64])
            message = f"unknown method {method!r}" if code is ErrorCode.UNKNOWN_METHOD else str(exc)
            await self._reply(identity, header.id, ErrorReply(code=code, message=message))
            return
        method = str(type(request).__struct_config__.tag)
        self.requests[method] += 1
        if self.on_command is None and not tracing_enabled():
            reply = await self._handler(request, header)
        else:
            reply = await self._observed(method, request, header)
        if isinstance(reply, ErrorReply):
            self.errors[reply.code.value] += 1
        await self._reply(identity, header.id, reply)

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

    async def _reply(self, identity: bytes, cid: str, reply: Reply) -> None:
        header = Header(id=new_message_id(), cid=cid, ts=now_ns())
        await self._sock.send_multipart((identity, encode(header), encode(reply)))
