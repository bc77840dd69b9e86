"""One Binance REST host: its rate-limit state and error translation, as the hooks of a
:class:`~exchanges.transport.http.HttpHost` (which sends, times and classifies delivery failures).

:class:`BinanceHost` sends exactly the query and body it is given (signing happens before, in
``rest.py``), so what is signed is what is sent. It:

* tracks ``X-MBX-USED-WEIGHT-*`` and ``X-MBX-ORDER-COUNT-*`` from every response;
* on 429/418 blocks the host until ``Retry-After`` passes: calls in the meantime fail fast with
  :class:`RateLimited`/:class:`IpBanned` without touching the network (without a
  ``Retry-After``, a 429 waits for the next clock-aligned minute and a 418 for two minutes);
* translates venue errors through ``map_error``;
* with a shared budget (``exchanges.transport.ratelimit``, installed by the runner) reserves each
  request's weight and order count before sending, feeds it the usage headers, and turns a
  429/418 into a ban every process of the scope observes.

It never retries: retry policy belongs to the caller, which knows whether a call is idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import msgspec
from loguru import logger as log

from exchanges.errors import ExchangeError, IpBanned, RateLimited
from exchanges.telemetry import rate_limit_used
from exchanges.transport.http import HttpHost, int_header, retry_after_s
from exchanges.transport.ratelimit import BINANCE_DEFAULT_WINDOWS, SharedBudget, Window, active_budgets, pause_scope

from .errors import Product, map_error
from .rest_schemas import ERROR_DECODER
from .weights import request_cost

__all__ = ["HostUsage", "BinanceHost", "BAN_DEFAULT_S"]


BAN_DEFAULT_S = 120.0  # shortest documented IP ban
_ORDER_COUNT_PREFIX = "x-mbx-order-count-"
_WEIGHT_PREFIX = "x-mbx-used-weight-"  # one per REQUEST_WEIGHT window: -1m (Binance's), -10s ...
_WEIGHT_HEADER = "x-mbx-used-weight-1m"
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True, slots=True)
class HostUsage:
    """Rate-limit state of one host as last reported by the venue.

    ``order_counts`` is keyed by interval in lower case (``"10s"``, ``"1m"``, ``"1d"``).
    ``blocked_for_s`` > 0 while a 429/418 ``Retry-After`` is running.
    """

    used_weight_1m: int | None = None
    order_counts: dict[str, int] = field(default_factory=dict)
    blocked_for_s: float = 0.0
    banned: bool = False
    requests_sent: int = 0


class BinanceHost:
    """Sends requests to one Binance host and keeps its rate-limit state."""

    def __init__(
        self,
        product: Product,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        server_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        account: str = "default",
    ) -> None:
        self.product: Product = product
        self._venue = f"binance-{product}"
        self._monotonic = monotonic
        self._server_ms = server_ms
        self._host = HttpHost(self._venue, base_url, self, transport=transport, timeout_s=timeout_s)
        self.base_url = self._host.base_url
        self._used_weight: int | None = None
        self._order_counts: dict[str, int] = {}
        self._blocked_until = 0.0
        self._banned = False
        registry = active_budgets.get()
        self.budget: SharedBudget | None = (
            registry.get(
                self._venue,
                BINANCE_DEFAULT_WINDOWS[product],
                account=account,
                endpoint=urlsplit(str(self.base_url)).netloc,
                now_ms=server_ms,
            )
            if registry is not None
            else None
        )

    def use_windows(self, windows: list[Window]) -> None:
        """The venue's own limits (its exchangeInfo ``rateLimits``) for the shared budget."""
        if self.budget is not None and windows:
            self.budget.set_windows(windows)

    def usage(self) -> HostUsage:
        return HostUsage(
            used_weight_1m=self._used_weight,
            order_counts=dict(self._order_counts),
            blocked_for_s=max(0.0, self._blocked_until - self._monotonic()),
            banned=self._banned and self._blocked_until > self._monotonic(),
            requests_sent=self._host.requests_sent,
        )

    async def aclose(self) -> None:
        await self._host.aclose()

    async def before(self, method: str, path: str) -> None:
        """Fail fast while a 429/418 ``Retry-After`` runs (nothing is sent)."""
        remaining = self._blocked_until - self._monotonic()
        if remaining <= 0:
            return
        cls = IpBanned if self._banned else RateLimited
        raise cls(
            f"{method} {path} not sent: host blocked for {remaining:.1f}s after "
            + ("HTTP 418" if self._banned else "HTTP 429"),
            retry_after_s=remaining,
            venue=self._venue,
        )

    def _block(self, status: int, retry_after_s: float | None) -> float:
        if retry_after_s is None:
            # a ban lasts the documented minimum; weight buckets are clock-aligned (reset at :00)
            retry_after_s = BAN_DEFAULT_S if status == 418 else max(1.0, 60.0 - (self._server_ms() % 60_000) / 1000.0)
        now = self._monotonic()
        still_banned = self._banned and self._blocked_until > now
        self._blocked_until = max(self._blocked_until, now + retry_after_s)
        self._banned = status == 418 or still_banned
        return retry_after_s

    def _track(self, headers: httpx.Headers) -> None:
        venue = self._venue
        weight = int_header(headers.get(_WEIGHT_HEADER))
        if weight is not None:
            self._used_weight = weight
        for name, value in headers.items():
            lower = name.lower()
            if lower.startswith(_ORDER_COUNT_PREFIX):
                prefix, kind = _ORDER_COUNT_PREFIX, "orders"
            elif lower.startswith(_WEIGHT_PREFIX):
                prefix, kind = _WEIGHT_PREFIX, "weight"
            else:
                continue
            count = int_header(value)
            if count is None:
                continue
            interval = lower[len(prefix) :]
            if kind == "orders":
                self._order_counts[interval] = count
            rate_limit_used(venue, f"{kind}_{interval}", count)
            if self.budget is not None:
                self.budget.observe(f"{kind}_{interval}", count)

    def _error(self, response: httpx.Response) -> ExchangeError:
        code: int | None = None
        msg = ""
        try:
            body = ERROR_DECODER.decode(response.content)
            code, msg = body.code, body.msg
        except (msgspec.DecodeError, msgspec.ValidationError):
            msg = response.text[:200].strip()
        retry_after = retry_after_s(response.headers.get("retry-after"))
        if response.status_code in (418, 429):
            retry_after = self._block(response.status_code, retry_after)
        return map_error(self.product, response.status_code, code, msg, retry_after)

    async def reserve(self, method: str, path: str, params: str) -> None:
        """Take the request's cost from the shared budget (waiting or refusing as it says);
        called before signing, so a wait never makes the signed timestamp stale."""
        if self.budget is not None:
            cost = request_cost(self.product, method, path, params)
            await self.budget.acquire(cost.weight, order=cost.order, urgent=cost.urgent, stream_key=cost.stream_key)

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: str = "",
        api_key: str | None = None,
    ) -> bytes:
        """Send ``method path?query`` with ``body`` as a form; the response body on 2xx."""
        headers: dict[str, str] = dict(_FORM) if body else {}
        if api_key is not None:
            headers["X-MBX-APIKEY"] = api_key
        try:
            return await self._host.send(method, path, query=query, body=body, headers=headers)
        except RateLimited as exc:  # IpBanned included: every process of the scope stops
            await pause_scope(self.budget, exc)
            raise

    def after(self, method: str, path: str, response: httpx.Response) -> bytes:
        """Track the usage headers; the body on 2xx, else the mapped error (blocking on 429/418)."""
        self._track(response.headers)
        if 200 <= response.status_code < 300:
            return response.content
        err = self._error(response)
        log.debug("{} {} {} -> {}", self._venue, method, path, err)
        raise err
