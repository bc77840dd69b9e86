"""tradebus ExchangeRunner: one process per venue holding its live state."""

from exchanges.telemetry import set_tracer

from .venue_tracing import OtelVenueTracer

# venue request spans (exchanges.telemetry) join the runner's traces; see venue_tracing.py
set_tracer(OtelVenueTracer())
