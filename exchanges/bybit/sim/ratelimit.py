"""Bybit rate limits (reference §4).

* **IP**: ``ip_requests_per_5s`` requests per clock-aligned 5 s window across the REST host;
  beyond it the IP is banned for ``ip_ban_s`` and every request gets HTTP 403 (no JSON body,
  as Bybit's gateway).
* **UID, per endpoint**: a rolling one-second window per account and limit key (the path, or
  ``path:category`` where the category has its own limit). Every private reply carries
  ``X-Bapi-Limit`` (cap), ``X-Bapi-Limit-Status`` (remaining) and
  ``X-Bapi-Limit-Reset-Timestamp`` (ms; now when not exceeded); over the limit the reply is
  retCode 10006 "Too many visits!" with the reset time of the window.

With ``enforce_rate_limits=False`` usage is still counted and reported, nothing is refused.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from .api_errors import BybitApiError
from .options import BybitSimOptions

__all__ = ["IpBanned", "RateLimiter", "LimitHeaders", "headers"]

LimitHeaders = dict[str, str]
_IP_WINDOW_MS = 5000
_UID_WINDOW_MS = 1000


class IpBanned(Exception):
    """The IP is over its limit: HTTP 403 until ``until_ms``."""

    def __init__(self, until_ms: int) -> None:
        super().__init__(f"IP banned until {until_ms}")
        self.until_ms = until_ms


class RateLimiter:
    def __init__(self, options: BybitSimOptions, now_ms: Callable[[], int]) -> None:
        self._opts = options
        self._now_ms = now_ms
        self._ip_counts: dict[str, tuple[int, int]] = {}
        self._banned_until: dict[str, int] = {}
        self._uid: dict[tuple[str, str], deque[int]] = {}
        self.refused_ip = 0
        self.refused_uid = 0

    def limit_of(self, key: str) -> int:
        path = key.split(":", 1)[0]
        limits = self._opts.uid_limits
        return limits.get(key) or limits.get(path) or self._opts.default_uid_limit

    def charge_ip(self, ip: str) -> None:
        now = self._now_ms()
        until = self._banned_until.get(ip, 0)
        if until > now:
            self.refused_ip += 1
            raise IpBanned(until)
        window = now - now % _IP_WINDOW_MS
        start, count = self._ip_counts.get(ip, (window, 0))
        if start != window:
            start, count = window, 0
        count += 1
        self._ip_counts[ip] = (start, count)
        if count > self._opts.ip_requests_per_5s and self._opts.enforce_rate_limits:
            self.refused_ip += 1
            until = now + self._opts.ip_ban_s * 1000
            self._banned_until[ip] = until
            raise IpBanned(until)

    def ban(self, ip: str, until_ms: int) -> None:
        self._banned_until[ip] = max(self._banned_until.get(ip, 0), until_ms)

    def charge_uid(self, account: str, key: str) -> LimitHeaders:
        """Count one call; the headers to send; raises 10006 (with the headers) over the limit."""
        now = self._now_ms()
        hits = self._uid.setdefault((account, key), deque())
        while hits and hits[0] <= now - _UID_WINDOW_MS:
            hits.popleft()
        limit = self.limit_of(key)
        if len(hits) >= limit and self._opts.enforce_rate_limits:
            self.refused_uid += 1
            reset = hits[0] + _UID_WINDOW_MS
            raise BybitApiError(10006, "Too many visits!", reset_ms=reset)
        hits.append(now)
        return headers(limit, max(0, limit - len(hits)), now)

    def peek(self, account: str, key: str) -> LimitHeaders:
        """The headers for ``key`` without counting a call."""
        now = self._now_ms()
        hits = self._uid.get((account, key), deque())
        live = sum(1 for t in hits if t > now - _UID_WINDOW_MS)
        limit = self.limit_of(key)
        return headers(limit, max(0, limit - live), now)


def headers(limit: int, remaining: int, reset_ms: int) -> LimitHeaders:
    return {
        "X-Bapi-Limit": str(limit),
        "X-Bapi-Limit-Status": str(remaining),
        "X-Bapi-Limit-Reset-Timestamp": str(reset_ms),
    }
