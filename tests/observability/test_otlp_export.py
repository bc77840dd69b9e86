"""A runner process configured only by OTEL_* variables exports its spans over OTLP/HTTP, and the
span of a command continues the trace id the caller sent in the header."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from exchange_runner.ports import free_port
from strategy_client.command_client import ZmqCommandClient
from strategy_client.wire import Ping, Pong

from ..helpers import eventually
from ..integration.conftest import start_runner

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


async def test_runner_exports_over_otlp_http_from_the_environment(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        received.append(ExportTraceServiceRequest.FromString(await request.read()))
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    collector = web.AppRunner(app, access_log=None)
    await collector.setup()
    port = free_port()
    await web.TCPSite(collector, "127.0.0.1", port).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export within 0.1 s
    monkeypatch.setenv("OTEL_SERVICE_NAME", "runner-under-test")
    rp = start_runner(redis_url, tmp_path, f"otlp-{os.getpid()}")
    try:
        rec = await asyncio.to_thread(rp.record)  # the collector keeps serving meanwhile
        async with ZmqCommandClient(rec.router_endpoint) as cli:
            pong = await cli.call(Ping(), traceparent=f"00-{TRACE_ID}-{PARENT_SPAN}-01")
            assert isinstance(pong, Pong)

        def ping_span() -> tuple[str, object] | None:
            for req in received:
                for rs in req.resource_spans:
                    service = next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name")
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            if span.name == "tradebus.CoreApi/ping" and span.trace_id.hex() == TRACE_ID:
                                return service, span
            return None

        service, span = await eventually(ping_span, what="the ping span at the collector")
        assert service == "runner-under-test"
        assert span.parent_span_id.hex() == PARENT_SPAN  # type: ignore[attr-defined]
    finally:
        assert await asyncio.to_thread(rp.stop) == 0  # the runner flushes its spans on the way out
        await collector.cleanup()
