"""BinanceRestClient against httpx.MockTransport: signing, retries, rate limits, clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.signing import sign_rest, sign_ws_params
from exchanges.binance.urls import BinanceUrls
from exchanges.credentials import Credentials
from exchanges.errors import (
    AuthError,
    InvalidRequest,
    IpBanned,
    ListenKeyExpired,
    MalformedPayload,
    RateLimited,
    ServiceUnavailable,
    TimestampOutOfWindow,
    TransportError,
    UnknownOutcome,
)
from exchanges.transport.clock import ServerClock

FIXTURES = Path(__file__).parent / "fixtures"
URLS = BinanceUrls.sim(18000)
SPOT_DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SPOT_DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
FUT_DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class FakeTime:
    """Injectable wall clock, monotonic clock and sleep (sleep advances both)."""

    def __init__(self, wall_ms: int = 1_752_148_800_000) -> None:
        self.wall = wall_ms
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def wall_ms(self) -> int:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.mono += seconds
        self.wall += int(seconds * 1000)


class Venue:
    """Routes (method, path) to handlers; each handler may be a list consumed in order."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Handler]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *handlers: Handler) -> None:
        self.routes[(method, path)] = list(handlers)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path == path)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handlers = self.routes.get((request.method, request.url.path))
        if not handlers:
            return httpx.Response(404, json={"code": -1, "msg": f"no route {request.url.path}"})
        handler = handlers.pop(0) if len(handlers) > 1 else handlers[0]
        return handler(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def ok(body: bytes | dict[str, object] | list[object], **headers: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(200, content=body, headers=headers)
        return httpx.Response(200, json=body, headers=headers)

    return handler


def fail(status: int, code: int | None = None, msg: str = "", **headers: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if code is None:
            return httpx.Response(status, text=msg, headers=headers)
        return httpx.Response(status, json={"code": code, "msg": msg}, headers=headers)

    return handler


def raise_(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return handler


def measured_clock(t: FakeTime) -> ServerClock:
    clock = ServerClock(t.wall_ms, monotonic=t.monotonic)
    clock.update(t.wall, t.wall, t.wall)  # offset 0, fresh
    return clock


def make_client(
    venue: Venue, t: FakeTime, *, secret: str = SPOT_DOC_SECRET, creds: bool = True, max_retries: int = 3
) -> BinanceRestClient:
    return BinanceRestClient(
        URLS,
        Credentials(SPOT_DOC_KEY, secret) if creds else None,
        transport=venue.transport(),
        clock=measured_clock(t),
        max_retries=max_retries,
        sleep=t.sleep,
        monotonic=t.monotonic,
        jitter=lambda: 0.5,
    )


# ------------------------------------------------------------------------------ signing (§2)


def test_doc_vectors() -> None:
    rest = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert (
        sign_rest(SPOT_DOC_SECRET, rest) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    # the same payload split between query and body signs identically (no separator)
    cut = rest.index("&quantity")
    assert sign_rest(SPOT_DOC_SECRET, rest[:cut], rest[cut:]) == sign_rest(SPOT_DOC_SECRET, rest)
    ws = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": SPOT_DOC_KEY,
    }
    assert (
        sign_ws_params(SPOT_DOC_SECRET, ws)
        == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    )


async def test_client_reproduces_spot_doc_signature() -> None:
    t = FakeTime(wall_ms=1499827319559)
    venue = Venue()
    venue.on("POST", "/api/v3/order", ok(fixture("http_post_api_v3_order_full.json")))
    client = make_client(venue, t)
    params = {
        "symbol": "LTCBTC",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "1",
        "price": "0.1",
    }
    await client.spot_place_order(params)
    await client.close()
    (request,) = venue.requests
    assert request.url.query == b""
    assert request.content.decode() == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
        "&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    assert request.headers["X-MBX-APIKEY"] == SPOT_DOC_KEY
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    everything = str(request.url) + str(dict(request.headers)) + request.content.decode()
    assert SPOT_DOC_SECRET not in everything


async def test_client_reproduces_futures_doc_signature() -> None:
    t = FakeTime(wall_ms=1591702613943)
    venue = Venue()
    venue.on("POST", "/fapi/v1/order", ok(fixture("http_post_fapi_v1_order.json")))
    client = make_client(venue, t, secret=FUT_DOC_SECRET)
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "1",
        "price": "9000",
        "timeInForce": "GTC",
    }
    order = await client.futures_place_order(params)
    await client.close()
    assert order.orderId == 4120557001
    assert (
        venue.requests[0]
        .content.decode()
        .endswith(
            "recvWindow=5000&timestamp=1591702613943"
            "&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
        )
    )


async def test_get_is_signed_in_the_query_and_verifies() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("GET", "/api/v3/order", ok(fixture("http_get_api_v3_order.json")))
    client = make_client(venue, t)
    # every character Binance allows in a client id survives encoding exactly as signed
    await client.spot_get_order("BTCUSDT", client_id="A.b:c/d_e-1")
    await client.close()
    (request,) = venue.requests
    assert request.content == b""
    query = request.url.query.decode()
    payload, signature = query.rsplit("&signature=", 1)
    assert sign_rest(SPOT_DOC_SECRET, payload) == signature
    assert dict(parse_qsl(payload)) == {
        "symbol": "BTCUSDT",
        "origClientOrderId": "A.b:c/d_e-1",
        "recvWindow": "5000",
        "timestamp": str(t.wall),
    }


async def test_signed_call_without_credentials() -> None:
    venue = Venue()
    client = make_client(venue, FakeTime(), creds=False)
    with pytest.raises(AuthError):
        await client.spot_account()
    assert venue.requests == []
    await client.close()


# ------------------------------------------------------------------------------ retries


async def test_reads_retry_retryable_failures_with_backoff() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on(
        "GET",
        "/fapi/v1/depth",
        fail(502, msg="Bad Gateway"),
        raise_(httpx.ReadTimeout),
        raise_(httpx.ConnectError),
        ok(fixture("http_get_fapi_v1_depth.json")),
    )
    client = make_client(venue, t)
    depth = await client.depth("futures", "BTCUSDT", 5)
    await client.close()
    assert depth.lastUpdateId == 8841152047
    assert venue.count("GET", "/fapi/v1/depth") == 4
    # equal jitter at 0.5: 3/4 of the capped exponential step
    assert t.sleeps == pytest.approx([0.075, 0.15, 0.3])


async def test_reads_give_up_after_max_retries() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("GET", "/api/v3/depth", fail(500))
    client = make_client(venue, t, max_retries=2)
    with pytest.raises(UnknownOutcome):
        await client.depth("spot", "BTCUSDT")
    await client.close()
    assert venue.count("GET", "/api/v3/depth") == 3


async def test_non_retryable_errors_are_not_retried() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("GET", "/api/v3/depth", fail(400, -1121, "Invalid symbol."))
    client = make_client(venue, t)
    with pytest.raises(InvalidRequest, match="Invalid symbol"):
        await client.depth("spot", "NOPE")
    await client.close()
    assert venue.count("GET", "/api/v3/depth") == 1 and t.sleeps == []


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (fail(500), UnknownOutcome),
        (fail(400, -1007, "Timeout waiting for response from backend server."), UnknownOutcome),
        (raise_(httpx.ReadTimeout), UnknownOutcome),
        (raise_(httpx.RemoteProtocolError), UnknownOutcome),
        (raise_(httpx.ConnectError), TransportError),
        (fail(503, msg="Service Unavailable."), ServiceUnavailable),
    ],
)
async def test_order_placement_is_never_retried(handler: Handler, expected: type[Exception]) -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/fapi/v1/order", handler)
    client = make_client(venue, t)
    with pytest.raises(expected):
        await client.futures_place_order(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
        )
    await client.close()
    assert venue.count("POST", "/fapi/v1/order") == 1
    assert t.sleeps == []


async def test_cancel_is_never_retried() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("DELETE", "/api/v3/order", raise_(httpx.ReadTimeout))
    client = make_client(venue, t)
    with pytest.raises(UnknownOutcome):
        await client.spot_cancel_order("BTCUSDT", client_id="x")
    await client.close()
    assert venue.count("DELETE", "/api/v3/order") == 1


async def test_malformed_body_is_reported() -> None:
    venue = Venue()
    venue.on("GET", "/api/v3/depth", ok(b'{"lastUpdateId":"nope"}'))
    client = make_client(venue, FakeTime())
    with pytest.raises(MalformedPayload):
        await client.depth("spot", "BTCUSDT")
    await client.close()


# ------------------------------------------------------------------------------ rate limits


async def test_weight_and_order_count_headers_are_tracked() -> None:
    venue = Venue()
    venue.on(
        "POST",
        "/api/v3/order",
        ok(
            fixture("http_post_api_v3_order_full.json"),
            **{"X-MBX-USED-WEIGHT-1M": "37", "X-MBX-ORDER-COUNT-10S": "3", "X-MBX-ORDER-COUNT-1D": "120"},
        ),
    )
    venue.on(
        "GET", "/fapi/v1/depth", ok(fixture("http_get_fapi_v1_depth.json"), **{"x-mbx-used-weight-1m": "12"})
    )
    client = make_client(venue, FakeTime())
    assert client.used_weight("spot") is None
    await client.spot_place_order({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"})
    await client.depth("futures", "BTCUSDT", 5)
    await client.close()
    assert client.used_weight("spot") == 37
    assert client.order_counts("spot") == {"10s": 3, "1d": 120}
    assert client.used_weight("futures") == 12 and client.order_counts("futures") == {}
    assert client.usage("spot").requests_sent == 1


async def test_429_blocks_the_host_until_retry_after() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on(
        "GET",
        "/api/v3/depth",
        fail(429, -1003, "Too much request weight used", **{"Retry-After": "7"}),
        ok(fixture("http_get_api_v3_depth.json")),
    )
    venue.on("GET", "/fapi/v1/depth", ok(fixture("http_get_fapi_v1_depth.json")))
    client = make_client(venue, t)
    with pytest.raises(RateLimited) as info:
        await client.depth("spot", "BTCUSDT")
    assert info.value.retry_after_s == 7.0 and not isinstance(info.value, IpBanned)
    # blocked: fails fast without touching the network
    t.mono += 6.5
    with pytest.raises(RateLimited) as again:
        await client.depth("spot", "BTCUSDT")
    assert again.value.retry_after_s == pytest.approx(0.5)
    assert venue.count("GET", "/api/v3/depth") == 1
    assert client.usage("spot").blocked_for_s == pytest.approx(0.5)
    # the other host is not affected
    await client.depth("futures", "BTCUSDT", 5)
    t.mono += 0.6
    depth = await client.depth("spot", "BTCUSDT")
    assert depth.lastUpdateId == 1027024 and venue.count("GET", "/api/v3/depth") == 2
    await client.close()


async def test_418_ban_and_429_without_retry_after() -> None:
    t = FakeTime(wall_ms=1_752_148_845_000)  # :45 past the minute
    venue = Venue()
    venue.on("GET", "/api/v3/depth", fail(418, -1003, "IP banned"))
    venue.on("GET", "/fapi/v1/depth", fail(429, -1003, "Too many requests."))
    client = make_client(venue, t)
    with pytest.raises(IpBanned) as banned:
        await client.depth("spot", "BTCUSDT")
    assert banned.value.retry_after_s == 120.0 and client.usage("spot").banned
    with pytest.raises(IpBanned):
        await client.depth("spot", "BTCUSDT")
    # futures documents no Retry-After: wait for the clock-aligned minute to roll over
    with pytest.raises(RateLimited) as limited:
        await client.depth("futures", "BTCUSDT", 5)
    assert limited.value.retry_after_s == pytest.approx(15.0)
    assert venue.count("GET", "/api/v3/depth") == 1 and venue.count("GET", "/fapi/v1/depth") == 1
    await client.close()


# ------------------------------------------------------------------------------ clock


async def test_start_measures_the_offset() -> None:
    t = FakeTime()
    venue = Venue()

    def server_time(request: httpx.Request) -> httpx.Response:
        t.wall += 40  # 40 ms round trip: the venue answers half way
        return httpx.Response(200, json={"serverTime": t.wall - 20 + 1500})

    venue.on("GET", "/api/v3/time", server_time)
    client = BinanceRestClient(
        URLS, None, transport=venue.transport(), clock=ServerClock(t.wall_ms, monotonic=t.monotonic)
    )
    await client.start()
    await client.close()
    assert client.clock.offset_ms == 1500 and client.clock.rtt_ms == 40


async def test_minus_1021_resyncs_the_clock_and_retries_once() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on(
        "POST",
        "/api/v3/order",
        fail(400, -1021, "Timestamp for this request is outside of the recvWindow."),
        ok(fixture("http_post_api_v3_order_full.json")),
    )
    venue.on("GET", "/api/v3/time", lambda r: httpx.Response(200, json={"serverTime": t.wall + 3000}))
    client = make_client(venue, t)
    order = await client.spot_place_order(
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
    )
    await client.close()
    assert order.orderId == 28457190
    assert [(r.method, r.url.path) for r in venue.requests] == [
        ("POST", "/api/v3/order"),
        ("GET", "/api/v3/time"),
        ("POST", "/api/v3/order"),
    ]
    stamps = [dict(parse_qsl(r.content.decode()))["timestamp"] for r in venue.requests if r.method == "POST"]
    assert stamps == [str(t.wall), str(t.wall + 3000)]
    assert client.clock.offset_ms == 3000


async def test_minus_1021_twice_is_raised() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on(
        "POST", "/fapi/v1/order", fail(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    )
    venue.on("GET", "/fapi/v1/time", lambda r: httpx.Response(200, json={"serverTime": t.wall}))
    client = make_client(venue, t)
    with pytest.raises(TimestampOutOfWindow):
        await client.futures_place_order(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
        )
    await client.close()
    assert venue.count("POST", "/fapi/v1/order") == 2 and venue.count("GET", "/fapi/v1/time") == 1


async def test_stale_clock_is_refreshed_before_a_signed_call() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("GET", "/api/v3/time", lambda r: httpx.Response(200, json={"serverTime": t.wall + 250}))
    venue.on("GET", "/api/v3/account", ok(fixture("http_get_api_v3_account.json")))
    client = make_client(venue, t)
    await client.spot_account()
    assert venue.count("GET", "/api/v3/time") == 0
    t.mono += 301  # older than ServerClock.max_age_s
    account = await client.spot_account()
    await client.close()
    assert venue.count("GET", "/api/v3/time") == 1 and client.clock.offset_ms == 250
    assert account.uid == 354937868
    last = dict(parse_qsl(venue.requests[-1].url.query.decode()))
    assert last["timestamp"] == str(t.wall + 250) and last["omitZeroBalances"] == "true"


# ------------------------------------------------------------------------------ endpoints


async def test_listen_key_lifecycle_is_keyed_not_signed() -> None:
    venue = Venue()
    key = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
    venue.on("POST", "/fapi/v1/listenKey", ok(fixture("http_post_fapi_v1_listenKey.json")))
    venue.on(
        "PUT",
        "/fapi/v1/listenKey",
        ok({"listenKey": key}),
        fail(400, -1125, "This listenKey does not exist."),
    )
    venue.on("DELETE", "/fapi/v1/listenKey", ok({}), fail(400, -1125, "This listenKey does not exist."))
    client = make_client(venue, FakeTime())
    assert await client.create_listen_key() == key
    await client.keepalive_listen_key(key)
    with pytest.raises(ListenKeyExpired):
        await client.keepalive_listen_key(key)
    await client.delete_listen_key(key)
    await client.delete_listen_key(key)  # already gone: fine
    await client.close()
    for request in venue.requests:
        assert request.headers["X-MBX-APIKEY"] == SPOT_DOC_KEY
        assert b"signature" not in request.url.query + request.content


async def test_keepalive_that_returns_another_key_means_expired() -> None:
    venue = Venue()
    venue.on("PUT", "/fapi/v1/listenKey", ok({"listenKey": "other"}))
    client = make_client(venue, FakeTime())
    with pytest.raises(ListenKeyExpired):
        await client.keepalive_listen_key("mine")
    await client.close()


async def test_market_and_account_endpoints_decode() -> None:
    venue = Venue()
    venue.on("GET", "/api/v3/exchangeInfo", ok(fixture("http_get_api_v3_exchangeInfo.json")))
    venue.on("GET", "/fapi/v1/exchangeInfo", ok(fixture("http_get_fapi_v1_exchangeInfo.json")))
    venue.on("GET", "/fapi/v1/premiumIndex", ok(fixture("http_get_fapi_v1_premiumIndex.json")))
    venue.on("GET", "/fapi/v1/fundingRate", ok(fixture("http_get_fapi_v1_fundingRate.json")))
    venue.on("GET", "/fapi/v1/fundingInfo", ok(fixture("http_get_fapi_v1_fundingInfo.json")))
    venue.on("GET", "/fapi/v1/income", ok(fixture("http_get_fapi_v1_income.json")))
    venue.on("GET", "/fapi/v3/account", ok(fixture("http_get_fapi_v3_account.json")))
    venue.on("GET", "/fapi/v2/positionRisk", ok(fixture("http_get_fapi_v2_positionRisk.json")))
    venue.on("GET", "/fapi/v3/positionRisk", ok(fixture("http_get_fapi_v3_positionRisk.json")))
    venue.on("POST", "/fapi/v1/leverage", ok(fixture("http_post_fapi_v1_leverage.json")))
    venue.on("GET", "/fapi/v1/openOrders", ok(fixture("http_get_fapi_v1_openOrders.json")))
    venue.on("GET", "/api/v3/openOrders", ok(fixture("http_get_api_v3_openOrders.json")))
    client = make_client(venue, FakeTime())
    spot = await client.spot_exchange_info(["BTCUSDT", "LTCBTC"])
    assert dict(parse_qsl(venue.requests[-1].url.query.decode())) == {"symbols": '["BTCUSDT","LTCBTC"]'}
    assert len(spot.symbols) == 2
    assert len((await client.futures_exchange_info()).symbols) == 3
    assert (await client.premium_index("BTCUSDT")).nextFundingTime == 1752163200000
    hist = await client.funding_rate_history("BTCUSDT", start_ms=1, end_ms=2, limit=3)
    assert len(hist) == 3
    assert dict(parse_qsl(venue.requests[-1].url.query.decode())) == {
        "symbol": "BTCUSDT",
        "startTime": "1",
        "endTime": "2",
        "limit": "3",
    }
    assert (await client.funding_info())[1].fundingIntervalHours == 1
    assert len(await client.income("BTCUSDT", "FUNDING_FEE")) == 3
    assert (await client.futures_account()).assets[0].asset == "USDT"
    assert len(await client.position_risk_v2()) == 3 and len(await client.position_risk_v3()) == 3
    assert (await client.change_leverage("BTCUSDT", 20)).leverage == 20
    lev_body = dict(parse_qsl(venue.requests[-1].content.decode()))
    assert lev_body["symbol"] == "BTCUSDT" and lev_body["leverage"] == "20" and "signature" in lev_body
    assert (await client.futures_open_orders("BTCUSDT"))[0].timeInForce == "GTX"
    assert len(await client.spot_open_orders()) == 2
    venue.on("GET", "/fapi/v1/premiumIndex", ok(fixture("http_get_fapi_v1_premiumIndex_all.json")))
    assert [p.lastFundingRate for p in await client.premium_index_all()] == ["0.00010000", ""]
    venue.on(
        "DELETE",
        "/fapi/v1/allOpenOrders",
        ok({"code": 200, "msg": "The operation of cancel all open order is done."}),
    )
    assert (await client.futures_cancel_all("BTCUSDT")).code == 200
    venue.on("GET", "/fapi/v1/time", ok(fixture("http_get_api_v3_time.json")))
    assert await client.server_time("futures") == 1752148800123
    await client.close()
