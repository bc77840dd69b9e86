"""The one private WebSocket an OKX adapter keeps (reference §2, §7): order operations and,
while someone listens, the private channels — on one connection, so an adapter needs only
three sockets (this one, books, funding) under OKX's 3-connections-a-second limit.

:class:`OkxPrivateSocket` owns a logged-in :class:`OkxWs` to ``/ws/v5/private`` (re-login and
resubscription on every reconnect, text pings) and a dispatcher:

* **Order operations** — ``order``, ``cancel-order`` and the batch forms — are
  ``{"id","op","args"}`` requests; replies (the REST envelope plus ``id``/``op``) are matched by
  ``id``, many may be in flight. :meth:`request` returns the reply (per-item ``sCode`` for the
  caller), raises the mapped error of a request-level refusal (``60011``, ``60013``, ``50001``,
  ``50004``...), :class:`TransportError` when nothing was sent (no live connection), and
  :class:`UnknownOutcome` when the connection drops before the reply, the reply times out or
  the send fails. Nothing is ever resent: the caller reconciles by ``clOrdId``.
* **Private channels** are subscribed only while a consumer is attached (:meth:`attach` /
  :meth:`detach`), so nobody's unread pushes can ever hold back an order reply. Attached, every
  push and connection status goes to the consumer's buffer (``Overflow.BLOCK``: never dropped;
  a stalled consumer pushes back on the socket).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable

import msgspec
from loguru import logger

from exchanges.base import StreamStatus
from exchanges.credentials import Credentials
from exchanges.errors import TransportError, UnknownOutcome
from exchanges.telemetry import observe_request
from exchanges.transport.backoff import Backoff
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.clock import ServerClock
from exchanges.transport.ws import Frame, NotConnected, WsStats

from .errors import VENUE, map_error
from .gate import ConnectGate
from .ws import OkxWs
from .ws_schemas import OpReply, decode_head, decode_op_reply

__all__ = ["OkxPrivateSocket", "PRIVATE_STREAM"]

PRIVATE_STREAM = "okx:user"


class OkxPrivateSocket:
    """Order operations and private channels on one connection (see the module doc)."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        clock: ServerClock,
        *,
        name: str = PRIVATE_STREAM,
        backoff: Backoff | None = None,
        ping_after_s: float = 20.0,
        pong_timeout_s: float = 10.0,
        login_timeout_s: float = 10.0,
        queue_size: int = 10_000,
        gate: ConnectGate | None = None,
    ) -> None:
        self.ws = OkxWs(
            name,
            url,
            overflow=Overflow.BLOCK,
            queue_size=queue_size,
            credentials=credentials,
            clock=clock,
            backoff=backoff,
            ping_interval_s=ping_after_s,
            ping_timeout_s=pong_timeout_s,
            login_timeout_s=login_timeout_s,
            gate=gate,
        )
        self._queue_size = queue_size
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[OpReply]] = {}
        self._consumer: BoundedBuffer[Frame | StreamStatus] | None = None
        self._channels: list[dict[str, str]] = []
        self._last_status: StreamStatus | None = None
        self.unmatched = 0

    @property
    def connected(self) -> bool:
        return self.ws.connected

    @property
    def name(self) -> str:
        return self.ws.name

    def stats(self) -> WsStats:
        return self.ws.stats

    async def wait_connected(self) -> None:
        await self.ws.wait_connected()

    async def run(self) -> None:
        """Keep the connection and dispatch what it receives until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.ws.run(), name=f"{self.ws.name}:connection")
            tg.create_task(self._dispatch(), name=f"{self.ws.name}:dispatch")

    # -- private channels --------------------------------------------------------------------

    async def attach(self, channels: Iterable[dict[str, str]]) -> BoundedBuffer[Frame | StreamStatus]:
        """Subscribe ``channels`` and return the buffer their pushes and the statuses go to."""
        if self._consumer is not None:
            raise RuntimeError(f"{self.name}: the private channels already have a consumer")
        buffer: BoundedBuffer[Frame | StreamStatus] = BoundedBuffer(self._queue_size, Overflow.BLOCK)
        self._consumer = buffer
        self._channels = [dict(c) for c in channels]
        if self._last_status is not None and self._last_status.connected:
            await buffer.put(StreamStatus(stream=self.name, connected=True, reason="connected", ts_ns=time.time_ns()))
        await self.ws.subscribe(self._channels)
        return buffer

    async def detach(self) -> None:
        channels, self._channels = self._channels, []
        self._consumer = None
        if channels:
            await self.ws.unsubscribe(channels)

    # -- dispatch ----------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            item = await self.ws.buffer.get()
            if isinstance(item, StreamStatus):
                self._last_status = item
                if not item.connected:
                    self._fail_all(item.reason)
                if self._consumer is not None:
                    await self._consumer.put(item)
                continue
            looks_like_reply = item.data[:6] == b'{"id":' or b'"op":' in item.data[:80]
            if looks_like_reply and self._resolve(item.data):
                continue
            if self._consumer is not None:
                await self._consumer.put(item)
            else:
                self.ws.stats.decode_errors.record(f"unrouted:{self._channel(item.data)}", item.data)

    @staticmethod
    def _channel(data: bytes) -> str:
        try:
            head = decode_head(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return "?"
        return head.arg.channel if head.arg is not None else head.op or "?"

    def _resolve(self, data: bytes) -> bool:
        try:
            reply = decode_op_reply(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        fut = self._pending.pop(reply.id, None)
        if fut is None:
            self.unmatched += 1
            logger.warning("{}: reply to unknown request {} ({})", self.name, reply.id, reply.op)
        elif not fut.done():
            fut.set_result(reply)
        return True

    def _fail_all(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(UnknownOutcome(f"connection lost before the reply: {reason}", venue=VENUE))

    # -- order operations --------------------------------------------------------------------

    async def request(
        self, op: str, args: list[dict[str, object]], *, timeout_s: float = 5.0, exp_time_ms: int | None = None
    ) -> OpReply:
        """One order operation. ``exp_time_ms``: the request's ``expTime`` (OKX does not process
        it after that time on its clock)."""
        with observe_request(VENUE, f"ws:{op}", "WS"):
            return await self._request(op, args, timeout_s, exp_time_ms)

    async def _request(
        self, op: str, args: list[dict[str, object]], timeout_s: float, exp_time_ms: int | None = None
    ) -> OpReply:
        req_id = f"t{next(self._ids)}"
        fut: asyncio.Future[OpReply] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            try:
                message: dict[str, object] = {"id": req_id, "op": op, "args": args}
                if exp_time_ms is not None:
                    message["expTime"] = str(exp_time_ms)
                await self.ws.send(msgspec.json.encode(message))
            except NotConnected as exc:
                raise TransportError(f"{op} not sent: {exc}", venue=VENUE) from None
            except Exception as exc:  # the send itself failed: it may have left
                raise UnknownOutcome(f"{op} send failed: {exc!r}", venue=VENUE) from exc
            try:
                async with asyncio.timeout(timeout_s):
                    reply = await fut
            except TimeoutError:
                raise UnknownOutcome(f"{op}: no reply within {timeout_s:g}s", venue=VENUE) from None
        finally:
            self._pending.pop(req_id, None)
        if reply.code not in ("0", "1", "2") or (reply.code != "0" and not reply.data):
            code = int(reply.code) if reply.code.isdigit() else None
            raise map_error(None, code, reply.msg or f"{op} refused")
        return reply
