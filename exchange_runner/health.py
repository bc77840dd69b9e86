"""The runner's HTTP side: ``/metrics``, ``/healthz`` and ``/readyz`` on ``--metrics-port``.

``/readyz`` is 200 only when all four hold, else 503 naming what is not ready:

* ``instruments_loaded`` — the venue listed the configured instruments;
* ``streams_live`` — every venue stream the runner consumes is live (books, user data,
  funding) **and** every WebSocket connection the adapter reported is up (a market-data
  connection that dropped and is reconnecting makes the runner not ready until it is back);
* ``registered`` — the last registration/heartbeat in Redis succeeded.
* ``credentials_ok`` — the venue accepted the API key/secret (else ``credentials_error``
  holds its one-line reason).

The body also carries the runner's ``status``, its ``streams`` and ``ws_connections`` with the
names of those that are ``down``. ``/healthz`` answers while the process's event loop runs.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from strategy_client.telemetry.http import MetricsServer, ReadinessReport

from .metrics import RunnerMetrics

if TYPE_CHECKING:
    from .runner import ExchangeRunner

__all__ = ["runner_readiness", "RunnerHealth"]


def runner_readiness(runner: ExchangeRunner, metrics: RunnerMetrics | None) -> ReadinessReport:
    checks = dict(runner.readiness())
    ws = metrics.ws_connections() if metrics is not None else {}
    down = sorted([name for name, ok in runner.streams.items() if not ok] + [n for n, ok in ws.items() if not ok])
    checks["streams_live"] = checks.get("streams_live", False) and all(ws.values())
    return ReadinessReport(
        checks=checks,
        detail={
            "status": runner.status,
            "streams": dict(runner.streams),
            "ws_connections": ws,
            "down": down,
            "credentials_error": runner.credentials_error,
        },
    )


class RunnerHealth:
    """Owns the runner's :class:`MetricsServer` (start before the venue is touched, stop last)."""

    def __init__(self, runner: ExchangeRunner, metrics: RunnerMetrics, *, host: str, port: int) -> None:
        self.runner = runner
        self.metrics = metrics
        self._started = time.monotonic()
        self.server = MetricsServer(metrics.registry, self.readiness, host=host, port=port, alive=self._alive)

    def readiness(self) -> ReadinessReport:
        return runner_readiness(self.runner, self.metrics)

    def _alive(self) -> dict[str, Any]:
        return {
            "exchange": self.runner.exchange.value,
            "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self._started, 3),
        }

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
