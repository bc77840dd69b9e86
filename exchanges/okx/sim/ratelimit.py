"""Request rate limits of the offline OKX venue (reference §4).

Each endpoint belongs to a rule (``OkxSimOptions.limits``: requests per window) counted per
scope key — the caller's IP for public endpoints, the user id for private ones, and also the
instrument where OKX counts per ``instId`` (orders, cancels, order queries). Windows are
clock-aligned (``now // window``). Over the limit the request is refused with ``50011 Too Many
Requests`` (HTTP 429) and nothing is executed. New orders and amends of the account also count in
``sub-account-orders`` (1,000 per 2 s across every instrument): over it ``50061 Sub-account rate
limit exceeded`` (HTTP 200). OKX sends no usage headers, so neither do we.
"""

from __future__ import annotations

from collections.abc import Callable

from .api_errors import RATE_LIMITED, SUB_ACCOUNT_RATE_LIMITED, OkxApiError
from .options import OkxSimOptions

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, options: OkxSimOptions, now_ms: Callable[[], int]) -> None:
        self._opts = options
        self._now_ms = now_ms
        self._counts: dict[tuple[str, str, int], int] = {}
        self.refused = 0
        self.charged = 0

    def charge_new_orders(self, uid: str, count: int) -> None:
        """Count ``count`` new orders or amends of the account; raise 50061 when over."""
        self.charge("sub-account-orders", uid, count, refusal=OkxApiError(*SUB_ACCOUNT_RATE_LIMITED, 200))

    def charge(self, rule: str, scope: str, weight: int = 1, *, refusal: OkxApiError | None = None) -> None:
        """Count ``weight`` requests of ``rule`` for ``scope``; raise 50011 when over."""
        limit = self._opts.limits.get(rule)
        if limit is None:
            return
        count, window_ms = limit
        now = self._now_ms()
        key = (rule, scope, now - now % window_ms)
        used = self._counts.get(key, 0) + weight
        if used > count and self._opts.enforce_rate_limits:
            self.refused += 1
            raise refusal or OkxApiError(*RATE_LIMITED, 429)  # OKX documents no Retry-After: none is sent
        self._counts[key] = used
        self.charged += weight
        if len(self._counts) > 10_000:
            self._forget(now - 60_000)

    def _forget(self, before_ms: int) -> None:
        for key in [k for k in self._counts if k[2] < before_ms]:
            del self._counts[key]
