"""OpenTelemetry tracing for every tradebus process (runner, strategy, notebook).

**Off unless configured.** :func:`setup_tracing` turns tracing on only when the standard
environment asks for it (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
set, or ``OTEL_TRACES_EXPORTER`` naming an exporter; ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keep it off) or when a test hands it an exporter. While off, the
OpenTelemetry packages are never imported and every helper here costs one ``is None`` check:
:func:`client_span` and :func:`server_span` return a shared no-op scope.

The rest of the configuration is OpenTelemetry's own: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``/``_ARG``, ``OTEL_BSP_*``, and the OTLP
exporter's ``OTEL_EXPORTER_OTLP_*`` (endpoint, headers, timeout, protocol; tradebus ships the
``http/protobuf`` exporter, port 4318). A collector that cannot be reached is one WARNING line,
then at most one a minute with a count (:mod:`.export_noise`), never the library's raw retries.

**Propagation.** The W3C trace context travels in the wire header (``tp`` = ``traceparent``,
``tst`` = ``tracestate``, see ``docs/protocol.md``). A strategy wraps each CoreApi call in
:func:`client_span` and puts ``scope.traceparent``/``scope.tracestate`` in the request header;
the runner opens :func:`server_span` from them, so its work (and the venue calls under it,
``exchanges.telemetry.observe_request``) joins the same trace.

Spans live in contextvars: a task created while a span is current inherits it. Work handed to
another task through a queue needs the context carried explicitly (:func:`capture_context`).
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .export_noise import route_otel_logs, unroute_otel_logs

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "TracingConfigError",
    "SpanScope",
    "ClientObserver",
    "tracing_requested",
    "tracing_enabled",
    "setup_tracing",
    "shutdown_tracing",
    "client_span",
    "server_span",
    "child_span",
    "capture_context",
    "current_trace_ids",
    "set_client_observer",
    "outcome_of",
]

ClientObserver = Callable[[str, str, float], None]
"""``(method, outcome, seconds)``: told about every :func:`client_span` (strategy metrics)."""

_RPC_SERVICE = "tradebus.CoreApi"


class TracingConfigError(ValueError):
    """The OTEL_* environment asks for something this process cannot do (names the variable)."""


class _State:
    __slots__ = (
        "tracer",
        "provider",
        "propagator",
        "client_observer",
        "kinds",
        "error_status",
        "current_span",
        "set_span",
    )

    def __init__(self) -> None:
        self.tracer: Tracer | None = None
        self.provider: TracerProvider | None = None
        self.propagator: Any = None
        self.client_observer: ClientObserver | None = None
        # OpenTelemetry names looked up once at setup, not per span
        self.kinds: dict[str, Any] = {}
        self.error_status: Callable[[str], Any] | None = None
        self.current_span: Callable[[], Any] | None = None
        self.set_span: Callable[[Any], Any] = lambda span: None


_state = _State()


# -- configuration ---------------------------------------------------------------------------


def _env_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def tracing_requested(env: Mapping[str, str] | None = None) -> bool:
    """Does the OTEL_* environment ask for traces? (Without importing OpenTelemetry.)"""
    env = os.environ if env is None else env
    if _env_true(env.get("OTEL_SDK_DISABLED")):
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters == "none":
        return False
    if exporters:
        return True
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def tracing_enabled() -> bool:
    return _state.tracer is not None


def _env_exporters(env: Mapping[str, str]) -> list[SpanExporter]:
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]
    out: list[SpanExporter] = []
    for name in names or ["otlp"]:
        if name == "otlp":
            protocol = (
                env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf"
            ).strip()
            if protocol == "http/protobuf":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                out.append(OTLPSpanExporter())
            elif protocol == "grpc":
                try:
                    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]  # optional, not a dependency
                        OTLPSpanExporter as GrpcExporter,
                    )
                except ImportError:
                    raise TracingConfigError(
                        "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the opentelemetry-exporter-otlp-proto-grpc "
                        "package; tradebus ships http/protobuf (collector port 4318)"
                    ) from None
                out.append(GrpcExporter())
            else:
                raise TracingConfigError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not supported (use http/protobuf or grpc)"
                )
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            out.append(ConsoleSpanExporter())
        else:
            raise TracingConfigError(f"OTEL_TRACES_EXPORTER: {name!r} is not one of otlp, console, none")
    return out


def setup_tracing(
    service_name: str,
    *,
    exporter: SpanExporter | None = None,
    batch: bool = False,
    env: Mapping[str, str] | None = None,
) -> bool:
    """Turn tracing on if the environment asks for it (or ``exporter`` is given); True if on.

    ``service_name`` is used unless ``OTEL_SERVICE_NAME`` is set. A given ``exporter`` (tests,
    benchmarks) is fed synchronously unless ``batch``; environment exporters always go through a
    ``BatchSpanProcessor`` (a background thread: the event loop never waits on the collector).
    Calling it again replaces the previous setup (which is shut down first).
    """
    env = os.environ if env is None else env
    if exporter is None and not tracing_requested(env):
        return False
    exporters = [exporter] if exporter is not None else _env_exporters(env)
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode, get_current_span, set_span_in_context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from strategy_client import __version__

    shutdown_tracing()
    if exporter is None:  # the library's export errors: one formatted line, then once a minute
        route_otel_logs(env)
    attributes = {} if env.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    for exp in exporters:
        use_batch = batch or exporter is None
        provider.add_span_processor(BatchSpanProcessor(exp) if use_batch else SimpleSpanProcessor(exp))
    _state.provider = provider
    _state.propagator = TraceContextTextMapPropagator()
    _state.kinds = {"client": SpanKind.CLIENT, "server": SpanKind.SERVER, "internal": SpanKind.INTERNAL}
    _state.error_status = lambda description: Status(StatusCode.ERROR, description)
    _state.current_span = get_current_span
    _state.set_span = set_span_in_context
    _state.tracer = provider.get_tracer("tradebus", __version__)
    return True


def shutdown_tracing() -> None:
    """Flush and stop the exporters; tracing is off afterwards."""
    provider, _state.provider, _state.tracer = _state.provider, None, None
    if provider is not None:
        provider.shutdown()
    unroute_otel_logs()  # after the last export attempt: its count is reported


def set_client_observer(observer: ClientObserver | None) -> None:
    """Install (or remove) the observer every :func:`client_span` reports to."""
    _state.client_observer = observer


# -- scopes ----------------------------------------------------------------------------------


def outcome_of(exc: BaseException | None) -> str:
    """A bounded outcome label for a CoreApi call: ``ok``, the error code, or the error class."""
    if exc is None:
        return "ok"
    code = getattr(exc, "code", None)
    value = getattr(code, "value", None)
    if isinstance(value, str) and value:
        return value
    return type(exc).__name__


class SpanScope:
    """What ``with client_span(...)``/``server_span(...)`` yields.

    ``traceparent``/``tracestate`` are the W3C headers of this span ("" when tracing is off);
    ``set_error`` marks a failure reported without an exception (an error reply).
    """

    __slots__ = ()

    @property
    def traceparent(self) -> str:
        return ""

    @property
    def tracestate(self) -> str:
        return ""

    def set_attribute(self, key: str, value: str | int | float | bool) -> None:
        """No-op while tracing is off."""

    def set_error(self, code: str, message: str = "") -> None:
        """No-op while tracing is off."""

    def __enter__(self) -> SpanScope:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


_NOOP = SpanScope()


class _LiveScope(SpanScope):
    """A real span, entered as the current span of this context."""

    __slots__ = ("_name", "_kind", "_attributes", "_parent", "_cm", "span", "_error", "_headers")

    def __init__(self, name: str, kind: str, attributes: dict[str, Any], parent: Any = None) -> None:
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._parent = parent
        self._cm: Any = None
        self.span: Span | None = None
        self._error = ""
        self._headers: dict[str, str] | None = None

    def _w3c(self) -> dict[str, str]:
        """The span's W3C headers, formatted on first use (most spans never need them)."""
        if self._headers is None:
            carrier: dict[str, str] = {}
            if self.span is not None:
                _state.propagator.inject(carrier, context=_state.set_span(self.span))
            self._headers = carrier
        return self._headers

    @property
    def traceparent(self) -> str:
        return self._w3c().get("traceparent", "")

    @property
    def tracestate(self) -> str:
        return self._w3c().get("tracestate", "")

    def __enter__(self) -> SpanScope:
        tracer = _state.tracer
        if tracer is None:  # tracing switched off in between
            return self
        self._cm = tracer.start_as_current_span(
            self._name, context=self._parent, kind=_state.kinds[self._kind], attributes=self._attributes
        )
        self.span = self._cm.__enter__()
        return self

    def set_attribute(self, key: str, value: str | int | float | bool) -> None:
        if self.span is not None:
            self.span.set_attribute(key, value)

    def set_error(self, code: str, message: str = "") -> None:
        self._error = code
        if self.span is not None and _state.error_status is not None:
            self.span.set_attribute("tradebus.error_code", code)
            self.span.set_status(_state.error_status(f"{code}: {message}" if message else code))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._cm is not None:
            if exc is not None and self.span is not None:
                self.span.set_attribute("tradebus.outcome", outcome_of(exc))
            self._cm.__exit__(exc_type, exc, tb)
        return None


class _ClientScope(_LiveScope):
    """A CoreApi call seen from the client: a CLIENT span and/or the observer's latency."""

    __slots__ = ("_method", "_t0", "_observer")

    def __init__(self, method: str, attributes: dict[str, Any], observer: ClientObserver | None) -> None:
        super().__init__(f"{_RPC_SERVICE}/{method}", "client", attributes)
        self._method = method
        self._observer = observer
        self._t0 = 0.0

    def __enter__(self) -> SpanScope:
        self._t0 = time.perf_counter()
        if _state.tracer is not None:
            super().__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._observer is not None:
            outcome = self._error or outcome_of(exc)
            self._observer(self._method, outcome, time.perf_counter() - self._t0)
        super().__exit__(exc_type, exc, tb)
        return None


def client_span(method: str, *, peer: str = "") -> SpanScope:
    """Wrap one CoreApi call on the client: ``with client_span("submit_order") as s: ...``.

    Put ``s.traceparent``/``s.tracestate`` in the request header. With tracing off and no
    client observer this is a shared no-op object (one check).
    """
    observer = _state.client_observer
    if _state.tracer is None and observer is None:
        return _NOOP
    attributes: dict[str, Any] = {"rpc.system": "tradebus", "rpc.service": _RPC_SERVICE, "rpc.method": method}
    if peer:
        attributes["server.address"] = peer
    return _ClientScope(method, attributes, observer)


def server_span(method: str, traceparent: str = "", tracestate: str = "", *, exchange: str = "") -> SpanScope:
    """The runner's span for one CoreApi request, continuing the caller's trace if it sent one."""
    if _state.tracer is None:
        return _NOOP
    parent = None
    if traceparent:
        carrier = {"traceparent": traceparent}
        if tracestate:
            carrier["tracestate"] = tracestate
        parent = _state.propagator.extract(carrier)
    attributes: dict[str, Any] = {"rpc.system": "tradebus", "rpc.service": _RPC_SERVICE, "rpc.method": method}
    if exchange:
        attributes["tradebus.exchange"] = exchange
    return _LiveScope(f"{_RPC_SERVICE}/{method}", "server", attributes, parent)


def child_span(name: str, *, kind: str = "internal", attributes: dict[str, Any] | None = None) -> SpanScope:
    """A span under the current one (``kind``: ``client`` for calls out, else ``internal``)."""
    if _state.tracer is None:
        return _NOOP
    return _LiveScope(name, kind if kind in ("client", "server") else "internal", attributes or {})


def capture_context() -> contextvars.Context | None:
    """The current context to carry across a queue (None while tracing is off: nothing to carry)."""
    if _state.tracer is None:
        return None
    return contextvars.copy_context()


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span in hex, or None (tracing off or no span)."""
    current = _state.current_span
    if _state.tracer is None or current is None:
        return None
    ctx = current().get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
