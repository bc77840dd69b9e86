"""BybitRestClient with httpx's MockTransport: what is signed is what is sent, the retry policy
(10002 resync, reads retried, orders never), and the rate-limit state of ``http.py``
(per-path limit headers, 10006 blocks until the reset, HTTP 403 blocks the host)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchanges.bybit.rest import BybitRestClient
from exchanges.bybit.signing import sign_rest
from exchanges.credentials import Credentials
from exchanges.errors import IpBanned, RateLimited, TimestampOutOfWindow, UnknownOutcome
from exchanges.transport.clock import ServerClock

FIXTURES = Path(__file__).parent / "fixtures"
CREDS = Credentials("bybit-key", "bybit-secret")
SERVER_MS = 1_760_325_061_234


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def envelope(result: object, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": SERVER_MS}


class Venue:
    """Records requests; answers by path from ``routes`` (a response or a list taken in turn)."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v5/market/time":
            return httpx.Response(200, json=envelope({"timeSecond": str(SERVER_MS // 1000)}))
        route = self.routes[request.url.path]
        answer = route.pop(0) if isinstance(route, list) else route
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests if r.url.path != "/v5/market/time"]


def client(venue: Venue, **kw: Any) -> tuple[BybitRestClient, list[float]]:
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    rest = BybitRestClient(
        "http://bybit.test",
        CREDS,
        transport=httpx.MockTransport(venue),
        clock=kw.pop("clock", ServerClock()),
        sleep=sleep,
        jitter=lambda: 0.5,
        **kw,
    )
    return rest, sleeps


def ok(body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(200, content=content, headers=headers)


async def test_get_is_signed_over_the_query_exactly_as_sent() -> None:
    venue = Venue({"/v5/order/realtime": ok(fixture("http_order_realtime.json"))})
    rest, _ = client(venue)
    await rest.query_order("/v5/order/realtime", "linear", "BTCUSDT", link_id="cid-1")
    req = venue.requests[-1]
    query = req.url.query.decode()
    assert "orderLinkId=cid-1" in query and "category=linear" in query
    headers = req.headers
    assert headers["X-BAPI-API-KEY"] == "bybit-key" and headers["X-BAPI-RECV-WINDOW"] == "5000"
    expected = sign_rest("bybit-secret", headers["X-BAPI-TIMESTAMP"], "bybit-key", "5000", query)
    assert headers["X-BAPI-SIGN"] == expected and headers["X-BAPI-SIGN-TYPE"] == "2"
    await rest.close()


async def test_post_is_signed_over_the_json_body_exactly_as_sent() -> None:
    venue = Venue({"/v5/order/create": ok(fixture("http_order_create.json"))})
    rest, _ = client(venue)
    params = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.01"}
    await rest.create_order({**params, "price": None})
    req = venue.requests[-1]
    assert json.loads(req.content) == params  # None dropped, order kept
    assert req.headers["Content-Type"] == "application/json"
    ts = req.headers["X-BAPI-TIMESTAMP"]
    assert req.headers["X-BAPI-SIGN"] == sign_rest("bybit-secret", ts, "bybit-key", "5000", req.content)
    await rest.close()


async def test_a_10002_refusal_remeasures_the_clock_and_resends_the_order_once() -> None:
    clock = ServerClock(wall_ms=lambda: SERVER_MS)
    clock.update(SERVER_MS - 60_000, SERVER_MS, SERVER_MS)  # a minute off
    venue = Venue({"/v5/order/create": [ok(fixture("http_error_10002.json")), ok(fixture("http_order_create.json"))]})
    rest, _ = client(venue, clock=clock)
    ack = await rest.create_order({"category": "linear", "symbol": "BTCUSDT"})
    assert ack.orderId and venue.paths() == ["/v5/order/create", "/v5/order/create"]
    times = [r for r in venue.requests if r.url.path == "/v5/market/time"]
    assert len(times) == 1  # measured again after the refusal
    first, second = (int(r.headers["X-BAPI-TIMESTAMP"]) for r in venue.requests if r.url.path == "/v5/order/create")
    assert second - first == 60_000  # the resend is stamped with the corrected clock
    await rest.close()


async def test_a_second_10002_is_raised() -> None:
    venue = Venue({"/v5/order/create": [ok(fixture("http_error_10002.json"))] * 2})
    rest, _ = client(venue)
    with pytest.raises(TimestampOutOfWindow):
        await rest.create_order({"category": "linear", "symbol": "BTCUSDT"})
    assert venue.paths() == ["/v5/order/create"] * 2
    await rest.close()


async def test_reads_are_retried_on_5xx_and_timeouts_orders_never() -> None:
    busy = httpx.Response(503, text="busy")
    book = ok(fixture("http_orderbook.json"))
    venue = Venue(
        {
            "/v5/market/orderbook": [busy, httpx.ReadTimeout("slow"), book],
            "/v5/order/create": [httpx.ReadTimeout("slow")],
        }
    )
    rest, sleeps = client(venue)
    snapshot, _ = await rest.orderbook("linear", "BTCUSDT", 50)
    assert snapshot.u == 230704 and len(sleeps) == 2 and sleeps[1] > sleeps[0]
    with pytest.raises(UnknownOutcome):
        await rest.create_order({"category": "linear", "symbol": "BTCUSDT"})
    assert venue.paths().count("/v5/order/create") == 1
    await rest.close()


async def test_retries_give_up_after_max_retries() -> None:
    venue = Venue({"/v5/market/orderbook": [httpx.Response(503, text="busy")] * 5})
    rest, sleeps = client(venue, max_retries=2)
    with pytest.raises(UnknownOutcome):  # a 5xx without an envelope: the outcome is unknown
        await rest.orderbook("linear", "BTCUSDT", 50)
    assert len(venue.paths()) == 3 and len(sleeps) == 2
    await rest.close()


def limited(remaining: int, reset_ms: int, limit: int = 10) -> Callable[[bytes], httpx.Response]:
    def answer(body: bytes) -> httpx.Response:
        headers = {
            "X-Bapi-Limit": str(limit),
            "X-Bapi-Limit-Status": str(remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(reset_ms),
        }
        return ok(body, headers)

    return answer


async def test_limit_headers_are_tracked_per_path_and_a_spent_window_is_waited_for() -> None:
    now_ms = [SERVER_MS]
    clock = ServerClock(wall_ms=lambda: now_ms[0])
    venue = Venue({"/v5/position/list": [limited(0, SERVER_MS + 500)(fixture("http_position_list.json"))] * 2})
    rest, sleeps = client(venue, clock=clock)
    await rest.positions(category="linear")
    usage = rest.http.usage("/v5/position/list")
    assert (usage.limit, usage.remaining, usage.reset_ms) == (10, 0, SERVER_MS + 500)
    await rest.positions(category="linear")  # waits for the reset it was told about, then sends
    assert sleeps == [pytest.approx(0.5)] and len(venue.paths()) == 2
    assert rest.http.stats.waited == 1
    await rest.close()


async def test_10006_blocks_the_path_until_its_reset_and_fails_fast_beyond_the_wait_limit() -> None:
    now_ms = [SERVER_MS]
    clock = ServerClock(wall_ms=lambda: now_ms[0])
    refused = limited(0, SERVER_MS + 5_000)(json.dumps(envelope({}, 10006, "Too many visits!")).encode())
    venue = Venue({"/v5/position/list": [refused]})
    rest, _ = client(venue, clock=clock)
    with pytest.raises(RateLimited) as first:
        await rest.positions(category="linear")
    assert first.value.retry_after_s == pytest.approx(5.0)
    with pytest.raises(RateLimited):
        await rest.positions(category="linear")  # 5 s > max_limit_wait_s: refused without sending
    assert len(venue.paths()) == 1 and rest.http.stats.refused_locally == 1
    await rest.close()


async def test_http_403_bans_the_whole_host() -> None:
    venue = Venue({"/v5/position/list": httpx.Response(403, text="access too frequent")})
    rest, _ = client(venue)
    with pytest.raises(IpBanned):
        await rest.positions(category="linear")
    with pytest.raises(IpBanned):
        await rest.orderbook("linear", "BTCUSDT", 50)  # another path: the host is blocked
    assert venue.paths() == ["/v5/position/list"]
    await rest.close()
