"""Who is asking: API keys (``X-API-Key``) and cookie sessions, roles, per-key rate limits.

* A key is checked against its stored hash (:meth:`GatewayStore.verify_key`); a verified key is
  remembered for ``KEY_CACHE_S`` so a burst of requests costs one database read — a revoked key
  loses access within that time.
* A session (``POST /api/v1/session``) is a random 256-bit token in an HttpOnly, SameSite=Strict
  cookie, mapped in memory to the key that opened it (a gateway restart ends every session).
* Rate limit: a token bucket per key id (``rate`` tokens/s, ``burst`` deep).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from .models import Role

__all__ = ["Principal", "TokenBucket", "RateLimiter", "Sessions", "KEY_CACHE_S", "SESSION_TTL_S", "COOKIE"]

KEY_CACHE_S = 5.0
SESSION_TTL_S = 12 * 3600.0
COOKIE = "tradebus_session"
MAX_SESSIONS = 10_000
MAX_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: Role
    label: str
    via: str  # "key" | "session"


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> float:
        """0.0 when a token was taken, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per key id. Bounded: past ``MAX_BUCKETS`` keys the fullest buckets (idle keys)
    are forgotten first — a forgotten key starts with a full bucket, which is what an idle key had."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self.limited = 0

    def check(self, key_id: str) -> float:
        now = time.monotonic()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_idle(now)
            bucket = self._buckets[key_id] = TokenBucket(self.rate, self.burst, self.burst, now)
        wait = bucket.take(now)
        if wait:
            self.limited += 1
        return wait

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, b in self._buckets.items() if b.tokens + (now - b.stamp) * b.rate >= b.burst]
        for k in idle or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[k]


class Sessions:
    """Session token → (principal, expiry), in memory, bounded (the oldest session goes first)."""

    def __init__(self, ttl_s: float = SESSION_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._by_token: dict[str, tuple[Principal, float]] = {}

    def open(self, principal: Principal) -> tuple[str, float]:
        if len(self._by_token) >= MAX_SESSIONS:
            del self._by_token[next(iter(self._by_token))]
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.ttl_s
        self._by_token[token] = (Principal(principal.key_id, principal.role, principal.label, "session"), expires)
        return token, expires

    def get(self, token: str) -> Principal | None:
        found = self._by_token.get(token)
        if found is None:
            return None
        principal, expires = found
        if time.time() >= expires:
            del self._by_token[token]
            return None
        return principal

    def expires(self, token: str) -> float:
        """When the session ends (epoch seconds; 0 when there is none)."""
        found = self._by_token.get(token)
        return found[1] if found is not None else 0.0

    def close(self, token: str) -> None:
        self._by_token.pop(token, None)

    def drop_key(self, key_id: str) -> None:
        for token in [t for t, (p, _) in self._by_token.items() if p.key_id == key_id]:
            del self._by_token[token]
