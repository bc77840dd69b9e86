"""One trace from the client's span, through the runner's span, to the venue request.

A real runner and its embedded Binance venue run in this event loop; spans go to an in-memory
exporter. The client wraps each call in ``client_span`` and sends its trace context in the
request header (``ZmqCommandClient.call(traceparent=...)``).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest
from loguru import logger
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from exchange_runner.config import RunnerConfig
from exchange_runner.ports import free_port_pair
from exchange_runner.runner import ExchangeRunner
from exchange_runner.venues import open_venue
from strategy_client.command_client import ZmqCommandClient
from strategy_client.errors import InvalidRequest
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.telemetry import client_span, setup_logging, setup_tracing, shutdown_tracing
from strategy_client.wire import LeverageReply, OrderReply, SetLeverage, SubmitOrder

from ..helpers import eventually

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


@pytest.fixture()
def exporter() -> Iterator[InMemorySpanExporter]:
    exp = InMemorySpanExporter()
    assert setup_tracing("tradebus-test", exporter=exp)
    try:
        yield exp
    finally:
        shutdown_tracing()


@pytest.fixture()
async def runner(redis_url: str, exporter: InMemorySpanExporter) -> AsyncIterator[ExchangeRunner]:
    cfg = RunnerConfig(
        redis_url=redis_url, name=f"trace-{os.getpid()}", symbols=["BTCUSDT"], sim_port_base=free_port_pair()
    )
    cfg.validate()
    async with open_venue(cfg) as adapter:
        r = ExchangeRunner(cfg, adapter)
        task = asyncio.create_task(r.run(), name="runner")
        try:
            await eventually(lambda: r.started.is_set() or task.done(), timeout=30, what="runner started")
            if task.done():
                task.result()
            yield r
        finally:
            r.stop()
            await asyncio.wait_for(task, 20)


def _one(spans: list[ReadableSpan], name: str, kind: SpanKind) -> ReadableSpan:
    found = [s for s in spans if s.name == name and s.kind is kind]
    assert len(found) == 1, f"{name} ({kind}): {[(s.name, s.kind) for s in spans]}"
    return found[0]


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    ctx = parent.context
    assert ctx is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == ctx.span_id]


async def test_client_runner_venue_spans_share_one_trace(
    runner: ExchangeRunner, exporter: InMemorySpanExporter
) -> None:
    async with ZmqCommandClient(runner.router_endpoint) as cli:
        with client_span("submit_order", peer="binance") as scope:
            assert scope.traceparent.startswith("00-")
            rep = await cli.call(
                SubmitOrder(order=OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.01"))),
                traceparent=scope.traceparent,
            )
        assert isinstance(rep, OrderReply)
        with client_span("set_leverage", peer="binance") as scope:
            lev = await cli.call(SetLeverage(key=PERP, leverage=7), traceparent=scope.traceparent)
        assert isinstance(lev, LeverageReply) and lev.leverage == 7
        with pytest.raises(InvalidRequest), client_span("set_leverage") as scope:
            await cli.call(SetLeverage(key=PERP, leverage=500), traceparent=scope.traceparent)

    spans = list(exporter.get_finished_spans())
    # submit_order: client → runner (server) → venue placement (WS-API, or REST if the WS-API is down)
    client = _one(spans, "tradebus.CoreApi/submit_order", SpanKind.CLIENT)
    server = _one(spans, "tradebus.CoreApi/submit_order", SpanKind.SERVER)
    assert client.context is not None and server.context is not None and server.parent is not None
    assert server.parent.span_id == client.context.span_id
    venue = [s for s in _children(spans, server) if s.kind is SpanKind.CLIENT]
    assert [s.name for s in venue] in (["WS ws-api:order.place"], ["POST /fapi/v1/order"]), venue
    assert venue[0].attributes is not None and venue[0].attributes["tradebus.venue"] == "binance-futures"
    assert venue[0].attributes["tradebus.outcome"] == "ok"
    trace_id = client.context.trace_id
    assert venue[0].context is not None
    assert {server.context.trace_id, venue[0].context.trace_id} == {trace_id}
    assert server.attributes is not None and server.attributes["rpc.method"] == "submit_order"

    # set_leverage goes over REST: the HTTP request is the runner span's child, same trace
    lev_servers = [s for s in spans if s.name == "tradebus.CoreApi/set_leverage" and s.kind is SpanKind.SERVER]
    assert len(lev_servers) == 2
    ok_server = next(s for s in lev_servers if s.status.status_code is not StatusCode.ERROR)
    rest = _children(spans, ok_server)
    assert [s.name for s in rest] == ["POST /fapi/v1/leverage"]
    assert ok_server.parent is not None and rest[0].context is not None and ok_server.context is not None
    assert rest[0].context.trace_id == ok_server.context.trace_id
    # a refused request: the runner's span is an error carrying the reply's code; no venue call
    bad_server = next(s for s in lev_servers if s.status.status_code is StatusCode.ERROR)
    assert bad_server.attributes is not None and bad_server.attributes["tradebus.error_code"] == "invalid_params"
    assert _children(spans, bad_server) == []
    bad_client = [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT
        and s.context is not None
        and bad_server.parent is not None
        and s.context.span_id == bad_server.parent.span_id
    ]
    assert len(bad_client) == 1 and bad_client[0].status.status_code is StatusCode.ERROR


async def test_log_records_carry_the_trace_id(exporter: InMemorySpanExporter) -> None:
    out = io.StringIO()
    setup_logging("INFO", json=True, stream=out)
    try:
        with client_span("ping") as scope:
            logger.info("inside the span")
        logger.info("outside")
    finally:
        logger.remove()
    inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    trace_id = scope.traceparent.split("-")[1]
    assert inside["msg"] == "inside the span" and inside["trace_id"] == trace_id
    assert inside["span_id"] == scope.traceparent.split("-")[2]
    assert "trace_id" not in outside
