"""Telemetry helpers: off-by-default tracing, the wire trace fields, venue hooks, strategy metrics."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import cast

import httpx
import msgspec
import pytest
from prometheus_client import generate_latest

from exchange_runner.metrics import MAX_ENDPOINTS, RunnerMetrics
from exchange_runner.ports import free_port
from exchange_runner.runner import ExchangeRunner
from exchanges.errors import InvalidRequest, IpBanned, RateLimited, TransportError, UnknownOutcome
from exchanges.telemetry import current_observer, observe_request, observing, request_outcome
from strategy_client.telemetry import (
    SpanScope,
    TracingConfigError,
    capture_context,
    client_span,
    current_trace_ids,
    server_span,
    setup_tracing,
    shutdown_tracing,
    tracing_enabled,
    tracing_requested,
)
from strategy_client.telemetry.healthcheck import main as healthcheck
from strategy_client.telemetry.strategy_metrics import StrategyMetrics, serve_strategy_metrics
from strategy_client.wire import Header, decode_header, encode

from ..integration.conftest import ROOT
from .conftest import parse_metrics, value


@pytest.fixture(autouse=True)
def tracing_off() -> Iterator[None]:
    shutdown_tracing()
    yield
    shutdown_tracing()


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ],
)
def test_tracing_is_requested_only_by_the_standard_variables(env: dict[str, str], wanted: bool) -> None:
    assert tracing_requested(env) is wanted


def test_off_by_default_costs_nothing_but_a_check() -> None:
    assert not setup_tracing("t", env={})
    assert not tracing_enabled()
    scope = client_span("submit_order")
    assert type(scope) is SpanScope and scope is client_span("ping") is server_span("ping", "00-x")
    with scope as s:
        assert s.traceparent == "" and s.tracestate == ""
    assert capture_context() is None and current_trace_ids() is None
    assert observe_request("binance-spot", "/api/v3/time", "GET") is observe_request("x", "/y", "GET")


def test_environment_exporters_and_config_errors() -> None:
    assert setup_tracing("t", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert tracing_enabled()
    shutdown_tracing()
    with pytest.raises(TracingConfigError, match="OTEL_TRACES_EXPORTER: 'zipkin'"):
        setup_tracing("t", env={"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(TracingConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        setup_tracing("t", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    assert not tracing_enabled()


def test_header_trace_fields_are_optional_on_the_wire() -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    h = Header(id="a-1", ts=5, tp=tp, tst="vendor=x")
    assert decode_header(encode(h)) == h
    plain = msgspec.msgpack.decode(encode(Header(id="a-2")))
    assert "tp" not in plain and "tst" not in plain  # defaults are not sent
    old = msgspec.msgpack.encode({"v": 1, "id": "a-3", "tp": tp})  # a sender that predates `tst`
    assert decode_header(old).tst == "" and decode_header(old).tp == tp


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, str]] = []

    def request_done(self, venue: str, endpoint: str, method: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.requests.append((venue, endpoint, method, outcome))

    def rate_limit_used(self, venue: str, scope: str, used: float) -> None: ...

    def ws_state(self, stream: str, up: bool, reconnect: bool) -> None: ...

    def ws_closed(self, stream: str) -> None: ...

    def decode_error(self, source: str, kind: str) -> None: ...


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (None, "ok"),
        (RateLimited("429"), "rate_limited"),
        (IpBanned("418"), "banned"),
        (TransportError("refused"), "not_sent"),
        (UnknownOutcome("timeout"), "unknown"),
        (InvalidRequest("bad"), "rejected"),
        (TimeoutError(), "timeout"),
        (KeyError("x"), "error"),
    ],
)
def test_observe_request_records_a_bounded_outcome(exc: BaseException | None, outcome: str) -> None:
    rec = _Recorder()
    with observing(rec):
        try:
            with observe_request("binance-spot", "/api/v3/order", "POST"):
                if exc is not None:
                    raise exc
        except BaseException as raised:  # noqa: BLE001
            assert raised is exc
    assert rec.requests == [("binance-spot", "/api/v3/order", "POST", outcome)]
    assert request_outcome(exc) == outcome


async def test_the_observer_follows_tasks_and_stays_per_runner() -> None:
    a, b = _Recorder(), _Recorder()

    async def call() -> None:
        with observe_request("v", "/x", "GET"):
            await asyncio.sleep(0)

    async def runner(rec: _Recorder) -> None:
        with observing(rec):
            await asyncio.create_task(call())

    await asyncio.gather(runner(a), runner(b))
    assert len(a.requests) == len(b.requests) == 1
    assert current_observer() is None


def test_endpoint_labels_are_capped() -> None:
    # RunnerMetrics reads the runner only at scrape time; this test never scrapes
    metrics = RunnerMetrics(cast(ExchangeRunner, object()), process_metrics=False)
    for i in range(MAX_ENDPOINTS + 10):
        metrics.request_done("binance-spot", f"/api/v3/thing{i}", "GET", "ok", 0.001)
    endpoints = {
        dict(labels)["endpoint"]
        for (name, labels) in parse_metrics(generate_latest(metrics.venue_request).decode())
        if name.endswith("_count")
    }
    assert len(endpoints) == MAX_ENDPOINTS + 1 and "other" in endpoints


async def test_strategy_metrics_and_their_server() -> None:
    metrics = StrategyMetrics("spotperp", mode="paper")
    metrics.set_edge("BTCUSDT", Decimal("12.5"))
    metrics.set_state("BTCUSDT", "flat")
    metrics.set_state("BTCUSDT", "open")
    metrics.set_exposure("binance:perp:BTCUSDT", Decimal("-6425.10"))
    metrics.set_pnl(realized=Decimal("10"), unrealized=Decimal("-2.5"), fees=Decimal("-1.25"), funding=Decimal("0.5"))
    metrics.attach_client()
    try:
        with client_span("get_position"):
            pass
        with pytest.raises(RuntimeError), client_span("submit_order"):
            raise RuntimeError("boom")
    finally:
        metrics.detach_client()
    async with serve_strategy_metrics(metrics, 0) as off:
        assert off is None
    port = free_port()
    async with serve_strategy_metrics(metrics, port) as server, httpx.AsyncClient(timeout=5) as http:
        assert server is not None
        base = f"http://127.0.0.1:{port}"
        assert (await http.get(f"{base}/readyz")).status_code == 503
        metrics.set_ready("started", True)
        ready = await http.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["strategy"] == "spotperp"
        assert (await http.get(f"{base}/healthz")).json() == {"status": "alive"}
        s = parse_metrics((await http.get(f"{base}/metrics")).text)
    assert value(s, "tradebus_strategy_edge_bps", pair="BTCUSDT") == 12.5
    assert value(s, "tradebus_strategy_state", pair="BTCUSDT", state="open") == 1
    assert value(s, "tradebus_strategy_state", pair="BTCUSDT", state="flat") == 0
    assert value(s, "tradebus_strategy_exposure_quote", instrument="binance:perp:BTCUSDT") == -6425.10
    assert value(s, "tradebus_strategy_pnl_quote", component="total") == 6.75
    assert value(s, "tradebus_client_request_duration_seconds_count", method="get_position", outcome="ok") == 1
    assert value(s, "tradebus_client_request_errors_total", method="submit_order", outcome="RuntimeError") == 1


async def test_healthcheck_entry_point() -> None:
    port = free_port()
    assert healthcheck([], env={}) == 0  # no metrics port: nothing to check
    assert healthcheck([], env={"TRADEBUS_METRICS_PORT": str(port)}, timeout_s=1) == 1  # nothing listening
    metrics = StrategyMetrics("s")
    async with serve_strategy_metrics(metrics, port):
        rc = await asyncio.to_thread(healthcheck, [], {"TRADEBUS_METRICS_PORT": str(port)})
        assert rc == 0
        rc = await asyncio.to_thread(healthcheck, [f"http://127.0.0.1:{port}/readyz"], {})
        assert rc == 1  # 503: not started


def test_the_shared_package_is_cheap_to_import_and_stays_in_its_layer() -> None:
    code = (
        "import sys, strategy_client.telemetry as t; "
        "t.client_span('x'); t.server_span('x'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'exchange_runner', 'exchanges', 'opentelemetry', 'prometheus_client', 'aiohttp'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
