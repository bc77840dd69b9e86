"""The HEADROOM column of ``runner ls``: each runner's rate-limit budgets as Redis counts them now
(``exchanges.transport.ratelimit.read_headroom``), one short cell per runner."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from exchanges.transport.ratelimit_keys import ScopeHeadroom, read_headroom

__all__ = ["headroom_cell", "scope_label"]


def scope_label(namespace: str, exchange: str) -> str:
    """``binance-spot@api.binance.com`` → ``spot``; ``bybit@api.bybit.com`` → ``bybit``."""
    scope = namespace.split("@", 1)[0]
    return scope.removeprefix(f"{exchange}-") or scope


def _one(label: str, seen: ScopeHeadroom | None) -> str:
    if seen is None:
        return f"{label} -"  # nothing counted in this Redis yet (or it restarted since)
    if seen.banned_for_s > 0:
        return f"{label} banned {seen.banned_for_s:.0f}s"
    least = seen.least
    return f"{label} {least:.0%}" if least is not None else f"{label} -"


def headroom_cell(client: redis.Redis, scopes: Sequence[str], exchange: str, *, now_ms: int | None = None) -> str:
    """The least share left of any window, per scope (``spot 62% futures 100%``); ``-`` for a
    runner without a shared budget. Redis errors propagate."""
    if not scopes:
        return "-"
    return " ".join(_one(scope_label(ns, exchange), read_headroom(client, ns, now_ms=now_ms)) for ns in scopes)
