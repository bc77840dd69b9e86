"""The shared REST pieces with httpx's MockTransport: delivery classification of HttpHost,
the retry policy of RequestLoop by error class, clock resync on a timestamp refusal, and
Retry-After handling of the venues' host hooks built on them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from exchanges.binance.http import BinanceHost
from exchanges.errors import (
    AuthError,
    ExchangeError,
    RateLimited,
    ServiceUnavailable,
    TimestampOutOfWindow,
    TransportError,
    UnknownOutcome,
)
from exchanges.okx.http import OkxHttp
from exchanges.transport.clock import ServerClock
from exchanges.transport.http import HttpHost, RequestLoop, retry_after_s


class PassHooks:
    """Hooks that let everything through and return the body of any 2xx."""

    async def before(self, method: str, path: str) -> None:
        return None

    def after(self, method: str, path: str, response: httpx.Response) -> bytes:
        if response.is_success:
            return response.content
        raise ServiceUnavailable(f"HTTP {response.status_code}", venue="t")


def host(handler: Callable[[httpx.Request], httpx.Response]) -> HttpHost:
    return HttpHost("t", "http://venue.test", PassHooks(), transport=httpx.MockTransport(handler))


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), TransportError),
        (httpx.ConnectTimeout("slow handshake"), TransportError),
        (httpx.PoolTimeout("no connection"), TransportError),
        (httpx.ReadTimeout("no answer"), UnknownOutcome),
        (httpx.RemoteProtocolError("dropped"), UnknownOutcome),
    ],
)
async def test_transport_failures_are_classed_by_what_they_imply_about_delivery(
    exc: Exception, expected: type[ExchangeError]
) -> None:
    h = host(raising(exc))
    with pytest.raises(expected):
        await h.send("GET", "/x")
    assert h.requests_sent == 1
    await h.aclose()


async def test_sends_exactly_the_query_body_and_headers_given() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"ok")

    h = host(handler)
    assert await h.send("POST", "/o", query="a=1&b=2", body="x=1", headers={"K": "v"}) == b"ok"
    assert seen[0].url.path == "/o" and seen[0].url.query == b"a=1&b=2"
    assert seen[0].content == b"x=1" and seen[0].headers["K"] == "v"
    await h.aclose()


class Script:
    """``send_once`` that raises the scripted errors in turn, then returns ``b"ok"``."""

    def __init__(self, *errors: ExchangeError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> bytes:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return b"ok"


def loop(clock: ServerClock | None = None) -> tuple[RequestLoop, list[float]]:
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    return RequestLoop("t", clock or measured_clock(), max_retries=3, sleep=sleep, jitter=lambda: 0.5), sleeps


def measured_clock() -> ServerClock:
    clock = ServerClock(wall_ms=lambda: 1_000)
    clock.update(1_000, 1_000, 1_000)
    return clock


async def server_ms() -> int:
    return 5_000


@pytest.mark.parametrize(
    "error",
    [TransportError("x", venue="t"), UnknownOutcome("x", venue="t"), ServiceUnavailable("x", venue="t")],
)
async def test_retryable_classes_are_retried_with_backoff_when_the_call_allows(error: ExchangeError) -> None:
    rl, sleeps = loop()
    script = Script(error, error)
    assert await rl.call(script, what="/x", signed=False, retry=True, server_ms=server_ms) == b"ok"
    assert script.calls == 3 and sleeps == [rl.backoff_s(0), rl.backoff_s(1)]
    assert sleeps[1] > sleeps[0]


async def test_a_call_not_marked_retry_is_sent_once() -> None:
    rl, sleeps = loop()
    script = Script(UnknownOutcome("maybe placed", venue="t"))
    with pytest.raises(UnknownOutcome):
        await rl.call(script, what="/order", signed=True, retry=False, server_ms=server_ms)
    assert script.calls == 1 and sleeps == []


@pytest.mark.parametrize("error", [RateLimited("429", retry_after_s=5, venue="t"), AuthError("bad key", venue="t")])
async def test_rate_limits_and_refusals_are_never_retried(error: ExchangeError) -> None:
    rl, sleeps = loop()
    script = Script(error)
    with pytest.raises(type(error)):
        await rl.call(script, what="/x", signed=False, retry=True, server_ms=server_ms)
    assert script.calls == 1 and sleeps == []


async def test_retries_stop_after_max_retries() -> None:
    rl, sleeps = loop()
    script = Script(*[TransportError("down", venue="t")] * 10)
    with pytest.raises(TransportError):
        await rl.call(script, what="/x", signed=False, retry=True, server_ms=server_ms)
    assert script.calls == 4 and len(sleeps) == 3


async def test_a_timestamp_refusal_resyncs_the_clock_and_resends_once() -> None:
    clock = measured_clock()
    rl, _ = loop(clock)
    script = Script(TimestampOutOfWindow("-1021", venue="t"))
    assert await rl.call(script, what="/order", signed=True, retry=False, server_ms=server_ms) == b"ok"
    assert script.calls == 2 and clock.offset_ms == 4_000
    twice = Script(TimestampOutOfWindow("-1021", venue="t"), TimestampOutOfWindow("-1021", venue="t"))
    with pytest.raises(TimestampOutOfWindow):
        await rl.call(twice, what="/order", signed=True, retry=False, server_ms=server_ms)
    assert twice.calls == 2


async def test_a_stale_clock_is_refreshed_before_a_signed_call_and_kept_when_refresh_fails() -> None:
    now = [0.0]
    clock = ServerClock(wall_ms=lambda: 1_000, max_age_s=10, monotonic=lambda: now[0])
    clock.update(1_100, 1_000, 1_000)
    rl, _ = loop(clock)
    now[0] = 11.0  # stale

    async def failing() -> int:
        raise TransportError("time endpoint down", venue="t")

    assert await rl.call(Script(), what="/x", signed=True, retry=False, server_ms=failing) == b"ok"
    assert clock.offset_ms == 100  # kept
    assert await rl.call(Script(), what="/x", signed=True, retry=False, server_ms=server_ms) == b"ok"
    assert clock.offset_ms == 4_000 and not clock.needs_refresh


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), (" 2.5 ", 2.5), ("-1", None), ("soon", None), ("inf", None)]
)
def test_retry_after_header(header: str, seconds: float | None) -> None:
    assert retry_after_s(header) == seconds
    assert retry_after_s(None) is None


async def test_binance_host_blocks_until_retry_after_and_fails_fast_meanwhile() -> None:
    calls: list[str] = []
    now = [100.0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(429, json={"code": -1003, "msg": "too many"}, headers={"Retry-After": "7"})

    h = BinanceHost("spot", "http://b.test", transport=httpx.MockTransport(handler), monotonic=lambda: now[0])
    with pytest.raises(RateLimited) as first:
        await h.send("GET", "/api/v3/depth")
    assert first.value.retry_after_s == 7.0
    with pytest.raises(RateLimited) as second:
        await h.send("GET", "/api/v3/time")
    assert calls == ["/api/v3/depth"] and second.value.retry_after_s == pytest.approx(7.0)
    now[0] += 7.5
    with pytest.raises(RateLimited):
        await h.send("GET", "/api/v3/time")
    assert len(calls) == 2  # the block ran out: sent again
    await h.aclose()


async def test_okx_blocks_only_the_refused_path_for_its_retry_after() -> None:
    calls: list[str] = []
    now = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/hot":
            return httpx.Response(
                429, json={"code": "50011", "msg": "slow down", "data": []}, headers={"Retry-After": "3"}
            )
        return httpx.Response(200, json={"code": "0", "msg": "", "data": []})

    h = OkxHttp("http://o.test", None, ServerClock(), transport=httpx.MockTransport(handler), monotonic=lambda: now[0])
    with pytest.raises(RateLimited):
        await h.request("GET", "/hot")
    with pytest.raises(RateLimited):
        await h.request("GET", "/hot")
    await h.request("GET", "/cold")
    assert calls == ["/hot", "/cold"] and h.blocked_for_s("/hot") == pytest.approx(3.0)
    assert h.requests_sent == 2
    await h.aclose()
