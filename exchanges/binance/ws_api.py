"""Binance WebSocket API client (spot ``/ws-api/v3``, futures ``/ws-fapi/v1``): the low-latency
order path (``order.place``, ``order.cancel``, ``order.status``...) and the carrier of spot user
data (``userDataStream.subscribe.signature``).

Requests are ``{"id", "method", "params"}``; many may be in flight, replies are matched by
``id``. Signed requests add ``apiKey`` and ``timestamp`` (server clock) and sign every param
but ``signature`` sorted by name (§2). Outcomes:

- ``status == 200`` → the raw JSON bytes of ``result``;
- an error reply → ``exchanges.binance.errors.map_error(product, status, code, msg,
  retry_after_s)`` raised (``error.data.retryAfter`` is an epoch ms, turned into seconds);
- no live connection when called → :class:`~exchanges.errors.TransportError` (nothing sent);
- the connection drops before the reply, the reply times out, or the send itself fails →
  :class:`~exchanges.errors.UnknownOutcome`. The request is **never** resent: for orders, the
  caller reconciles by client order id.

``rateLimits`` of every reply are kept in :attr:`BinanceWsApi.rate_limits`. With a shared budget
(:attr:`BinanceWsApi.budget`, the REST host's: Binance counts WS-API and REST requests in one
REQUEST_WEIGHT and ORDERS quota) each request's cost (``weights.ws_api_cost``) is reserved before
it is sent, exactly as over REST — an order that does not fit is refused with ``RateLimited``
and never sent — the replies' ``rateLimits`` counts reconcile it as REST's usage headers do, and
a 429/418 reply pauses every process of the scope. User-data events
(``{"subscriptionId", "event"}``) and connection statuses go to ``event_sink`` when one is
given (never dropped: the sink blocks); otherwise events are counted and discarded.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal
from enum import Enum
from typing import Literal

import msgspec
from loguru import logger

from exchanges.base import StreamStatus
from exchanges.credentials import Credentials
from exchanges.errors import RateLimited, TransportError, UnknownOutcome
from exchanges.telemetry import observe_request
from exchanges.transport.backoff import Backoff, ReconnectPacer
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.clock import ServerClock
from exchanges.transport.ratelimit import SharedBudget, binance_window_name, pause_scope
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame, NotConnected, WsStats
from strategy_client.model import to_plain

from .errors import map_error
from .signing import HmacSigner
from .weights import ws_api_cost
from .ws import BinanceWs
from .ws_schemas import RetryAfterData, WsApiEnvelope, WsApiRateLimit

__all__ = ["BinanceWsApi", "WsApiItem"]

WsApiItem = Frame | StreamStatus
"""What ``event_sink`` receives: a user-data event (``Frame.data`` is the raw ``event``
object) or a connection status."""

_decode_envelope = msgspec.json.Decoder(WsApiEnvelope).decode
_decode_retry = msgspec.json.Decoder(RetryAfterData).decode


def _wire_value(value: object) -> object:
    """Params as Binance expects them: decimals in plain notation, enums by value."""
    if isinstance(value, Decimal):
        return to_plain(value)
    if isinstance(value, Enum):
        return value.value
    return value


class _Pending(msgspec.Struct, gc=False):
    future: asyncio.Future[bytes]
    method: str
    generation: int


class BinanceWsApi:
    """One WS-API connection with request/reply correlation (see the module doc)."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        clock: ServerClock,
        *,
        product: Literal["spot", "futures"],
        event_sink: BoundedBuffer[WsApiItem] | None = None,
        name: str | None = None,
        backoff: Backoff | None = None,
        ping_interval_s: float | None = 20.0,
        ping_timeout_s: float | None = 20.0,
        max_lifetime_s: float | None = 23.5 * 3600,
        recv_window_ms: int | None = None,
        budget: SharedBudget | None = None,
    ) -> None:
        self.product: Literal["spot", "futures"] = product
        self.budget = budget  # the REST host's shared rate-limit budget (one quota per IP/account)
        self.name = name or f"binance:{product}:ws-api"
        self._credentials = credentials
        self._signer = HmacSigner(credentials.api_secret)
        self._clock = clock
        self._recv_window_ms = recv_window_ms
        self._sink = event_sink
        self.errors = ErrorTally(self.name)
        self._ws = BinanceWs(
            self.name,
            url,
            overflow=Overflow.BLOCK,
            queue_size=10_000,
            backoff=backoff,
            ping_interval_s=ping_interval_s,
            ping_timeout_s=ping_timeout_s,
            max_lifetime_s=max_lifetime_s,
            busy=lambda: bool(self._pending),
            tally=self.errors,
        )
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._rate_limits: dict[tuple[str, str, int], WsApiRateLimit] = {}
        self._seen_generation = 0
        self._runner: asyncio.Task[None] | None = None
        self.late_replies = 0
        self.events_discarded = 0

    @property
    def pacer(self) -> ReconnectPacer:
        """The connection's reconnect pacing (attempt counter, delays chosen)."""
        return self._ws.pacer

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the connection and the reply dispatcher until cancelled (for a caller's TaskGroup)."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._ws.run(), name=f"{self.name}:connection")
                tg.create_task(self._dispatch(), name=f"{self.name}:dispatch")
        finally:
            self._fail_pending(None, "WS-API client stopped before the reply")

    async def start(self) -> None:
        """Start :meth:`run` in the background and wait for the first connection."""
        if self._runner is None:
            self._runner = asyncio.create_task(self.run(), name=f"{self.name}:run")
        runner = self._runner
        waiter = asyncio.ensure_future(self._ws.wait_connected())
        try:
            await asyncio.wait({waiter, runner}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()  # also when our caller gives up (e.g. a connect timeout)
        if runner.done():
            self._runner = None
            await runner  # re-raises what stopped it

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        runner.cancel()
        await asyncio.wait({runner})
        if not runner.cancelled() and runner.exception() is not None:
            logger.error("{}: stopped with {!r}", self.name, runner.exception())

    async def __aenter__(self) -> BinanceWsApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._ws.connected

    @property
    def draining(self) -> bool:
        """A planned reconnect is waiting for in-flight replies; new requests are refused."""
        return self._ws.draining

    @property
    def generation(self) -> int:
        return self._ws.generation

    async def wait_connected(self) -> int:
        return await self._ws.wait_connected()

    def request_reconnect(self, reason: str) -> None:
        self._ws.request_reconnect(reason)

    @property
    def stats(self) -> WsStats:
        return self._ws.stats

    @property
    def rate_limits(self) -> tuple[WsApiRateLimit, ...]:
        """The latest usage per limit (``REQUEST_WEIGHT`` 1m, ``ORDERS`` 10s/1d...)."""
        return tuple(self._rate_limits.values())

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    # -- requests ------------------------------------------------------------------------------

    def _signed(self, params: dict[str, object]) -> dict[str, object]:
        out = dict(params)
        out["apiKey"] = self._credentials.api_key
        out.setdefault("timestamp", self._clock.now_ms())
        if self._recv_window_ms is not None:
            out.setdefault("recvWindow", self._recv_window_ms)
        out.pop("signature", None)
        out["signature"] = self._signer.ws_params(out)
        return out

    async def request(
        self,
        method: str,
        params: dict[str, object],
        *,
        signed: bool = True,
        timeout_s: float = 5.0,
    ) -> bytes:
        """Send one request and return the raw JSON of its ``result`` (see the module doc)."""
        with observe_request(f"binance-{self.product}", f"ws-api:{method}", "WS"):
            return await self._request(method, params, signed, timeout_s)

    async def _request(self, method: str, params: dict[str, object], signed: bool, timeout_s: float) -> bytes:
        if not self._ws.connected:
            raise TransportError(f"{method}: WS-API not connected", venue=self.name)
        budget = self.budget
        if budget is not None:  # before signing: a wait never makes the signed timestamp stale
            cost = ws_api_cost(self.product, method, params)
            await budget.acquire(cost.weight, order=cost.order, urgent=cost.urgent, stream_key=cost.stream_key)
        request_id = next(self._ids)
        payload = self._encode(method, params, signed, request_id)
        generation = self._ws.generation
        if not self._ws.connected:
            raise TransportError(f"{method}: WS-API not connected", venue=self.name)
        try:
            return await self._exchange(method, request_id, payload, generation, timeout_s)
        except RateLimited as exc:  # IpBanned included: every process of the scope stops
            await pause_scope(budget, exc)
            raise

    def _encode(self, method: str, params: dict[str, object], signed: bool, request_id: int) -> bytes:
        wire = {k: _wire_value(v) for k, v in params.items() if v is not None}
        if signed:
            wire = self._signed(wire)
        return msgspec.json.encode({"id": request_id, "method": method, "params": wire})

    def rehearse(self, method: str, params: dict[str, object], *, signed: bool = True) -> int:
        """Build ``method``'s request as :meth:`request` does — its rate-limit cost, the params on
        the wire, the signature, the JSON — and send nothing; returns the request's length. It
        keeps that code and its data in the CPU's caches between orders
        (``exchange_runner/warmth.py``); no id is used, no budget charged, nothing counted."""
        ws_api_cost(self.product, method, params)
        return len(self._encode(method, params, signed, 0))

    async def _exchange(self, method: str, request_id: int, payload: bytes, generation: int, timeout_s: float) -> bytes:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._pending[request_id] = _Pending(future, method, generation)
        timer: asyncio.TimerHandle | None = None
        try:
            try:
                await self._ws.send(payload, generation=generation)
            except NotConnected as exc:  # dropped, or draining for a planned reconnect: not sent
                raise TransportError(f"{method}: {exc}", venue=self.name) from None
            except Exception as exc:
                raise UnknownOutcome(f"{method}: send failed: {exc!r}", venue=self.name) from exc
            # the reply's time limit ends the future itself (one timer; no asyncio.timeout, whose
            # enter and exit sit between the request written and the order turn's end)
            timer = loop.call_later(timeout_s, self._no_reply, future, method, timeout_s)
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            self._pending.pop(request_id, None)
            if not future.done():
                future.cancel()

    def _no_reply(self, future: asyncio.Future[bytes], method: str, timeout_s: float) -> None:
        """The reply's time limit passed (a timer of :meth:`_exchange`)."""
        if not future.done():
            future.set_exception(UnknownOutcome(f"{method}: no reply within {timeout_s:g}s", venue=self.name))

    # -- dispatch ------------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        buffer = self._ws.buffer
        while True:
            item = await buffer.get()
            if isinstance(item, StreamStatus):
                if item.connected:
                    self._seen_generation += 1
                else:
                    self._fail_pending(self._seen_generation, f"connection dropped before the reply ({item.reason})")
                if self._sink is not None:
                    await self._sink.put(item)
                continue
            try:
                msg = _decode_envelope(item.data)
            except msgspec.DecodeError as exc:
                self.errors.record("ws_api_envelope", item.data, exc)
                continue
            if msg.subscriptionId is not None and len(msg.event):
                if self._sink is not None:
                    await self._sink.put(Frame(item.source, bytes(msg.event), item.recv_ns, item.generation))
                else:
                    self.events_discarded += 1
                continue
            if msg.rateLimits:
                self._note_limits(msg.rateLimits)
            self._resolve(msg, item.data)

    def _note_limits(self, limits: list[WsApiRateLimit]) -> None:
        budget = self.budget
        for limit in limits:
            self._rate_limits[(limit.rateLimitType, limit.interval, limit.intervalNum)] = limit
            if budget is not None:
                name = binance_window_name(limit.rateLimitType, limit.interval, limit.intervalNum)
                if name is not None:
                    budget.observe(name, limit.count)

    def _resolve(self, msg: WsApiEnvelope, raw: bytes) -> None:
        if not isinstance(msg.id, int):
            self.errors.record("ws_api_unmatched", raw, f"reply without a numeric id: {msg.id!r}")
            return
        pending = self._pending.get(msg.id)
        if pending is None or pending.future.done():
            self.late_replies += 1
            logger.debug("{}: reply for unknown or finished request {}", self.name, msg.id)
            return
        if msg.status == 200 and msg.error is None:
            pending.future.set_result(bytes(msg.result))
            return
        if msg.error is None:
            self.errors.record("ws_api_reply", raw, f"status {msg.status} without error or 200")
            pending.future.set_exception(
                UnknownOutcome(f"{pending.method}: status {msg.status} without error", venue=self.name)
            )
            return
        retry_after_s: float | None = None
        if len(msg.error.data):
            try:
                retry_at = _decode_retry(msg.error.data).retryAfter
            except msgspec.DecodeError:
                retry_at = None
            if retry_at is not None:
                retry_after_s = max(0.0, (retry_at - time.time_ns() // 1_000_000) / 1000.0)
        pending.future.set_exception(
            map_error(self.product, msg.status or None, msg.error.code, msg.error.msg, retry_after_s)
        )

    def _fail_pending(self, up_to_generation: int | None, reason: str) -> None:
        for request_id, pending in list(self._pending.items()):
            if up_to_generation is not None and pending.generation > up_to_generation:
                continue
            if not pending.future.done():
                pending.future.set_exception(UnknownOutcome(f"{pending.method}: {reason}", venue=self.name))
            del self._pending[request_id]
