"""The Bybit REST host: its rate-limit state and error translation, as the hooks of a
:class:`~exchanges.transport.http.HttpHost` (which sends, times and classifies delivery failures).

:class:`BybitHttp` sends exactly the query and body it is given (signing happens before, in
``rest.py``), so what is signed is what is sent. It:

* honours the per-endpoint limits Bybit reports on every private reply
  (``X-Bapi-Limit-Status`` remaining, ``X-Bapi-Limit-Reset-Timestamp``): when a path has no
  calls left before its window resets, the next call to it waits for the reset (at most
  ``max_limit_wait_s``, else it fails fast with :class:`RateLimited` without sending);
* after 10006 ("Too many visits!") blocks the path until the reset timestamp; after HTTP 403
  (IP limit: Bybit bans the IP for about 10 minutes) blocks the whole host for ``ip_ban_s``;
* translates envelopes with ``retCode != 0`` through ``map_error``;
* with a shared budget (``exchanges.transport.ratelimit``, installed by the runner; the table in
  ``limits.py``) reserves each call — one request of the IP's 600 per 5 s, one of its per-UID
  key — before it is signed, feeds the budget the ``X-Bapi-Limit*`` headers (cap and used) and a
  10006 (the key spent) or 10018 (the IP's window spent), and turns a 403 into a pause of every
  process of the scope.

It never retries: retry policy belongs to the caller, which knows whether a call is idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import msgspec
from loguru import logger as log

from exchanges.errors import ExchangeError, IpBanned, RateLimited
from exchanges.telemetry import rate_limit_used
from exchanges.transport.http import HttpHost, int_header
from exchanges.transport.ratelimit import SharedBudget, active_budgets, pause_scope

from .errors import VENUE, map_error
from .limits import DEFAULT_UID_LIMIT, IP_WINDOW, bybit_route, bybit_windows, uid_window
from .rest_schemas import HEAD_DECODER

__all__ = ["BybitHttp", "PathUsage"]

_JSON = {"Content-Type": "application/json"}
RATE_CODE = 10006
IP_RATE_CODE = 10018
# the per-UID limit key of the call this task is sending (the reply's X-Bapi-Limit headers are its)
_sending_key: ContextVar[str] = ContextVar("bybit_limit_key", default="")


@dataclass(slots=True)
class PathUsage:
    """The last rate-limit headers of one path: cap, remaining, reset (epoch ms)."""

    limit: int | None = None
    remaining: int | None = None
    reset_ms: int = 0
    blocked_until_ms: int = 0


@dataclass(slots=True)
class _HostBlock:
    until: float = 0.0
    reason: str = ""


@dataclass(slots=True)
class _Counters:
    waited: int = 0
    refused_locally: int = 0
    by_path: dict[str, PathUsage] = field(default_factory=dict)


class BybitHttp:
    """Sends requests to the Bybit REST host and keeps its rate-limit state."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        ip_ban_s: float = 600.0,
        max_limit_wait_s: float = 2.0,
        server_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        account: str = "anonymous",
    ) -> None:
        self._host = HttpHost(VENUE, base_url, self, transport=transport, timeout_s=timeout_s)
        self.base_url = self._host.base_url
        registry = active_budgets.get()
        self.budget: SharedBudget | None = (
            registry.get(
                VENUE, bybit_windows(), account=account, endpoint=urlsplit(str(self.base_url)).netloc, now_ms=server_ms
            )
            if registry is not None
            else None
        )
        self._ip_ban_s = ip_ban_s
        self._max_wait_s = max_limit_wait_s
        self._server_ms = server_ms
        self._monotonic = monotonic
        self._sleep = sleep
        self._block = _HostBlock()
        self.stats = _Counters()

    def usage(self, path: str) -> PathUsage:
        return self.stats.by_path.get(path) or PathUsage()

    @property
    def requests_sent(self) -> int:
        return self._host.requests_sent

    async def aclose(self) -> None:
        await self._host.aclose()

    # -- limits -----------------------------------------------------------------------------

    async def before(self, method: str, path: str) -> None:
        """Fail fast while the host is banned; wait (briefly) for a spent path window to reset."""
        remaining_s = self._block.until - self._monotonic()
        if remaining_s > 0:
            self.stats.refused_locally += 1
            raise IpBanned(
                f"{method} {path} not sent: host blocked for {remaining_s:.0f}s ({self._block.reason})",
                retry_after_s=remaining_s,
                venue=VENUE,
            )
        usage = self.stats.by_path.get(path)
        if usage is None:
            return
        now = self._server_ms()
        reset = max(usage.blocked_until_ms, usage.reset_ms if usage.remaining == 0 else 0)
        wait_s = (reset - now) / 1000
        if wait_s <= 0:
            return
        if wait_s > self._max_wait_s:
            self.stats.refused_locally += 1
            raise RateLimited(
                f"{method} {path} not sent: rate limit resets in {wait_s:.1f}s",
                retry_after_s=wait_s,
                venue=VENUE,
            )
        self.stats.waited += 1
        await self._sleep(wait_s)

    def _track(self, path: str, headers: httpx.Headers) -> PathUsage:
        usage = self.stats.by_path.setdefault(path, PathUsage())
        limit = int_header(headers.get("x-bapi-limit"))
        remaining = int_header(headers.get("x-bapi-limit-status"))
        reset = int_header(headers.get("x-bapi-limit-reset-timestamp"))
        if limit is not None:
            usage.limit = limit
        if remaining is not None:
            usage.remaining = remaining
        if reset is not None:
            usage.reset_ms = reset
        return usage

    async def reserve(self, path: str, params: Mapping[str, object], *, signed: bool) -> None:
        """Take the call's cost from the shared budget (waiting or refusing as it says); called
        before signing, so a wait never makes the signed timestamp stale."""
        budget = self.budget
        if budget is None:
            return
        route = bybit_route(path, params, signed=signed)
        if route.group and budget.window(route.group) is None:
            budget.add_window(uid_window(route.group, DEFAULT_UID_LIMIT))
        await budget.take(route)

    def _reconcile(self, key: str, usage: PathUsage, ret_code: int | None) -> None:
        budget = self.budget
        if budget is None:
            return
        if key and usage.limit is not None:
            budget.learn_limit(key, usage.limit)
            if usage.remaining is not None:
                budget.observe(key, usage.limit - usage.remaining)
        if ret_code == IP_RATE_CODE:
            budget.observe(IP_WINDOW.name, IP_WINDOW.limit)

    # -- sending ----------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: str = "",
        headers: dict[str, str] | None = None,
        key: str = "",
    ) -> bytes:
        """Send ``method path?query`` (``body`` as JSON); the reply body when ``retCode`` is 0.
        ``key``: the call's per-UID limit key (``limits.limit_key``), for the reply's headers."""
        hdrs = dict(headers or {})
        if body:
            hdrs.update(_JSON)
        _sending_key.set(key)
        try:
            return await self._host.send(method, path, query=query, body=body, headers=hdrs)
        except IpBanned as exc:  # HTTP 403: the IP is banned for every process of the scope
            await pause_scope(self.budget, exc, (403,))
            raise

    def after(self, method: str, path: str, response: httpx.Response) -> bytes:
        """Track the limit headers; the body when ``retCode`` is 0, else the mapped error."""
        usage = self._track(path, response.headers)
        if usage.limit is not None and usage.remaining is not None:
            rate_limit_used(VENUE, path, usage.limit - usage.remaining)
        key = _sending_key.get()
        if response.status_code == 403:
            self._block.until = self._monotonic() + self._ip_ban_s
            self._block.reason = "HTTP 403: IP rate limit"
            raise map_error(403, None, response.text[:200].strip(), retry_after_s=self._ip_ban_s)
        try:
            head = HEAD_DECODER.decode(response.content)
        except (msgspec.DecodeError, msgspec.ValidationError):
            err: ExchangeError = map_error(response.status_code, None, response.text[:200].strip())
            log.debug("bybit {} {} -> HTTP {} {}", method, path, response.status_code, err)
            raise err from None
        self._reconcile(key, usage, head.retCode)
        if head.retCode == 0 and response.status_code == 200:
            return response.content
        retry_after: float | None = None
        if head.retCode == RATE_CODE:
            usage.blocked_until_ms = max(usage.reset_ms, self._server_ms() + 1000)
            retry_after = max(0.0, (usage.blocked_until_ms - self._server_ms()) / 1000)
        err = map_error(response.status_code, head.retCode or None, head.retMsg, retry_after_s=retry_after)
        log.debug("bybit {} {} -> {}", method, path, err)
        raise err
