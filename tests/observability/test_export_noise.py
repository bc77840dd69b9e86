"""A tracing collector that cannot be reached (issue 21): one formatted warning line, then at
most one a minute with a count — never OpenTelemetry's raw multi-line retries every few seconds."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

from loguru import logger

from exchange_runner.ports import free_port
from strategy_client.telemetry.export_noise import OtelLogLimiter

from ..integration.conftest import ROOT


def test_a_closed_collector_port_is_one_line_then_a_count() -> None:
    port = free_port()  # nothing listens there
    script = textwrap.dedent(
        """
        from strategy_client.telemetry import setup_tracing, shutdown_tracing
        from strategy_client.telemetry.logs import setup_logging
        from strategy_client.telemetry.tracing import _state, client_span
        setup_logging("INFO")
        assert setup_tracing("noise-test")
        for _ in range(3):  # three batches, each retried by the exporter until its timeout
            with client_span("x"):
                pass
            _state.provider.force_flush()
        shutdown_tracing()
        """
    )
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    failing = [line for line in lines if f"span export to http://127.0.0.1:{port} failing" in line]
    assert len(failing) == 1, out.stderr
    assert "WARNING" in failing[0]
    summary = [line for line in lines if "more span export problems" in line]
    assert len(summary) == 1, out.stderr  # the ones held back are counted, not lost
    assert len(lines) == 2, out.stderr  # nothing else: no raw "Transient error …", no traceback


def test_the_limiter_writes_once_per_interval_with_a_count() -> None:
    now = [1000.0]
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(str(m)), level="WARNING", format="{message}")
    try:
        limiter = OtelLogLimiter("http://collector:4318", interval_s=60.0, clock=lambda: now[0])

        def record(msg: str) -> logging.LogRecord:
            return logging.LogRecord("opentelemetry.x", logging.WARNING, __file__, 1, msg, None, None)

        limiter.emit(record("Transient error one\nsecond line"))
        for _ in range(5):
            now[0] += 5
            limiter.emit(record("Transient error again"))
        assert len(seen) == 1 and "failing: Transient error one second line" in seen[0]
        now[0] += 60
        limiter.emit(record("still down"))
        assert len(seen) == 2 and "still down (5 more since the last line)" in seen[1]
        limiter.emit(record("and again"))
        limiter.flush_pending()
        assert len(seen) == 3 and "1 more span export problems" in seen[2]
        assert limiter.total == 8
    finally:
        logger.remove(sink)
