"""Telemetry shared by runners, strategies and the client: traces, logs, metrics, health.

* :mod:`.tracing` — OpenTelemetry from the standard ``OTEL_*`` variables (off, at the cost of
  one check, when not configured), W3C trace context for the wire header, ``client_span`` /
  ``server_span`` / ``child_span``.
* :mod:`.logs` — loguru setup: human or JSON lines, trace ids in records, secret redaction.
* :mod:`.http` — the ``/metrics`` + ``/healthz`` + ``/readyz`` server.
* :mod:`.strategy_metrics` — a strategy process's gauges (edge, state, exposure, PnL).

Importing this package is cheap: OpenTelemetry is imported only when tracing is switched on,
and ``prometheus_client``/``aiohttp`` only when the metrics pieces are first used.
This package imports nothing from ``exchange_runner`` or ``exchanges``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .logs import REDACTED, clear_secrets, redact, register_secret, setup_logging
from .tracing import (
    SpanScope,
    TracingConfigError,
    capture_context,
    child_span,
    client_span,
    current_trace_ids,
    outcome_of,
    server_span,
    set_client_observer,
    setup_tracing,
    shutdown_tracing,
    tracing_enabled,
    tracing_requested,
)

if TYPE_CHECKING:
    from .http import MetricsServer, ReadinessReport
    from .strategy_metrics import StrategyMetrics, serve_strategy_metrics

__all__ = [
    "REDACTED",
    "clear_secrets",
    "redact",
    "register_secret",
    "setup_logging",
    "SpanScope",
    "TracingConfigError",
    "capture_context",
    "child_span",
    "client_span",
    "current_trace_ids",
    "outcome_of",
    "server_span",
    "set_client_observer",
    "setup_tracing",
    "shutdown_tracing",
    "tracing_enabled",
    "tracing_requested",
    "MetricsServer",
    "ReadinessReport",
    "StrategyMetrics",
    "serve_strategy_metrics",
]

_LAZY = {
    "MetricsServer": ".http",
    "ReadinessReport": ".http",
    "StrategyMetrics": ".strategy_metrics",
    "serve_strategy_metrics": ".strategy_metrics",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
