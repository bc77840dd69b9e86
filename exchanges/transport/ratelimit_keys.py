"""Where the shared rate-limit budget (``ratelimit.py``) keeps its counts in Redis, and how a
reader outside the budget — ``runner ls`` — reads its headroom with a blocking client. Kept apart
so that reading pays no import of the budget itself (asyncio Redis, the venue telemetry).

Keys: ``<prefix>:<scope>@<host>:`` then ``ban`` (banned until, ms × 1000 + HTTP status),
``windows`` (a hash: window → ``"<interval_ms> <limit> <counter>"``), ``epoch`` (a token set when
missing, no expiry: another one than a process knew means Redis restarted empty since) and each
window's counter ``<counter>:<window start ms>``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

__all__ = ["DEFAULT_PREFIX", "WINDOWS_REFRESH_S", "ScopeHeadroom", "read_headroom", "windows_key"]

DEFAULT_PREFIX = "tradebus:rl"
WINDOWS_REFRESH_S = 60.0  # a budget rewrites its windows' hash this often (and after Redis came back)


def windows_key(ns: str) -> str:
    return f"{ns}:windows"


@dataclass(frozen=True, slots=True)
class ScopeHeadroom:
    """One scope's shared headroom as Redis counts it now (``runner ls``)."""

    namespace: str  # binance-spot@api.binance.com
    shares: dict[str, float]  # window -> share of its limit left (0..1)
    banned_for_s: float = 0.0

    @property
    def least(self) -> float | None:
        return min(self.shares.values()) if self.shares else None


def read_headroom(
    client: redis.Redis, namespace: str, *, prefix: str = DEFAULT_PREFIX, now_ms: int | None = None
) -> ScopeHeadroom | None:
    """The shared count of one budget (``namespace`` as ``SharedBudget.namespace``) read from
    Redis with a blocking client; None when no process has written its windows yet (or Redis
    restarted since). Redis errors propagate."""
    ns = f"{prefix}:{namespace}"
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    raw: dict[bytes, bytes] = client.hgetall(windows_key(ns))  # type: ignore[assignment]
    if not raw:
        return None
    shares: dict[str, float] = {}
    for name, value in raw.items():
        interval, limit, counter = value.decode().split(" ", 2)
        start = now - now % int(interval)
        used = client.get(f"{counter}:{start}")
        shares[name.decode()] = max(0.0, 1.0 - int(used or 0) / max(1, int(limit)))
    ban = client.get(f"{ns}:ban")
    until = int(ban) // 1000 if ban else 0
    return ScopeHeadroom(namespace, shares, max(0.0, (until - now) / 1000.0))
