"""Prometheus metrics of a bridge (``--metrics-port``): read from the last status snapshot the
bridge's status loop took (once a second, on the event loop), so a scrape never touches the
live lanes from the HTTP server's thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .status import BridgeStatus

__all__ = ["BridgeCollector", "registry_for"]


class BridgeCollector(Collector):
    def __init__(self, snapshot: Callable[[], BridgeStatus | None]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        st = self.snapshot()
        if st is None:
            return
        yield from self._sinks(st)
        yield from self._lanes(st)
        latency = GaugeMetricFamily(
            "tradebus_bridge_added_latency_seconds",
            "bridge receive → broker acknowledgement of the last 100 000 live events",
            labels=["sink", "quantile"],
        )
        for sink, summary in st.latency_us.items():
            for q in ("p50", "p90", "p99", "max"):
                if q in summary:
                    latency.add_metric([sink, q], summary[q] / 1e6)
        yield latency

    def _sinks(self, st: BridgeStatus) -> Iterator[Metric]:
        up = GaugeMetricFamily("tradebus_bridge_sink_up", "1 while the broker is connected", labels=["sink"])
        outages = CounterMetricFamily("tradebus_bridge_sink_outages", "outages of the sink", labels=["sink"])
        published = CounterMetricFamily(
            "tradebus_bridge_published", "messages the broker acknowledged", labels=["sink"]
        )
        duplicates = CounterMetricFamily(
            "tradebus_bridge_duplicates", "messages JetStream reported as already stored", labels=["sink"]
        )
        unroutable = CounterMetricFamily(
            "tradebus_bridge_unroutable", "messages RabbitMQ confirmed but routed to no queue", labels=["sink"]
        )
        for s in st.sinks:
            up.add_metric([s.name], 1.0 if s.up else 0.0)
            outages.add_metric([s.name], s.outages)
            published.add_metric([s.name], s.published)
            duplicates.add_metric([s.name], s.duplicates)
            unroutable.add_metric([s.name], s.unroutable)
        yield from (up, outages, published, duplicates, unroutable)

    def _lanes(self, st: BridgeStatus) -> Iterator[Metric]:
        labels = ["runner", "sink"]
        acked = GaugeMetricFamily(
            "tradebus_bridge_acked_jseq", "journal sequence acknowledged by the sink", labels=labels
        )
        lag = GaugeMetricFamily("tradebus_bridge_lag", "journaled events not yet acknowledged", labels=labels)
        queued = GaugeMetricFamily("tradebus_bridge_queued", "events in the lane's queue", labels=labels)
        replayed = CounterMetricFamily("tradebus_bridge_replayed", "events published from the journal", labels=labels)
        conflated = CounterMetricFamily(
            "tradebus_bridge_conflated", "market-data events skipped by newest-only delivery", labels=labels
        )
        for lane in st.lanes:
            key = [lane.runner, lane.sink]
            acked.add_metric(key, lane.acked_jseq)
            lag.add_metric(key, lane.lag)
            queued.add_metric(key, lane.queued)
            replayed.add_metric(key, lane.replayed)
            conflated.add_metric(key, lane.conflated)
        yield from (acked, lag, queued, replayed, conflated)


def registry_for(snapshot: Callable[[], BridgeStatus | None]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BridgeCollector(snapshot))
    return registry
