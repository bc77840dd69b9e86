"""The gate's counters as Prometheus metric families, read at scrape time (nothing on the order path).

The runner's collector (``exchange_runner/metrics.py`` ``RunnerCollector.collect``) adds one line::

    yield from risk_metric_families(r.risk)

Families (labels are bounded: limit names and states are fixed enums):

* ``tradebus_risk_checks_total`` — orders checked; ``tradebus_risk_passed_total`` — let through;
* ``tradebus_risk_refused_total{limit}`` — refused, by the limit that refused;
* ``tradebus_risk_state{state}`` — 1 for the current trading state;
* ``tradebus_risk_day_realized_pnl`` — today's realised PnL (quote currency);
* ``tradebus_risk_events_dropped_total`` — refusal events dropped from a full outbox.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from strategy_client.model import TradingState

from .gate import RiskGate

__all__ = ["risk_metric_families"]


def risk_metric_families(gate: RiskGate) -> Iterator[Metric]:
    checks = CounterMetricFamily("tradebus_risk_checks", "Orders checked by the pre-trade risk gate")
    checks.add_metric([], gate.checked)
    yield checks
    passed = CounterMetricFamily("tradebus_risk_passed", "Orders the risk gate let through")
    passed.add_metric([], gate.passed)
    yield passed
    refused = CounterMetricFamily("tradebus_risk_refused", "Orders the risk gate refused, by limit", labels=["limit"])
    for name, count in gate.refused.items():
        refused.add_metric([name.value], count)
    yield refused
    state = GaugeMetricFamily("tradebus_risk_state", "1 for the risk gate's trading state", labels=["state"])
    for s in TradingState:
        state.add_metric([s.value], 1 if gate.state is s else 0)
    yield state
    pnl = GaugeMetricFamily("tradebus_risk_day_realized_pnl", "Realised PnL of the current trading day (quote)")
    pnl.add_metric([], float(gate.day_realized))
    yield pnl
    dropped = CounterMetricFamily("tradebus_risk_events_dropped", "Refusal events dropped from the gate's full outbox")
    dropped.add_metric([], gate.events_dropped)
    yield dropped
