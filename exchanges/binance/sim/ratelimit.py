"""Binance rate limits: clock-aligned buckets, usage headers, 429 and 418 bans (reference §4).

Request weight is counted per client IP (REST and WS-API share it); orders per account.
A request over the weight limit gets 429 (-1003) with ``Retry-After`` until the bucket
resets; ``ban_after_violations`` such refusals in one window ban the IP (418, ``Retry-After``
until lifted), the ban doubling for repeat offenders up to 3 days. With
``enforce_rate_limits=False`` usage is still counted and reported but nothing is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import msgspec

from .api_errors import BinanceApiError, Product
from .options import BinanceSimOptions

__all__ = ["Bucket", "RateLimitInfo", "RateLimiter"]

_THREE_DAYS_S = 3 * 86_400


class RateLimitInfo(msgspec.Struct, kw_only=True):
    """One entry of a WS-API reply's ``rateLimits``."""

    rateLimitType: str
    interval: str
    intervalNum: int
    limit: int
    count: int


class Bucket:
    """A counter per key that resets at clock-aligned window boundaries (1m resets at :00)."""

    def __init__(self, kind: str, interval: str, interval_num: int, interval_ms: int, limit: int) -> None:
        self.kind = kind
        self.interval = interval
        self.interval_num = interval_num
        self.interval_ms = interval_ms
        self.limit = limit
        self._counts: dict[str, tuple[int, int]] = {}

    def _window(self, now_ms: int) -> int:
        return now_ms - now_ms % self.interval_ms

    def add(self, key: str, n: int, now_ms: int) -> int:
        start = self._window(now_ms)
        prev_start, count = self._counts.get(key, (start, 0))
        if prev_start != start:
            count = 0
        count += n
        self._counts[key] = (start, count)
        return count

    def count(self, key: str, now_ms: int) -> int:
        start, count = self._counts.get(key, (0, 0))
        return count if start == self._window(now_ms) else 0

    def seconds_to_reset(self, now_ms: int) -> int:
        return max(1, math.ceil((self._window(now_ms) + self.interval_ms - now_ms) / 1000))

    def header_suffix(self) -> str:
        unit = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}[self.interval]
        return f"{self.interval_num}{unit}"

    def info(self, key: str, now_ms: int) -> RateLimitInfo:
        return RateLimitInfo(
            rateLimitType=self.kind,
            interval=self.interval,
            intervalNum=self.interval_num,
            limit=self.limit,
            count=self.count(key, now_ms),
        )


def _weight_bucket(options: BinanceSimOptions, limit: int) -> Bucket:
    seconds = options.weight_window_s
    if seconds % 60 == 0:
        return Bucket("REQUEST_WEIGHT", "MINUTE", seconds // 60, seconds * 1000, limit)
    return Bucket("REQUEST_WEIGHT", "SECOND", seconds, seconds * 1000, limit)


class RateLimiter:
    """Weight, order and funding-info buckets of one product, with bans."""

    def __init__(self, product: Product, options: BinanceSimOptions, now_ms: Callable[[], int]) -> None:
        self.product = product
        self.enforce = options.enforce_rate_limits
        self._now_ms = now_ms
        self._ban_after = options.ban_after_violations
        self._ban_seconds = options.ban_seconds
        if product == "spot":
            self.weight = _weight_bucket(options, options.spot_weight_per_min)
            self.orders = [
                Bucket("ORDERS", "SECOND", 10, 10_000, options.spot_orders_per_10s),
                Bucket("ORDERS", "DAY", 1, 86_400_000, options.spot_orders_per_day),
            ]
        else:
            self.weight = _weight_bucket(options, options.futures_weight_per_min)
            self.orders = [
                Bucket("ORDERS", "SECOND", 10, 10_000, options.futures_orders_per_10s),
                Bucket("ORDERS", "MINUTE", 1, 60_000, options.futures_orders_per_min),
            ]
        self.funding = Bucket("REQUEST_WEIGHT", "MINUTE", 5, 300_000, options.funding_info_per_5min)
        self._violations = Bucket("VIOLATIONS", "MINUTE", 1, 60_000, 0)
        self._banned_until: dict[str, int] = {}
        self._ban_count: dict[str, int] = {}
        self.refused = 0

    def now_ms(self) -> int:
        return self._now_ms()

    # -- checks -----------------------------------------------------------------------------

    def check_ban(self, ip: str) -> None:
        until = self._banned_until.get(ip)
        if until is None:
            return
        now = self._now_ms()
        if now >= until:
            del self._banned_until[ip]
            return
        self.refused += 1
        raise self.ban_error(until, now)

    def ban_error(self, until_ms: int, now_ms: int) -> BinanceApiError:
        if self.product == "spot":
            msg = (
                f"Way too much request weight used; IP banned until {until_ms}. "
                "Please use WebSocket Streams for live updates to avoid bans."
            )
        else:
            msg = (
                f"Way too many requests; IP banned until {until_ms}. "
                "Please use the websocket for live updates to avoid bans."
            )
        return BinanceApiError(
            -1003,
            msg,
            418,
            retry_after_s=max(1, math.ceil((until_ms - now_ms) / 1000)),
            retry_after_ms=until_ms,
        )

    def weight_error(self, now_ms: int) -> BinanceApiError:
        if self.product == "spot":
            msg = (
                f"Too much request weight used; current limit is {self.weight.limit} request weight per "
                f"{self.weight.interval_num} {self.weight.interval}. Please use WebSocket Streams for live "
                "updates to avoid polling the API."
            )
        else:
            per = "minute" if self.weight.interval_ms == 60_000 else f"{self.weight.interval_ms // 1000} seconds"
            msg = (
                f"Too many requests; current limit is {self.weight.limit} requests per {per}. "
                "Please use the websocket for live updates to avoid polling the API."
            )
        retry = self.weight.seconds_to_reset(now_ms)
        return BinanceApiError(-1003, msg, 429, retry_after_s=retry, retry_after_ms=now_ms + retry * 1000)

    def charge_weight(self, ip: str, weight: int) -> None:
        now = self._now_ms()
        self.check_ban(ip)
        used = self.weight.add(ip, weight, now)
        if used <= self.weight.limit or not self.enforce:
            return
        self.refused += 1
        violations = self._violations.add(ip, 1, now)
        if violations >= self._ban_after:
            bans = self._ban_count.get(ip, 0)
            self._ban_count[ip] = bans + 1
            seconds = min(self._ban_seconds * (2**bans), _THREE_DAYS_S)
            until = now + seconds * 1000
            self._banned_until[ip] = until
            raise self.ban_error(until, now)
        raise self.weight_error(now)

    def charge_funding_info(self, ip: str) -> None:
        now = self._now_ms()
        used = self.funding.add(ip, 1, now)
        if used > self.funding.limit and self.enforce:
            self.refused += 1
            retry = self.funding.seconds_to_reset(now)
            raise BinanceApiError(
                -1003,
                f"Too many requests; current limit is {self.funding.limit} requests per 5 minutes.",
                429,
                retry_after_s=retry,
                retry_after_ms=now + retry * 1000,
            )

    def charge_order(self, account: str) -> None:
        now = self._now_ms()
        for bucket in self.orders:
            used = bucket.add(account, 1, now)
            if used > bucket.limit and self.enforce:
                self.refused += 1
                retry = bucket.seconds_to_reset(now)
                raise BinanceApiError(
                    -1015,
                    f"Too many new orders; current limit is {bucket.limit} orders per "
                    f"{bucket.interval_num} {bucket.interval}.",
                    429,
                    retry_after_s=retry,
                    retry_after_ms=now + retry * 1000,
                )

    # -- reporting --------------------------------------------------------------------------

    def headers(self, ip: str, account: str | None) -> dict[str, str]:
        now = self._now_ms()
        used = str(self.weight.count(ip, now))
        headers = {f"X-MBX-USED-WEIGHT-{self.weight.header_suffix()}": used, "X-MBX-USED-WEIGHT": used}
        if account is not None:
            for bucket in self.orders:
                headers[f"X-MBX-ORDER-COUNT-{bucket.header_suffix()}"] = str(bucket.count(account, now))
        return headers

    def ws_rate_limits(self, ip: str, account: str | None) -> list[RateLimitInfo]:
        now = self._now_ms()
        infos = [self.weight.info(ip, now)]
        if account is not None:
            infos = [b.info(account, now) for b in self.orders] + infos
        return infos
