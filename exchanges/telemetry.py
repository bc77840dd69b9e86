"""Venue-side telemetry hooks, the same for every adapter.

Adapters call these; whoever runs them decides what is recorded. The runner installs a
:class:`VenueObserver` (its Prometheus metrics) with :func:`observing` around its whole run;
the observer lives in a :class:`~contextvars.ContextVar`, so every task the runner starts
(REST calls, WebSocket connections) sees it, and two runners in one process keep their own.
With no observer and tracing off, each hook is one lookup and a ``None`` check.

* :func:`observe_request` — ``with observe_request("binance-futures", "/fapi/v1/order", "POST"):``
  times one REST (or WS-API) request, records its latency by endpoint and outcome, and opens a
  child span (``kind=client``) under the current span, so a traced command shows its venue calls.
* :func:`rate_limit_used` — the weight/order counters the venue reports (e.g. Binance's
  ``X-MBX-USED-WEIGHT-1M``), as a gauge per venue and scope.
* :func:`ws_state` / :func:`ws_closed` — WebSocket connections up/down (reconnects counted) and
  gone for good; the runner's readiness uses them.
* :func:`decode_error` — a venue payload that could not be decoded, by source and kind.

Spans come from a :class:`VenueTracer` installed with :func:`set_tracer` — the runner installs
one over its OpenTelemetry setup (``exchange_runner/venue_tracing.py``). This package imports
only ``strategy_client.model`` of the client, so it names what it needs of a span here
(:class:`RequestSpan`) instead of importing the client's telemetry.

Outcomes are a small fixed set (:func:`request_outcome`), never free text, so label
cardinality stays bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Protocol

from .errors import (
    ExchangeError,
    IpBanned,
    RateLimited,
    TransportError,
    UnknownOutcome,
)

__all__ = [
    "RequestSpan",
    "VenueTracer",
    "set_tracer",
    "VenueObserver",
    "observing",
    "current_observer",
    "observe_request",
    "request_outcome",
    "rate_limit_used",
    "ws_state",
    "ws_closed",
    "decode_error",
    "stream_label",
]


class VenueObserver(Protocol):
    def request_done(self, venue: str, endpoint: str, method: str, outcome: str, seconds: float) -> None: ...

    def rate_limit_used(self, venue: str, scope: str, used: float) -> None: ...

    def ws_state(self, stream: str, up: bool, reconnect: bool) -> None: ...

    def ws_closed(self, stream: str) -> None: ...

    def decode_error(self, source: str, kind: str) -> None: ...


class RequestSpan(Protocol):
    """The span of one venue request, entered around it (``SpanScope`` of the client's telemetry)."""

    def set_attribute(self, key: str, value: str) -> None: ...

    def set_error(self, code: str, message: str = "") -> None: ...

    def __enter__(self) -> object: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> object: ...


class VenueTracer(Protocol):
    """Opens request spans while tracing is on; :func:`set_tracer` installs one per process."""

    def enabled(self) -> bool: ...

    def request_span(self, name: str, attributes: dict[str, str]) -> RequestSpan:
        """A ``kind=client`` span named ``name`` under the current span."""
        ...


class _Installed:
    """The process's tracer (tracing is per process: one OpenTelemetry provider)."""

    tracer: VenueTracer | None = None


def set_tracer(tracer: VenueTracer | None) -> VenueTracer | None:
    """Install ``tracer`` for every venue request of this process; returns the one it replaces."""
    previous, _Installed.tracer = _Installed.tracer, tracer
    return previous


def _tracing() -> VenueTracer | None:
    tracer = _Installed.tracer
    return tracer if tracer is not None and tracer.enabled() else None


_observer: ContextVar[VenueObserver | None] = ContextVar("tradebus_venue_observer", default=None)


def current_observer() -> VenueObserver | None:
    return _observer.get()


@contextmanager
def observing(observer: VenueObserver | None) -> Iterator[None]:
    """Make ``observer`` the one this task (and the tasks it starts) report to."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def request_outcome(exc: BaseException | None) -> str:
    """``ok``, ``rate_limited``, ``banned``, ``not_sent``, ``unknown``, ``unavailable``,
    ``rejected``, ``timeout``, ``cancelled`` or ``error``."""
    if exc is None:
        return "ok"
    if isinstance(exc, IpBanned):
        return "banned"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, TransportError):
        return "not_sent"
    if isinstance(exc, UnknownOutcome):
        return "unknown"
    if isinstance(exc, ExchangeError):
        return "unavailable" if exc.retryable else "rejected"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return "error"


def stream_label(name: str) -> str:
    """A connection name without its per-connection serial (``binance:spot:depth#7`` → ``binance:spot:depth``)."""
    return name.split("#", 1)[0]


class _Noop:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


_NOOP = _Noop()


class _Observed:
    __slots__ = ("_obs", "_tracer", "_venue", "_endpoint", "_method", "_t0", "_span")

    def __init__(
        self, obs: VenueObserver | None, tracer: VenueTracer | None, venue: str, endpoint: str, method: str
    ) -> None:
        self._obs = obs
        self._tracer = tracer
        self._venue = venue
        self._endpoint = endpoint
        self._method = method
        self._t0 = 0.0
        self._span: RequestSpan | None = None

    def __enter__(self) -> None:
        if self._tracer is not None:
            self._span = self._tracer.request_span(
                f"{self._method} {self._endpoint}",
                {
                    "tradebus.venue": self._venue,
                    "http.request.method": self._method,
                    "url.path": self._endpoint,
                },
            )
            self._span.__enter__()
        self._t0 = time.perf_counter()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        seconds = time.perf_counter() - self._t0
        outcome = request_outcome(exc)
        if self._obs is not None:
            self._obs.request_done(self._venue, self._endpoint, self._method, outcome, seconds)
        span = self._span
        if span is not None:
            span.set_attribute("tradebus.outcome", outcome)
            if exc is not None and isinstance(exc, ExchangeError):
                span.set_error(outcome, str(exc)[:200])
            span.__exit__(exc_type, exc, tb)
        return None


def observe_request(venue: str, endpoint: str, method: str) -> _Observed | _Noop:
    """Time one request to ``venue`` (e.g. ``binance-spot``) at ``endpoint`` (a path without its
    query, or ``ws-api:<method>``); see the module doc. Exceptions pass through unchanged."""
    obs = _observer.get()
    tracer = _tracing()
    if obs is None and tracer is None:
        return _NOOP
    return _Observed(obs, tracer, venue, endpoint, method)


def rate_limit_used(venue: str, scope: str, used: float) -> None:
    obs = _observer.get()
    if obs is not None:
        obs.rate_limit_used(venue, scope, used)


def ws_state(stream: str, up: bool, reconnect: bool = False) -> None:
    obs = _observer.get()
    if obs is not None:
        obs.ws_state(stream, up, reconnect)


def ws_closed(stream: str) -> None:
    obs = _observer.get()
    if obs is not None:
        obs.ws_closed(stream)


def decode_error(source: str, kind: str) -> None:
    obs = _observer.get()
    if obs is not None:
        obs.decode_error(source, kind)
