"""The signed-REST side every venue shares: one host's send, and the request loop around it.

:class:`HttpHost` owns one ``httpx.AsyncClient`` and sends exactly the URL, body and headers it
is given (the venue signs before, so what is signed is what is sent). Around every request it:

* times it (``exchanges.telemetry.observe_request``: the latency histogram by venue and path);
* asks the venue's :class:`HostHooks` first (``before``: a rate-limit block still running
  fails fast with ``RateLimited``/``IpBanned`` without touching the network, or waits for a
  window to reset) and hands it every response (``after``: track the rate-limit headers,
  translate the venue's error envelope, block on a 429/418 until ``Retry-After``);
* translates transport failures by what they imply about delivery: nothing sent (connect
  failure, connect or pool timeout) → :class:`~exchanges.errors.TransportError`; possibly
  delivered (read timeout, dropped connection) → :class:`~exchanges.errors.UnknownOutcome`.

It never retries. :class:`RequestLoop` holds the retry policy, the same for every venue:

* a timestamp refusal (:class:`~exchanges.errors.TimestampOutOfWindow`: Binance -1021, Bybit
  10002, OKX 50102 — the request never reached the engine) re-measures the clock and resends
  once, for every signed call, orders included;
* otherwise only calls marked ``retry=True`` (reads and idempotent writes) are retried, with
  equal-jitter exponential backoff, and only for retryable classes (not sent, unknown outcome
  of a read, service unavailable). Order placement and cancel are never retried here: after
  an unknown outcome the adapter reconciles by client id;
* rate limits (429/418 and the venues' own codes) are not retried: the hooks block the host
  or path until ``Retry-After`` passes, and calls meanwhile fail fast.

The loop also keeps the :class:`~exchanges.transport.clock.ServerClock` fresh: measured at
start, again when older than its ``max_age_s`` (a failed refresh keeps the stale offset), and
after a timestamp refusal. ``sleep`` and ``jitter`` are injectable so tests never wait.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypedDict, Unpack

import httpx
from loguru import logger as log

from exchanges.errors import (
    ExchangeError,
    ServiceUnavailable,
    TimestampOutOfWindow,
    TransportError,
    UnknownOutcome,
)
from exchanges.telemetry import observe_request
from exchanges.transport.clock import ServerClock

__all__ = [
    "HostHooks",
    "HttpHost",
    "RequestLoop",
    "RetryOptions",
    "RETRYABLE",
    "retry_after_s",
    "int_header",
    "keep_clock_fresh",
]

RETRYABLE: tuple[type[ExchangeError], ...] = (TransportError, UnknownOutcome, ServiceUnavailable)
"""Error classes a ``retry=True`` call is retried for (see the module doc)."""


def retry_after_s(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (non-negative, finite), else None."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def int_header(value: str | None) -> int | None:
    """An integer header (``X-MBX-USED-WEIGHT-1M``, ``X-Bapi-Limit-Status``...), else None."""
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


class HostHooks(Protocol):
    """What a venue adds to :class:`HttpHost`: its rate-limit state and error translation."""

    async def before(self, method: str, path: str) -> None:
        """Raise (or wait) when ``path`` may not be sent now; called before every request."""
        ...

    def after(self, method: str, path: str, response: httpx.Response) -> bytes:
        """Track the response's rate-limit headers; its body on success, else raise the
        venue's error (blocking the host or path on a rate-limit refusal)."""
        ...


class HttpHost:
    """Sends requests to one REST host through a venue's :class:`HostHooks` (see module doc)."""

    def __init__(
        self,
        venue: str,
        base_url: str,
        hooks: HostHooks,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.hooks = hooks
        self.requests_sent = 0
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, method: str, path: str, *, query: str = "", body: str = "", headers: Mapping[str, str] | None = None
    ) -> bytes:
        """Send ``method path?query`` with ``body``; what the hooks make of the response."""
        with observe_request(self.venue, path, method):
            await self.hooks.before(method, path)
            url = f"{path}?{query}" if query else path
            self.requests_sent += 1
            try:
                response = await self._client.request(
                    method, url, content=body.encode() if body else None, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise TransportError(f"{method} {path} not sent: {exc!r}", venue=self.venue) from exc
            except httpx.TimeoutException as exc:
                raise UnknownOutcome(f"{method} {path} timed out: {exc!r}", venue=self.venue) from exc
            except httpx.TransportError as exc:
                raise UnknownOutcome(f"{method} {path} failed after sending: {exc!r}", venue=self.venue) from exc
            return self.hooks.after(method, path, response)


class RetryOptions(TypedDict, total=False):
    """The knobs of :class:`RequestLoop` a venue's REST client passes through (``sleep`` and
    ``jitter`` are injectable so tests never wait): at most ``max_retries`` resends, backoff
    from ``backoff_base_s`` doubling up to ``backoff_max_s``."""

    max_retries: int
    backoff_base_s: float
    backoff_max_s: float
    sleep: Callable[[float], Awaitable[None]]
    jitter: Callable[[], float]


class RequestLoop:
    """The retry policy and clock upkeep of one venue's REST client (see the module doc)."""

    def __init__(self, venue: str, clock: ServerClock, **options: Unpack[RetryOptions]) -> None:
        self.venue = venue
        self.clock = clock
        self.max_retries = options.get("max_retries", 3)
        self._backoff_base_s = options.get("backoff_base_s", 0.1)
        self._backoff_max_s = options.get("backoff_max_s", 2.0)
        self._sleep = options.get("sleep", asyncio.sleep)
        self._jitter = options.get("jitter", random.random)
        self._clock_lock = asyncio.Lock()

    def backoff_s(self, attempt: int) -> float:
        """Equal-jitter exponential backoff: half fixed, half random, capped."""
        cap = min(self._backoff_max_s, self._backoff_base_s * (2.0**attempt))
        return cap / 2 + self._jitter() * cap / 2

    async def sync_clock(self, server_ms: Callable[[], Awaitable[int]]) -> int:
        """Measure ``offset = server − (t_send + t_recv) / 2`` with one ``server_ms()`` call
        (retried for retryable failures); returns the offset in ms."""
        async with self._clock_lock:
            attempt = 0
            while True:
                t_send = self.clock.local_ms()
                try:
                    server = await server_ms()
                except RETRYABLE:
                    if attempt >= self.max_retries:
                        raise
                    await self._sleep(self.backoff_s(attempt))
                    attempt += 1
                    continue
                t_recv = self.clock.local_ms()
                self.clock.update(server, t_send, t_recv)
                log.debug("{} clock offset {} ms (rtt {} ms)", self.venue, self.clock.offset_ms, t_recv - t_send)
                return self.clock.offset_ms

    async def ensure_clock(self, server_ms: Callable[[], Awaitable[int]]) -> None:
        """Re-measure when the estimate is stale; a failed refresh keeps a measured offset."""
        if not self.clock.needs_refresh:
            return
        if not self.clock.measured:
            await self.sync_clock(server_ms)
            return
        try:
            await self.sync_clock(server_ms)
        except ExchangeError as exc:  # a stale offset is still better than no request
            log.warning("{} clock refresh failed, keeping offset {} ms: {}", self.venue, self.clock.offset_ms, exc)

    async def call(
        self,
        send_once: Callable[[], Awaitable[bytes]],
        *,
        what: str,
        signed: bool,
        retry: bool,
        server_ms: Callable[[], Awaitable[int]],
    ) -> bytes:
        """One logical call: ``send_once()`` (which signs, so a resend is signed afresh) under
        the retry policy of the module doc; a signed call first refreshes a stale clock."""
        attempt = 0
        resynced = False
        while True:
            try:
                if signed:
                    await self.ensure_clock(server_ms)
                return await send_once()
            except TimestampOutOfWindow:
                if not signed or resynced:
                    raise
                resynced = True
                log.info("{} {}: timestamp outside the venue's window, resyncing the clock", self.venue, what)
                self.clock.invalidate()
                await self.sync_clock(server_ms)
            except RETRYABLE:
                if not retry or attempt >= self.max_retries:
                    raise
                await self._sleep(self.backoff_s(attempt))
                attempt += 1


async def keep_clock_fresh(sync: Callable[[], Awaitable[object]], period_s: float, venue: str) -> None:
    """Re-measure the clock every ``period_s`` (real time: a period, not a backoff) so an order
    never waits for a time round trip; a failed measurement is logged and tried next period."""
    while True:
        await asyncio.sleep(period_s)
        try:
            await sync()
        except ExchangeError as exc:
            log.warning("{} clock refresh failed: {}", venue, exc)
