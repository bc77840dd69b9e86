"""Venue request spans from the runner's OpenTelemetry setup.

``exchanges`` imports nothing of the client but its model (docs/contributing.md), so its
request hook (``exchanges.telemetry.observe_request``) asks an installed
``exchanges.telemetry.VenueTracer`` for spans. This is that tracer over
``strategy_client.telemetry``; ``exchange_runner/__init__.py`` installs it, so every process
that runs a runner (the CLI, tests, benchmarks) traces its venue calls whenever tracing is on.
"""

from __future__ import annotations

from strategy_client.telemetry import SpanScope, child_span, tracing_enabled

__all__ = ["OtelVenueTracer"]


class OtelVenueTracer:
    """Spans under the current one (``kind=client``), while ``setup_tracing`` has switched tracing on."""

    __slots__ = ()

    def enabled(self) -> bool:
        return tracing_enabled()

    def request_span(self, name: str, attributes: dict[str, str]) -> SpanScope:
        return child_span(name, kind="client", attributes=dict(attributes))
