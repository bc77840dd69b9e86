"""OpenTelemetry's own complaints, as tradebus log lines: one line each, rate-limited.

The OTLP exporter and the batch processor report a collector they cannot reach through the
standard ``logging`` module (``"Transient error … retrying in 0.85s"``, three or four lines a
batch, every few seconds, unformatted — printed by Python's last-resort handler since nothing
else is configured). :func:`route_otel_logs` replaces that with loguru lines in the process's
format: the first problem is one WARNING line naming the endpoint; after it, at most one line
per ``interval_s`` (a minute) saying how many more there were; a count still pending when
tracing stops is reported then. Nothing is dropped silently: :attr:`OtelLogLimiter.total`
counts every record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from loguru import logger

__all__ = ["OtelLogLimiter", "route_otel_logs", "unroute_otel_logs", "OTEL_LOGGER"]

OTEL_LOGGER = "opentelemetry"
MAX_MESSAGE = 300  # characters of the library's message kept in the line


def _one_line(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record still counts, with its raw template
        text = str(record.msg)
    text = " ".join(text.split())  # newlines of a multi-line message folded
    if record.exc_info and record.exc_info[1] is not None:  # the exception in one clause, no traceback
        exc = record.exc_info[1]
        text = f"{text} ({type(exc).__name__}: {' '.join(str(exc).split())})"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class OtelLogLimiter(logging.Handler):
    """A ``logging`` handler: OpenTelemetry records → rate-limited loguru WARNING lines."""

    def __init__(
        self,
        endpoint: str,
        *,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(level=logging.WARNING)
        self.endpoint = endpoint
        self.interval_s = interval_s
        self.clock = clock
        self.total = 0  # every record seen
        self.pending = 0  # records since the last line written
        self._last_line_at: float | None = None
        self._guard = threading.Lock()  # the batch processor's thread and shutdown both write

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self.total += 1
            now = self.clock()
            if self._last_line_at is not None and now - self._last_line_at < self.interval_s:
                self.pending += 1
                return
            more = f" ({self.pending} more since the last line)" if self.pending else ""
            self.pending = 0
            self._last_line_at = now
        logger.warning(
            "tracing: span export to {} failing: {}{} — next report in {:.0f}s at most",
            self.endpoint,
            _one_line(record),
            more,
            self.interval_s,
        )

    def flush_pending(self) -> None:
        """Report the records not yet reported (tracing stops)."""
        with self._guard:
            pending, self.pending = self.pending, 0
        if pending:
            logger.warning("tracing: {} more span export problems with {} were not shown", pending, self.endpoint)


class _Routed:
    """The limiter the ``opentelemetry`` loggers go through now (None: not routed); process-wide."""

    handler: OtelLogLimiter | None = None


def route_otel_logs(env: Mapping[str, str], *, interval_s: float = 60.0) -> OtelLogLimiter:
    """Send the ``opentelemetry`` loggers' records through one :class:`OtelLogLimiter` (only)."""
    unroute_otel_logs()
    endpoint = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "the collector"
    )
    handler = OtelLogLimiter(endpoint, interval_s=interval_s)
    otel = logging.getLogger(OTEL_LOGGER)
    otel.addHandler(handler)
    otel.propagate = False  # not also printed by the root (or the last-resort) handler
    _Routed.handler = handler
    return handler


def unroute_otel_logs() -> None:
    handler, _Routed.handler = _Routed.handler, None
    if handler is not None:
        handler.flush_pending()
        otel = logging.getLogger(OTEL_LOGGER)
        otel.removeHandler(handler)
        otel.propagate = True
