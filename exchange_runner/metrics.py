"""The runner's Prometheus metrics, in a registry of its own (several runners per process in tests).

Two kinds, chosen by cost on the hot path:

* **Read at scrape time** (:class:`RunnerCollector`): everything the runner already counts in
  plain attributes — queue depths/capacities/drops (``queue_stats()``), messages in per venue
  stream, events published per topic, commands and bad frames, registration, readiness, actor
  errors. The hot path pays nothing for these; a scrape reads them between two event-loop steps.
* **Observed when they happen**: latencies (histograms cannot be rebuilt later) and the venue
  hooks of ``exchanges.telemetry`` — REST/WS-API latency by endpoint and outcome, rate-limit
  weight, WebSocket up/down/reconnects, venue decode errors — plus order round trip
  (submit → venue ack) and fill latency (submit → first fill on the execution stream).

Names follow Prometheus conventions (``tradebus_`` prefix, base units, ``_total`` counters).
Labels are bounded: methods, error codes, queue names, topic kinds, stream names without their
per-connection serial, endpoints (capped at :data:`MAX_ENDPOINTS` per venue, the rest ``other``),
market kinds, outcomes. Never an order id or a client id.
"""

from __future__ import annotations

from collections import Counter as CounterDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exchanges.telemetry import stream_label
from exchanges.transport.ratelimit import BudgetRegistry

from .host import RunnerInfo, RunnerState
from .publisher import Publisher
from .registrar import Registrar
from .risk import risk_metric_families
from .zmq_server import ZmqServer

__all__ = ["MetricsSource", "Probe", "RunnerMetrics", "RunnerCollector", "MAX_ENDPOINTS", "STATUSES"]

# no ``*_created`` series: they double the exposition and no dashboard uses them (process-wide)
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated

MAX_ENDPOINTS = 64
STATUSES = ("starting", "ready", "degraded", "auth_failed", "stopping")
COMMAND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
VENUE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FILL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
SUBMIT_QUANTILES = (0.5, 0.9, 0.99)  # tradebus_order_submit_seconds (exchange_runner/actors/order.py submit_ns)


class Probe(Protocol):
    """The runner's self-ping (``health.SelfPing``) as the metrics read it."""

    @property
    def last_rtt_s(self) -> float | None: ...
    def check(self) -> tuple[bool, str]: ...


class MetricsSource(RunnerInfo, RunnerState, Protocol):
    """What the collector reads of its runner at scrape time (``ExchangeRunner`` is one). The
    actors (``prices``, ``orders``, ``positions``, ``account``, ``funding``) and ``security``
    are read when present: a runner has them only once it runs."""

    @property
    def self_ping(self) -> Probe | None: ...
    @property
    def stream_messages(self) -> Mapping[str, int]: ...
    @property
    def stream_restarts(self) -> int: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def server(self) -> ZmqServer | None: ...
    @property
    def registrar(self) -> Registrar | None: ...


class RunnerMetrics:
    """The metrics of one runner; also its ``exchanges.telemetry.VenueObserver``."""

    def __init__(self, runner: MetricsSource, *, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.command_duration = Histogram(
            "tradebus_command_duration_seconds",
            "CoreApi requests served on the ROUTER: decode to reply, by method and outcome",
            ["method", "outcome"],
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self.command_errors = Counter(
            "tradebus_command_errors",
            "CoreApi requests answered with an error, by method and code",
            ["method", "code"],
            registry=r,
        )
        self.venue_request = Histogram(
            "tradebus_venue_request_duration_seconds",
            "Requests to the venue (REST, WS-API), by endpoint and outcome",
            ["venue", "endpoint", "method", "outcome"],
            buckets=VENUE_BUCKETS,
            registry=r,
        )
        self.order_round_trip = Histogram(
            "tradebus_order_round_trip_seconds",
            "Order submit (runner received it) to venue acknowledgement, by market and outcome",
            ["market", "outcome"],
            buckets=VENUE_BUCKETS,
            registry=r,
        )
        self.fill_latency = Histogram(
            "tradebus_order_fill_latency_seconds",
            "Order submit to its first fill on the execution stream, by market",
            ["market"],
            buckets=FILL_BUCKETS,
            registry=r,
        )
        # hook-fed values read by the collector at scrape time (a dict update on the hot path)
        self.rate_limits: dict[tuple[str, str], float] = {}
        self.ws_reconnects: CounterDict[str] = CounterDict()
        self.ws_disconnects: CounterDict[str] = CounterDict()
        self.venue_decode_errors: CounterDict[tuple[str, str]] = CounterDict()
        self._endpoints: dict[str, set[str]] = {}
        self._ws_up: dict[str, bool] = {}
        # labelled children, looked up once (``labels()`` takes a lock and validates every time)
        self._venue_children: dict[tuple[str, str, str, str], Any] = {}
        self._command_children: dict[tuple[str, str], Any] = {}
        self.collector = RunnerCollector(runner, self)
        r.register(self.collector)
        if process_metrics:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    # -- exchanges.telemetry.VenueObserver -----------------------------------------------------
    def request_done(self, venue: str, endpoint: str, method: str, outcome: str, seconds: float) -> None:
        child = self._venue_children.get((venue, endpoint, method, outcome))
        if child is None:
            label = endpoint
            known = self._endpoints.setdefault(venue, set())
            if endpoint not in known:
                if len(known) >= MAX_ENDPOINTS:
                    label = "other"
                else:
                    known.add(endpoint)
            child = self.venue_request.labels(venue, label, method, outcome)
            if label == endpoint:  # "other" stays unmemoized: its endpoints are unbounded
                self._venue_children[venue, endpoint, method, outcome] = child
        child.observe(seconds)

    def rate_limit_used(self, venue: str, scope: str, used: float) -> None:
        self.rate_limits[venue, scope] = used

    def ws_state(self, stream: str, up: bool, reconnect: bool) -> None:
        was = self._ws_up.get(stream)
        self._ws_up[stream] = up
        if up and reconnect:
            self.ws_reconnects[stream_label(stream)] += 1
        elif not up and was:
            self.ws_disconnects[stream_label(stream)] += 1

    def ws_closed(self, stream: str) -> None:
        self._ws_up.pop(stream, None)

    def decode_error(self, source: str, kind: str) -> None:
        self.venue_decode_errors[source, kind] += 1

    # -- runner hooks --------------------------------------------------------------------------
    def command_done(self, method: str, outcome: str, seconds: float) -> None:
        child = self._command_children.get((method, outcome))
        if child is None:
            child = self._command_children[method, outcome] = self.command_duration.labels(method, outcome)
        child.observe(seconds)
        if outcome != "ok":
            self.command_errors.labels(method, outcome).inc()

    def order_acked(self, market: str, outcome: str, seconds: float) -> None:
        self.order_round_trip.labels(market, outcome).observe(seconds)

    def order_filled(self, market: str, seconds: float) -> None:
        self.fill_latency.labels(market).observe(seconds)

    # -- state for readiness -------------------------------------------------------------------
    def ws_connections(self) -> dict[str, bool]:
        """Live WebSocket connections to the venue (name → up), as the adapter reported them."""
        return dict(self._ws_up)


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _counter(name: str, doc: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=list(labels))


def _budget_families(registry: object) -> Iterator[Metric]:
    """The shared rate-limit budgets (``exchanges.transport.ratelimit``), when the runner has them."""
    if not isinstance(registry, BudgetRegistry):
        return
    headroom = _gauge(
        "tradebus_rate_limit_headroom_ratio",
        "Share of each venue rate-limit window left, as this runner last counted it (shared count, or "
        "its local share while Redis is down)",
        ["scope", "window"],
    )
    shared = _gauge(
        "tradebus_rate_limit_shared", "1 while the budget is shared through Redis, 0 on the local share", ["scope"]
    )
    banned = _gauge(
        "tradebus_rate_limit_banned_seconds", "Seconds left of a venue ban (429/418) of the scope", ["scope"]
    )
    refused = _counter("tradebus_rate_limit_refused", "Requests the budget refused (rate_limited), by scope", ["scope"])
    for budget in registry.budgets.values():
        for window, share in budget.shares().items():
            headroom.add_metric([budget.scope, window], share)
        shared.add_metric([budget.scope], 1 if budget.shared else 0)
        banned.add_metric([budget.scope], budget.banned_for_s())
        refused.add_metric([budget.scope], budget.refused)
    yield from (headroom, shared, banned, refused)


def _market_families(market: Any) -> Iterable[Metric]:
    """Quality control and bars (docs/market-data.md): items checked and rejected, by check."""
    if market is None:
        return
    qc = market.quality
    checked = _counter("tradebus_quality_checked", "Market-data items quality control checked, by item", ["item"])
    for item, n in qc.checked.items():
        checked.add_metric([item], n)
    rejected = _counter(
        "tradebus_quality_rejected",
        "Market-data items quality control dropped, by instrument, item and check",
        ["instrument", "item", "check"],
    )
    for (key, item, check), n in qc.rejected.items():
        rejected.add_metric([str(key), item, check], n)
    rebased = _counter("tradebus_quality_rebased", "Runs of rejections ended by taking the new level as the reference")
    rebased.add_metric([], qc.rebased)
    bars = _counter("tradebus_bars_closed", "Bars closed and published")
    bars.add_metric([], market.bars_out)
    late = _counter("tradebus_bars_late_items", "Trades (or mids) older than their instrument's open bar: in no bar")
    late.add_metric([], market.bars.late if market.bars is not None else 0)
    yield from (checked, rejected, rebased, bars, late)


class RunnerCollector(Collector):
    """Reads the runner's own counters at scrape time (nothing on the hot path)."""

    def __init__(self, runner: MetricsSource, metrics: RunnerMetrics) -> None:
        self._r = runner
        self._m = metrics

    def collect(self) -> Iterable[Metric]:  # noqa: C901 - one family after another
        r = self._r
        cfg = r.config
        info = _gauge("tradebus_runner_info", "The runner (always 1)", ["exchange", "name", "mode", "venue", "version"])
        info.add_metric([r.exchange.value, cfg.registration_name, cfg.mode, cfg.venue, r.version], 1)
        yield info
        ready = _gauge("tradebus_runner_ready", "1 when the runner's status is ready")
        ready.add_metric([], 1 if r.ready else 0)
        yield ready
        status = _gauge("tradebus_runner_status", "1 for the runner's current status", ["status"])
        for s in STATUSES:
            status.add_metric([s], 1 if r.status == s else 0)
        yield status
        checks = _gauge("tradebus_readiness_check", "Readiness checks of /readyz (1 = passing)", ["check"])
        for name, ok in r.readiness().items():
            checks.add_metric([name], 1 if ok else 0)
        probe = r.self_ping
        if probe is not None:
            checks.add_metric(["commands_answering"], 1 if probe.check()[0] else 0)
        yield checks
        if probe is not None and probe.last_rtt_s is not None:
            rtt = _gauge("tradebus_self_ping_seconds", "Round trip of the runner's last answered self-ping")
            rtt.add_metric([], probe.last_rtt_s)
            yield rtt

        streams = _gauge("tradebus_stream_up", "Venue streams the runner consumes (1 = live)", ["stream"])
        for name, ok in r.streams.items():
            streams.add_metric([name], 1 if ok else 0)
        yield streams
        ws_up: CounterDict[str] = CounterDict()
        ws_all: CounterDict[str] = CounterDict()
        for name, ok in self._m.ws_connections().items():
            ws_all[stream_label(name)] += 1
            ws_up[stream_label(name)] += 1 if ok else 0
        ws = _gauge("tradebus_ws_connections", "WebSocket connections to the venue, by stream", ["stream"])
        ws_live = _gauge("tradebus_ws_connections_up", "WebSocket connections to the venue that are up", ["stream"])
        for name, n in ws_all.items():
            ws.add_metric([name], n)
            ws_live.add_metric([name], ws_up[name])
        yield ws
        yield ws_live
        m = self._m
        reconnects = _counter("tradebus_ws_reconnects", "WebSocket reconnections to the venue, by stream", ["stream"])
        for name, n in m.ws_reconnects.items():
            reconnects.add_metric([name], n)
        yield reconnects
        lost = _counter("tradebus_ws_disconnects", "WebSocket connections to the venue lost, by stream", ["stream"])
        for name, n in m.ws_disconnects.items():
            lost.add_metric([name], n)
        yield lost
        limits = _gauge(
            "tradebus_venue_rate_limit_used",
            "Rate-limit usage the venue last reported (request weight, order counts)",
            ["venue", "scope"],
        )
        for (venue, scope), used in m.rate_limits.items():
            limits.add_metric([venue, scope], used)
        yield limits
        yield from _budget_families(getattr(r, "budgets", None))
        msgs = _counter("tradebus_stream_messages", "Items received from each venue stream", ["stream"])
        for name, n in r.stream_messages.items():
            msgs.add_metric([name], n)
        yield msgs
        restarts = _counter("tradebus_stream_restarts", "Venue stream iterators that failed and were restarted")
        restarts.add_metric([], r.stream_restarts)
        yield restarts

        depth = _gauge("tradebus_queue_depth", "Items waiting in each bounded queue", ["queue"])
        capacity = _gauge("tradebus_queue_capacity", "Capacity of each bounded queue", ["queue"])
        dropped = _counter("tradebus_queue_dropped", "Items dropped by each queue's overflow policy", ["queue"])
        for qname, stat in r.queue_stats().items():
            depth.add_metric([qname], stat.depth)
            capacity.add_metric([qname], stat.capacity)
            dropped.add_metric([qname], stat.dropped)
        yield depth
        yield capacity
        yield dropped

        pub = r.publisher
        published = _counter("tradebus_events_published", "Events sent on the PUB socket, by topic kind", ["topic"])
        for kind, n in pub.published.items():
            published.add_metric([kind], n)
        yield published
        pub_drop = _counter(
            "tradebus_publish_dropped",
            "Events subscribers did not receive (sequence holes they reported), by topic kind and client kind",
            ["topic", "client"],
        )
        for (kind, client), n in pub.dropped_by_client.items():
            pub_drop.add_metric([kind, client], n)
        yield pub_drop
        gap_reports = _counter("tradebus_gap_reports", "report_gap requests taken (subscribers reporting lost events)")
        gap_reports.add_metric([], pub.gap_reports)
        yield gap_reports
        gap_refused = _counter(
            "tradebus_gap_ranges_refused", "Reported gap ranges not counted: numbers this runner never published"
        )
        gap_refused.add_metric([], pub.gap_ranges_refused)
        yield gap_refused
        subs = _gauge(
            "tradebus_pub_subscriptions",
            "Subscriptions on the PUB socket now (one per subscriber and prefix)",
            ["topic"],
        )
        for kind, n in pub.subscriptions_by_kind().items():
            subs.add_metric([kind], n)
        yield subs

        server = r.server
        commands = _counter("tradebus_commands", "CoreApi requests received on the ROUTER, by method", ["method"])
        decode = _counter(
            "tradebus_decode_errors", "Frames that could not be decoded, by source and kind", ["source", "kind"]
        )
        if server is not None:
            for method, n in server.requests.items():
                commands.add_metric([method], n)
            for kind, n in server.bad_frames.items():
                decode.add_metric(["zmq", kind], n)
        for (source, kind), n in m.venue_decode_errors.items():
            decode.add_metric([source, kind], n)
        yield commands
        yield decode

        reg = r.registrar
        beats = _counter("tradebus_registration_heartbeats", "Successful registrations/heartbeats in Redis")
        fails = _counter("tradebus_registration_failures", "Failed registrations/heartbeats in Redis")
        registered = _gauge("tradebus_registered", "1 when the last registration in Redis succeeded")
        beats.add_metric([], reg.beats if reg else 0)
        fails.add_metric([], reg.failures if reg else 0)
        registered.add_metric([], 1 if reg and reg.redis_ok else 0)
        yield beats
        yield fails
        yield registered

        actor_errors = _counter("tradebus_actor_errors", "Failures inside an actor (it kept running)", ["actor"])
        orders = getattr(r, "orders", None)
        for actor in (getattr(r, a, None) for a in ("prices", "orders", "positions", "account", "funding", "market")):
            if actor is not None:
                actor_errors.add_metric([actor.name], actor.errors)
        yield actor_errors
        submitted = _counter("tradebus_orders_submitted", "Orders the runner sent to the venue")
        unknown = _counter("tradebus_orders_unknown_outcome", "Placements whose outcome was unknown (reconciled)")
        submitted.add_metric([], orders.submitted if orders else 0)
        unknown.add_metric([], orders.unknown_outcomes if orders else 0)
        yield submitted
        yield unknown
        unknown_now = _gauge("tradebus_orders_unknown", "Orders whose outcome is unknown now (the runner keeps asking)")
        unknown_now.add_metric([], orders.unknown_now if orders else 0)
        yield unknown_now
        held = orders.submit_ns.quantiles(SUBMIT_QUANTILES) if orders is not None else {}
        if held:
            submit = _gauge(
                "tradebus_order_submit_seconds",
                "The order actor's time on each order sent, from taking it to the request written to the "
                "venue's socket (the last 1,024 orders)",
                ["quantile"],
            )
            for q, ns in held.items():
                submit.add_metric([str(q)], ns / 1e9)
            yield submit
        warmer = getattr(r, "warmer", None)
        if warmer is not None:  # the order path rehearsed between orders (exchange_runner/warmth.py)
            passes = _counter("tradebus_order_path_rehearsals", "Passes of the order path warmer (nothing sent)")
            passes.add_metric([], warmer.passes)
            failed = _counter("tradebus_order_path_rehearsal_failures", "Rehearsals that raised (orders unaffected)")
            failed.add_metric([], warmer.failures)
            yield passes
            yield failed
            cost = warmer.pass_ns.quantiles(SUBMIT_QUANTILES)
            if cost:
                pass_s = _gauge(
                    "tradebus_order_path_rehearsal_seconds",
                    "What one pass of the order path warmer cost the event loop (the last 1,024 passes)",
                    ["quantile"],
                )
                for q, ns in cost.items():
                    pass_s.add_metric([str(q)], ns / 1e9)
                yield pass_s
        risk = orders.risk if orders is not None else None
        if risk is not None:  # the pre-trade gate (docs/risk.md)
            yield from risk_metric_families(risk)
        prices = getattr(r, "prices", None)
        ooo = _counter("tradebus_books_out_of_order", "Books older than the one already held (ignored)")
        ooo.add_metric([], prices.out_of_order if prices else 0)
        yield ooo
        yield from _market_families(getattr(r, "market", None))
        security = getattr(r, "security", None)
        if security is not None:
            yield from security.metric_families()
        journal = getattr(r, "journal", None)
        if journal is not None:  # docs/journal.md
            yield from journal.metric_families()
