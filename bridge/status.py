"""What a bridge reports about itself (Redis ``tradebus:bridge:<name>``, ``tradebus-bridge status``,
the Prometheus metrics)."""

from __future__ import annotations

import msgspec

from .health import SinkStatus
from .lane import LaneStatus

__all__ = ["BridgeStatus", "CacheStatus"]


class CacheStatus(msgspec.Struct, kw_only=True):
    up: bool
    writes: int
    errors: int
    last_error: str


class BridgeStatus(msgspec.Struct, kw_only=True):
    name: str
    pid: int
    host: str
    started_ms: int
    ts_ms: int
    checkpoint: str
    sinks: list[SinkStatus]
    lanes: list[LaneStatus]
    cache: CacheStatus | None
    latency_us: dict[str, dict[str, float]]  # sink → p50/p90/p99/max of bridge receive → broker ack
    subscription: dict[str, int]
