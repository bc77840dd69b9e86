"""Prometheus metrics of a strategy process, ready to wire: edge, state, exposure, PnL.

::

    metrics = StrategyMetrics("spotperp", mode="paper")
    metrics.attach_client()                       # CoreApi latency/errors of this process
    async with serve_strategy_metrics(metrics, port=9301):   # /metrics /healthz /readyz
        metrics.set_ready("runners", True)
        metrics.set_edge("BTCUSDT", Decimal("12.5"))           # bps
        metrics.set_state("BTCUSDT", "open")
        metrics.set_exposure("binance:perp:BTCUSDT", Decimal("-6425.1"))
        metrics.set_pnl(realized=..., unrealized=..., fees=..., funding=...)

Labels stay bounded: ``pair`` is a configured pair name, ``instrument`` a configured
instrument key, ``state`` one of the strategy's states, ``component`` a PnL component, ``method``
a CoreApi method. Never an order id. Every metric lives in this object's own registry, so
several strategies (or tests) in one process do not collide.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from .http import MetricsServer, ReadinessReport
from .tracing import set_client_observer

__all__ = ["StrategyMetrics", "serve_strategy_metrics", "LATENCY_BUCKETS"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PNL_COMPONENTS = ("realized", "unrealized", "fees", "funding", "total")

# no ``*_created`` series: they double the exposition and no dashboard uses them (process-wide)
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated


def _f(value: Decimal | float | int) -> float:
    return float(value)


class StrategyMetrics:
    def __init__(self, strategy: str, *, mode: str = "live", registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.strategy = strategy
        info = Gauge(
            "tradebus_strategy_info", "The strategy this process runs (always 1)", ["strategy", "mode"], registry=r
        )
        info.labels(strategy, mode).set(1)
        self.edge = Gauge("tradebus_strategy_edge_bps", "Current edge of a pair in basis points", ["pair"], registry=r)
        self.state = Gauge(
            "tradebus_strategy_state", "1 for the pair's current state, 0 otherwise", ["pair", "state"], registry=r
        )
        self.exposure = Gauge(
            "tradebus_strategy_exposure_quote",
            "Signed exposure per instrument in quote currency",
            ["instrument"],
            registry=r,
        )
        self.pnl = Gauge("tradebus_strategy_pnl_quote", "PnL by component in quote currency", ["component"], registry=r)
        self.feed_age = Gauge(
            "tradebus_strategy_feed_age_seconds",
            "Age of the newest book the strategy holds per leg (no decision past oracle.max_book_age_ms)",
            ["instrument"],
            registry=r,
        )
        self.actions = Counter(
            "tradebus_strategy_actions", "Decisions taken (open, close, rebalance, ...)", ["pair", "action"], registry=r
        )
        self.client_latency = Histogram(
            "tradebus_client_request_duration_seconds",
            "CoreApi calls from this process: time to reply, by method and outcome",
            ["method", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.client_errors = Counter(
            "tradebus_client_request_errors",
            "CoreApi calls that failed, by method and error",
            ["method", "outcome"],
            registry=r,
        )
        self._states: dict[str, str] = {}
        self.ready_checks: dict[str, bool] = {"started": False}

    # -- values ------------------------------------------------------------------------------
    def set_edge(self, pair: str, bps: Decimal | float) -> None:
        self.edge.labels(pair).set(_f(bps))

    def set_state(self, pair: str, state: str) -> None:
        prev = self._states.get(pair)
        if prev == state:
            return
        if prev is not None:
            self.state.labels(pair, prev).set(0)
        self.state.labels(pair, state).set(1)
        self._states[pair] = state

    def set_exposure(self, instrument: str, quote_value: Decimal | float) -> None:
        self.exposure.labels(instrument).set(_f(quote_value))

    def set_feed_age(self, instrument: str, seconds: float) -> None:
        self.feed_age.labels(instrument).set(seconds)

    def set_pnl(
        self,
        *,
        realized: Decimal | float | None = None,
        unrealized: Decimal | float | None = None,
        fees: Decimal | float | None = None,
        funding: Decimal | float | None = None,
        total: Decimal | float | None = None,
    ) -> None:
        """Set the components given; ``total`` defaults to the sum of the four when all are known."""
        values = {"realized": realized, "unrealized": unrealized, "fees": fees, "funding": funding}
        for name, value in values.items():
            if value is not None:
                self.pnl.labels(name).set(_f(value))
        if total is None and all(v is not None for v in values.values()):
            total = sum((Decimal(str(v)) for v in values.values() if v is not None), Decimal(0))
        if total is not None:
            self.pnl.labels("total").set(_f(total))

    def count_action(self, pair: str, action: str) -> None:
        self.actions.labels(pair, action).inc()

    # -- readiness ---------------------------------------------------------------------------
    def set_ready(self, check: str, ok: bool) -> None:
        """A readiness check for ``/readyz`` (``started`` exists from the start, false)."""
        self.ready_checks[check] = ok

    def readiness(self) -> ReadinessReport:
        return ReadinessReport(checks=dict(self.ready_checks), detail={"strategy": self.strategy})

    # -- CoreApi client ----------------------------------------------------------------------
    def observe_client(self, method: str, outcome: str, seconds: float) -> None:
        self.client_latency.labels(method, outcome).observe(seconds)
        if outcome != "ok":
            self.client_errors.labels(method, outcome).inc()

    def attach_client(self) -> None:
        """Record every ``client_span`` of this process (one observer per process)."""
        set_client_observer(self.observe_client)

    def detach_client(self) -> None:
        set_client_observer(None)


@asynccontextmanager
async def serve_strategy_metrics(
    metrics: StrategyMetrics, port: int, *, host: str = "127.0.0.1"
) -> AsyncIterator[MetricsServer | None]:
    """Serve ``/metrics``, ``/healthz``, ``/readyz`` for ``metrics`` on ``host:port``; port 0 = off."""
    if not port:
        yield None
        return
    server = MetricsServer(metrics.registry, metrics.readiness, host=host, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
