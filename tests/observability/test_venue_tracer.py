"""``exchanges.telemetry``'s tracer hook: venue requests open spans through whatever tracer is
installed (the runner installs the OpenTelemetry one), so ``exchanges`` needs none of the
client's telemetry (docs/contributing.md, the import contracts)."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

import pytest

import exchange_runner  # noqa: F401 - importing the runner package installs its tracer
from exchange_runner.venue_tracing import OtelVenueTracer
from exchanges.errors import RateLimited
from exchanges.telemetry import VenueTracer, observe_request, set_tracer


class Span:
    def __init__(self, log: list[tuple[str, object]], name: str, attributes: dict[str, str]) -> None:
        self.log = log
        log.append(("open", (name, attributes)))

    def set_attribute(self, key: str, value: str) -> None:
        self.log.append(("attr", (key, value)))

    def set_error(self, code: str, message: str = "") -> None:
        self.log.append(("error", code))

    def __enter__(self) -> Span:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.log.append(("close", exc_type))


class Tracer:
    def __init__(self, on: bool) -> None:
        self.on = on
        self.log: list[tuple[str, object]] = []

    def enabled(self) -> bool:
        return self.on

    def request_span(self, name: str, attributes: dict[str, str]) -> Span:
        return Span(self.log, name, attributes)


@pytest.fixture
def installed() -> Iterator[list[VenueTracer | None]]:
    """Swap the process's tracer for the test and put the runner's back after it."""
    previous = set_tracer(None)
    yield [previous]
    set_tracer(previous)


def test_the_runner_package_installs_the_opentelemetry_tracer(installed: list[VenueTracer | None]) -> None:
    assert isinstance(installed[0], OtelVenueTracer)


def test_a_request_opens_a_client_span_with_its_outcome(installed: list[VenueTracer | None]) -> None:
    tracer = Tracer(on=True)
    set_tracer(tracer)
    with pytest.raises(RateLimited), observe_request("binance-spot", "/api/v3/order", "POST"):
        raise RateLimited("429", venue="binance")
    assert tracer.log == [
        (
            "open",
            (
                "POST /api/v3/order",
                {"tradebus.venue": "binance-spot", "http.request.method": "POST", "url.path": "/api/v3/order"},
            ),
        ),
        ("attr", ("tradebus.outcome", "rate_limited")),
        ("error", "rate_limited"),
        ("close", RateLimited),
    ]


def test_no_span_while_the_tracer_is_off_or_absent(installed: list[VenueTracer | None]) -> None:
    tracer = Tracer(on=False)
    set_tracer(tracer)
    with observe_request("okx", "/api/v5/trade/order", "POST"):
        pass
    set_tracer(None)
    with observe_request("okx", "/api/v5/trade/order", "POST"):
        pass
    assert tracer.log == []
