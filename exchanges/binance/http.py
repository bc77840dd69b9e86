"""One Binance REST host: an ``httpx.AsyncClient``, its rate-limit state and error translation.

:class:`BinanceHost` sends exactly the query and body it is given (signing happens before, in
``rest.py``), so what is signed is what is sent. It:

* tracks ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-ORDER-COUNT-*`` from every response;
* on 429/418 blocks the host until ``Retry-After`` passes: calls in the meantime fail fast with
  :class:`RateLimited`/:class:`IpBanned` without touching the network (without a
  ``Retry-After``, a 429 waits for the next clock-aligned minute and a 418 for two minutes);
* translates transport failures by what they imply about delivery: nothing sent
  (connect failure, pool timeout) → :class:`TransportError`; possibly delivered (read timeout,
  dropped connection) → :class:`UnknownOutcome`; venue errors go through ``map_error``.

It never retries: retry policy belongs to the caller, which knows whether a call is idempotent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import msgspec
from loguru import logger as log

from exchanges.errors import ExchangeError, IpBanned, RateLimited, TransportError, UnknownOutcome
from exchanges.telemetry import observe_request, rate_limit_used

from .errors import Product, map_error
from .rest_schemas import ERROR_DECODER

__all__ = ["HostUsage", "BinanceHost", "BAN_DEFAULT_S"]


BAN_DEFAULT_S = 120.0  # shortest documented IP ban
_ORDER_COUNT_PREFIX = "x-mbx-order-count-"
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


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


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
    ) -> None:
        self.product: Product = product
        self.base_url = base_url.rstrip("/")
        self._monotonic = monotonic
        self._server_ms = server_ms
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
        )
        self._used_weight: int | None = None
        self._order_counts: dict[str, int] = {}
        self._blocked_until = 0.0
        self._banned = False
        self._sent = 0

    def usage(self) -> HostUsage:
        return HostUsage(
            used_weight_1m=self._used_weight,
            order_counts=dict(self._order_counts),
            blocked_for_s=max(0.0, self._blocked_until - self._monotonic()),
            banned=self._banned and self._blocked_until > self._monotonic(),
            requests_sent=self._sent,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _check_block(self, method: str, path: str) -> None:
        remaining = self._blocked_until - self._monotonic()
        if remaining <= 0:
            return
        cls = IpBanned if self._banned else RateLimited
        raise cls(
            f"{method} {path} not sent: host blocked for {remaining:.1f}s after "
            + ("HTTP 418" if self._banned else "HTTP 429"),
            retry_after_s=remaining,
            venue=f"binance-{self.product}",
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
        venue = f"binance-{self.product}"
        weight = _int_header(headers.get(_WEIGHT_HEADER))
        if weight is not None:
            self._used_weight = weight
            rate_limit_used(venue, "weight_1m", weight)
        for name, value in headers.items():
            if name.lower().startswith(_ORDER_COUNT_PREFIX):
                count = _int_header(value)
                if count is not None:
                    interval = name.lower()[len(_ORDER_COUNT_PREFIX) :]
                    self._order_counts[interval] = count
                    rate_limit_used(venue, f"orders_{interval}", count)

    def _error(self, response: httpx.Response) -> ExchangeError:
        code: int | None = None
        msg = ""
        try:
            body = ERROR_DECODER.decode(response.content)
            code, msg = body.code, body.msg
        except (msgspec.DecodeError, msgspec.ValidationError):
            msg = response.text[:200].strip()
        retry_after = _retry_after(response.headers.get("retry-after"))
        if response.status_code in (418, 429):
            retry_after = self._block(response.status_code, retry_after)
        return map_error(self.product, response.status_code, code, msg, retry_after)

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
        with observe_request(f"binance-{self.product}", path, method):
            return await self._send(method, path, query, body, api_key)

    async def _send(self, method: str, path: str, query: str, body: str, api_key: str | None) -> bytes:
        self._check_block(method, path)
        url = f"{path}?{query}" if query else path
        headers: dict[str, str] = dict(_FORM) if body else {}
        if api_key is not None:
            headers["X-MBX-APIKEY"] = api_key
        venue = f"binance-{self.product}"
        self._sent += 1
        try:
            response = await self._client.request(method, url, content=body.encode() if body else None, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransportError(f"{method} {path} not sent: {exc!r}", venue=venue) from exc
        except httpx.TimeoutException as exc:
            raise UnknownOutcome(f"{method} {path} timed out: {exc!r}", venue=venue) from exc
        except httpx.TransportError as exc:
            raise UnknownOutcome(f"{method} {path} failed after sending: {exc!r}", venue=venue) from exc
        self._track(response.headers)
        if 200 <= response.status_code < 300:
            return response.content
        err = self._error(response)
        log.debug("{} {} {} -> {}", venue, method, path, err)
        raise err
