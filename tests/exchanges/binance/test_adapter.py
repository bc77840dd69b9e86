"""BinanceAdapter with httpx.MockTransport and a fake WS-API: order safety and the REST surface."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import pytest

from exchanges.base import ExchangeAdapter
from exchanges.binance.adapter import CLIENT_ID_RE, BinanceAdapter, ClientIdFactory, WsApiClient
from exchanges.binance.errors import Product
from exchanges.binance.parse import perp_key, spot_key
from exchanges.credentials import Credentials
from exchanges.errors import (
    DuplicateClientId,
    InvalidRequest,
    OrderNotFound,
    TimestampOutOfWindow,
    TransportError,
    UnknownOutcome,
    WouldTakeLiquidity,
)
from exchanges.transport.clock import ServerClock
from strategy_client.model import (
    HOUR_MS,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
    TimeInForce,
)

from .test_rest import (
    SPOT_DOC_KEY,
    SPOT_DOC_SECRET,
    URLS,
    FakeTime,
    Venue,
    fail,
    fixture,
    measured_clock,
    ok,
    raise_,
)

D = Decimal
NOT_FOUND = fail(400, -2013, "Order does not exist.")


def params_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.url.query.decode() + "&" + request.content.decode()))


class FakeWsApi:
    """Stands in for ``ws_api.BinanceWsApi``: records calls, answers with ``handler``."""

    def __init__(self, handler: Callable[[str, dict[str, object]], bytes], *, connected: bool = True) -> None:
        self.handler = handler
        self._connected = connected
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.rehearsals: list[tuple[str, dict[str, object]]] = []
        self.started = self.closed = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def request(
        self, method: str, params: dict[str, object], *, signed: bool = True, timeout_s: float = 5.0
    ) -> bytes:
        self.calls.append((method, params))
        return self.handler(method, params)

    def rehearse(self, method: str, params: dict[str, object], *, signed: bool = True) -> int:
        self.rehearsals.append((method, params))
        return 0


def make_adapter(venue: Venue, t: FakeTime, **kw: object) -> BinanceAdapter:
    kw.setdefault("use_ws_api", False)
    return BinanceAdapter(
        URLS,
        Credentials(SPOT_DOC_KEY, SPOT_DOC_SECRET),
        transport=venue.transport(),
        clock=measured_clock(t),
        sleep=t.sleep,
        monotonic=t.monotonic,
        **kw,  # type: ignore[arg-type]
    )


def perp_request(**kw: object) -> OrderRequest:
    base: dict[str, object] = {
        "key": perp_key("BTCUSDT"),
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "qty": D("0.010"),
        "price": D("64250.10"),
        "client_id": "bot-7f3a-001",
    }
    base.update(kw)
    return OrderRequest(**base)  # type: ignore[arg-type]


def spot_request(**kw: object) -> OrderRequest:
    base: dict[str, object] = {
        "key": spot_key("BTCUSDT"),
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "qty": D("0.01"),
        "price": D("64250.1"),
        "client_id": "bot-7f3a-002",
    }
    base.update(kw)
    return OrderRequest(**base)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ client ids


def test_client_ids_are_valid_and_unique() -> None:
    factory = ClientIdFactory()
    ids = [factory() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(CLIENT_ID_RE.match(i) and len(i) <= 36 for i in ids)
    other = ClientIdFactory()  # another process/session never collides on the same millisecond
    assert not set(ids) & {other() for _ in range(1000)}
    with pytest.raises(ValueError):
        ClientIdFactory("bad prefix!")


def test_adapter_satisfies_the_protocol() -> None:
    adapter = make_adapter(Venue(), FakeTime())
    assert isinstance(adapter, ExchangeAdapter)


# ------------------------------------------------------------------------------ placement


async def test_place_generates_a_client_id_when_missing() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/api/v3/order", ok(fixture("http_post_api_v3_order_full.json")))
    adapter = make_adapter(venue, t, client_ids=ClientIdFactory("tst"))
    order = await adapter.place_order(spot_request(client_id=""))
    await adapter.close()
    sent = params_of(venue.requests[0])
    assert re.fullmatch(r"tst-[0-9a-f]{10}-[0-9a-z]+-0", sent["newClientOrderId"])
    assert CLIENT_ID_RE.match(sent["newClientOrderId"])
    assert sent["newOrderRespType"] == "FULL" and sent["price"] == "64250.1" and sent["quantity"] == "0.01"
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.venue_id == "28457190"


async def test_invalid_client_id_is_refused_locally() -> None:
    venue = Venue()
    adapter = make_adapter(venue, FakeTime())
    with pytest.raises(InvalidRequest):
        await adapter.place_order(perp_request(client_id="has space"))
    with pytest.raises(InvalidRequest):
        await adapter.place_order(perp_request(client_id="x" * 37))
    assert venue.requests == []
    await adapter.close()


@pytest.mark.parametrize(
    "failure",
    [
        raise_(httpx.ReadTimeout),
        raise_(httpx.RemoteProtocolError),
        fail(503, msg="Unknown error, please check your request or try again later."),
        fail(
            400,
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        ),
    ],
)
async def test_unknown_outcome_queries_by_client_id_and_never_posts_twice(
    failure: Callable[[httpx.Request], httpx.Response],
) -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/fapi/v1/order", failure, ok(fixture("http_post_fapi_v1_order.json")))
    venue.on("GET", "/fapi/v1/order", NOT_FOUND, ok(fixture("http_post_fapi_v1_order.json")))
    adapter = make_adapter(venue, t)
    order = await adapter.place_order(perp_request())
    await adapter.close()
    assert order.client_id == "bot-7f3a-001" and order.venue_id == "4120557001"
    assert order.status is OrderStatus.NEW
    assert venue.count("POST", "/fapi/v1/order") == 1
    queries = [params_of(r) for r in venue.requests if r.method == "GET"]
    assert len(queries) == 2
    assert all(q["origClientOrderId"] == "bot-7f3a-001" and q["symbol"] == "BTCUSDT" for q in queries)
    assert t.sleeps[:2] == [0.2, 0.4]


async def test_spot_not_found_stays_unknown() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/api/v3/order", raise_(httpx.ReadTimeout))
    venue.on("GET", "/api/v3/order", NOT_FOUND)
    adapter = make_adapter(venue, t)
    with pytest.raises(UnknownOutcome, match="reconcile before resending"):
        await adapter.place_order(spot_request())
    await adapter.close()
    assert venue.count("POST", "/api/v3/order") == 1
    assert venue.count("GET", "/api/v3/order") == 4


async def test_futures_not_found_after_recv_window_is_certainly_not_placed() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/fapi/v1/order", fail(502, msg="Bad Gateway"))
    venue.on("GET", "/fapi/v1/order", NOT_FOUND)
    adapter = make_adapter(venue, t)
    failed_at = t.wall
    order = await adapter.place_order(perp_request())
    await adapter.close()
    assert order.status is OrderStatus.REJECTED and order.venue_id == ""
    assert order.client_id == "bot-7f3a-001" and order.qty == D("0.010")
    assert "recvWindow" in order.reject_reason
    # the same verdict as OKX's expTime: a strategy can tell "certainly not placed" from a venue refusal
    assert order.reject_code is RejectCode.NOT_PLACED
    assert venue.count("POST", "/fapi/v1/order") == 1
    # the last "not found" came after timestamp + recvWindow (+1 s slack) on the venue clock
    assert t.wall >= failed_at + 5000 + 1000
    assert venue.count("GET", "/fapi/v1/order") == 5


async def test_futures_not_found_without_waiting_is_unknown() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/fapi/v1/order", raise_(httpx.ReadTimeout))
    venue.on("GET", "/fapi/v1/order", NOT_FOUND)
    adapter = make_adapter(venue, t, certainty_wait_max_s=0.0)
    with pytest.raises(UnknownOutcome):
        await adapter.place_order(perp_request())
    await adapter.close()
    assert venue.count("POST", "/fapi/v1/order") == 1


async def test_queries_that_keep_failing_leave_the_outcome_unknown() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/fapi/v1/order", raise_(httpx.ReadTimeout))
    venue.on("GET", "/fapi/v1/order", fail(500))
    adapter = make_adapter(venue, t, max_retries=0)
    with pytest.raises(UnknownOutcome):
        await adapter.place_order(perp_request())
    await adapter.close()
    assert venue.count("POST", "/fapi/v1/order") == 1


async def test_duplicate_client_id_returns_the_live_order_when_it_matches() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/fapi/v1/order", fail(400, -4116, "ClientOrderId is duplicated."))
    venue.on("GET", "/fapi/v1/order", ok(fixture("http_post_fapi_v1_order.json")))
    adapter = make_adapter(venue, t)
    order = await adapter.place_order(perp_request())
    assert order.venue_id == "4120557001"
    # a different order holds the id: refuse, do not adopt it
    with pytest.raises(DuplicateClientId, match="different order"):
        await adapter.place_order(perp_request(qty=D("0.5")))
    await adapter.close()
    assert venue.count("POST", "/fapi/v1/order") == 2


async def test_duplicate_client_id_not_found_is_a_rejection() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/api/v3/order", fail(400, -2010, "Duplicate order sent."))
    venue.on("GET", "/api/v3/order", NOT_FOUND)
    adapter = make_adapter(venue, t)
    with pytest.raises(DuplicateClientId, match="Duplicate order sent"):
        await adapter.place_order(spot_request())
    await adapter.close()


async def test_a_final_order_reusing_the_id_is_not_taken_for_ours() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/api/v3/order", raise_(httpx.ReadTimeout))
    venue.on("GET", "/api/v3/order", ok(fixture("http_delete_api_v3_order.json")))  # CANCELED, 0.01
    adapter = make_adapter(venue, t)
    with pytest.raises(UnknownOutcome, match="different order"):
        await adapter.place_order(spot_request(qty=D("0.02")))
    await adapter.close()
    assert venue.count("POST", "/api/v3/order") == 1 and venue.count("GET", "/api/v3/order") == 4


async def test_definite_rejections_are_raised_without_queries() -> None:
    venue = Venue()
    venue.on(
        "POST",
        "/fapi/v1/order",
        fail(
            400,
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be rejected.",
        ),
    )
    adapter = make_adapter(venue, FakeTime())
    with pytest.raises(WouldTakeLiquidity):
        await adapter.place_order(perp_request(tif=TimeInForce.POST_ONLY))
    await adapter.close()
    assert params_of(venue.requests[0])["timeInForce"] == "GTX"
    assert [r.method for r in venue.requests] == ["POST"]


# ------------------------------------------------------------------------------ WS-API path


async def test_place_and_cancel_go_over_the_ws_api_when_connected() -> None:
    t = FakeTime()
    venue = Venue()
    answers = {
        "order.place": fixture("http_post_fapi_v1_order.json"),
        "order.cancel": fixture("http_post_fapi_v1_order.json").replace(b'"NEW"', b'"CANCELED"'),
    }
    fake = FakeWsApi(lambda method, params: answers[method])

    def factory(url: str, creds: Credentials, clock: ServerClock, product: Product) -> WsApiClient:
        assert url == URLS.futures_ws_api if product == "futures" else url == URLS.spot_ws_api
        return fake if product == "futures" else FakeWsApi(lambda m, p: b"{}", connected=False)

    venue.on("GET", "/api/v3/time", lambda r: httpx.Response(200, json={"serverTime": t.wall}))
    venue.on("GET", "/api/v3/exchangeInfo", ok(fixture("http_get_api_v3_exchangeInfo.json")))
    venue.on("GET", "/fapi/v1/exchangeInfo", ok(fixture("http_get_fapi_v1_exchangeInfo.json")))
    adapter = make_adapter(venue, t, use_ws_api=True, ws_api_factory=factory)
    await adapter.start()
    assert fake.started
    order = await adapter.place_order(perp_request())
    canceled = await adapter.cancel_order(perp_key("BTCUSDT"), venue_id="4120557001")
    await adapter.close()
    assert fake.closed
    assert order.venue_id == "4120557001" and canceled.status is OrderStatus.CANCELED
    (place_method, place_params), (cancel_method, cancel_params) = fake.calls
    assert place_method == "order.place" and cancel_method == "order.cancel"
    assert place_params["newClientOrderId"] == "bot-7f3a-001" and place_params["timeInForce"] == "GTC"
    assert place_params["recvWindow"] == 5000 and place_params["timestamp"] == t.wall
    assert cancel_params["orderId"] == 4120557001
    assert venue.count("POST", "/fapi/v1/order") == 0 and venue.count("DELETE", "/fapi/v1/order") == 0


async def test_a_rehearsal_builds_what_a_placement_sends_and_sends_nothing() -> None:
    t = FakeTime()
    venue = Venue()
    fake = FakeWsApi(lambda method, params: fixture("http_post_fapi_v1_order.json"))
    venue.on("GET", "/api/v3/time", lambda r: httpx.Response(200, json={"serverTime": t.wall}))
    venue.on("GET", "/api/v3/exchangeInfo", ok(fixture("http_get_api_v3_exchangeInfo.json")))
    venue.on("GET", "/fapi/v1/exchangeInfo", ok(fixture("http_get_fapi_v1_exchangeInfo.json")))
    adapter = make_adapter(venue, t, use_ws_api=True, ws_api_factory=lambda *a: fake)
    await adapter.start()
    await adapter.load_instruments()
    for _ in range(3):
        adapter.rehearse_order(perp_request())
    assert fake.calls == [] and venue.count("POST", "/fapi/v1/order") == 0  # nothing sent
    await adapter.place_order(perp_request())
    await adapter.close()
    assert [m for m, _ in fake.rehearsals] == ["order.place"] * 3
    assert fake.rehearsals[0] == fake.calls[0]  # the same params, recvWindow and timestamp


async def test_ws_api_not_sent_falls_back_to_rest() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("POST", "/fapi/v1/order", ok(fixture("http_post_fapi_v1_order.json")))

    def not_sent(method: str, params: dict[str, object]) -> bytes:
        raise TransportError("WS-API connection lost before sending")

    adapter = make_adapter(venue, t)
    adapter.ws_api["futures"] = FakeWsApi(not_sent)
    order = await adapter.place_order(perp_request())
    await adapter.close()
    assert order.venue_id == "4120557001" and venue.count("POST", "/fapi/v1/order") == 1


async def test_ws_api_timestamp_rejection_resyncs_and_sends_once_over_rest() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("GET", "/fapi/v1/time", lambda r: httpx.Response(200, json={"serverTime": t.wall + 2000}))
    venue.on("POST", "/fapi/v1/order", ok(fixture("http_post_fapi_v1_order.json")))

    def too_old(method: str, params: dict[str, object]) -> bytes:
        raise TimestampOutOfWindow("Timestamp for this request is outside of the recvWindow.")

    adapter = make_adapter(venue, t)
    adapter.ws_api["futures"] = FakeWsApi(too_old)
    order = await adapter.place_order(perp_request())
    await adapter.close()
    assert order.venue_id == "4120557001" and adapter.clock.offset_ms == 2000
    assert [r.method for r in venue.requests] == ["GET", "POST"]
    assert params_of(venue.requests[1])["timestamp"] == str(t.wall + 2000)


async def test_ws_api_timeout_reconciles_over_rest_without_resending() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("GET", "/fapi/v1/order", ok(fixture("http_post_fapi_v1_order.json")))

    def timed_out(method: str, params: dict[str, object]) -> bytes:
        raise UnknownOutcome("order.place: no reply within 5s")

    fake = FakeWsApi(timed_out)
    adapter = make_adapter(venue, t)
    adapter.ws_api["futures"] = fake
    order = await adapter.place_order(perp_request())
    await adapter.close()
    assert order.venue_id == "4120557001"
    assert len(fake.calls) == 1 and venue.count("POST", "/fapi/v1/order") == 0
    assert venue.count("GET", "/fapi/v1/order") == 1


# ------------------------------------------------------------------------------ cancel and queries


async def test_cancel_of_a_final_order_returns_its_state() -> None:
    venue = Venue()
    venue.on("DELETE", "/fapi/v1/order", fail(400, -2011, "Unknown order sent."))
    venue.on("GET", "/fapi/v1/order", ok(fixture("http_get_fapi_v1_order.json")))
    adapter = make_adapter(venue, FakeTime())
    order = await adapter.cancel_order(perp_key("BTCUSDT"), client_id="bot-7f3a-004")
    await adapter.close()
    assert order.status is OrderStatus.FILLED
    assert params_of(venue.requests[0])["origClientOrderId"] == "bot-7f3a-004"


async def test_cancel_of_an_unknown_order_raises() -> None:
    venue = Venue()
    venue.on("DELETE", "/api/v3/order", fail(400, -2011, "Unknown order sent."))
    venue.on("GET", "/api/v3/order", NOT_FOUND)
    adapter = make_adapter(venue, FakeTime())
    with pytest.raises(OrderNotFound, match="Unknown order sent"):
        await adapter.cancel_order(spot_key("BTCUSDT"), venue_id="1")
    await adapter.close()


async def test_cancel_with_unknown_outcome_queries_until_final() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("DELETE", "/api/v3/order", raise_(httpx.ReadTimeout))
    venue.on(
        "GET",
        "/api/v3/order",
        ok(fixture("http_get_api_v3_order.json")),
        ok(fixture("http_delete_api_v3_order.json")),
    )
    adapter = make_adapter(venue, t)
    order = await adapter.cancel_order(spot_key("BTCUSDT"), client_id="bot-7f3a-002")
    await adapter.close()
    assert order.status is OrderStatus.CANCELED and order.client_id == "bot-7f3a-002"
    assert venue.count("DELETE", "/api/v3/order") == 1 and venue.count("GET", "/api/v3/order") == 2


async def test_open_orders_skip_what_the_model_cannot_represent() -> None:
    venue = Venue()
    venue.on("GET", "/api/v3/openOrders", ok(fixture("http_get_api_v3_openOrders.json")))
    venue.on("GET", "/fapi/v1/openOrders", ok(fixture("http_get_fapi_v1_openOrders.json")))
    adapter = make_adapter(venue, FakeTime())
    spot = await adapter.get_open_orders(MarketKind.SPOT)
    perps = await adapter.get_open_orders(MarketKind.PERP, perp_key("BTCUSDT"))
    await adapter.close()
    assert [o.client_id for o in spot] == ["bot-7f3a-003"]
    assert adapter.dropped["open order the model cannot represent"] == 1
    assert [o.tif for o in perps] == [TimeInForce.POST_ONLY]
    assert params_of(venue.requests[1])["symbol"] == "BTCUSDT"


# ------------------------------------------------------------------------------ REST surface


async def test_instruments_books_account_positions_leverage_funding() -> None:
    t = FakeTime()
    venue = Venue()
    venue.on("GET", "/api/v3/exchangeInfo", ok(fixture("http_get_api_v3_exchangeInfo.json")))
    venue.on("GET", "/fapi/v1/exchangeInfo", ok(fixture("http_get_fapi_v1_exchangeInfo.json")))
    venue.on("GET", "/api/v3/depth", ok(fixture("http_get_api_v3_depth.json")))
    venue.on("GET", "/fapi/v1/depth", ok(fixture("http_get_fapi_v1_depth.json")))
    venue.on("GET", "/api/v3/account", ok(fixture("http_get_api_v3_account.json")))
    venue.on("GET", "/fapi/v3/account", ok(fixture("http_get_fapi_v3_account.json")))
    venue.on("GET", "/fapi/v3/positionRisk", ok(fixture("http_get_fapi_v3_positionRisk.json")))
    venue.on("GET", "/fapi/v2/positionRisk", ok(fixture("http_get_fapi_v2_positionRisk.json")))
    venue.on("POST", "/fapi/v1/leverage", ok(fixture("http_post_fapi_v1_leverage.json")))
    venue.on("GET", "/fapi/v1/premiumIndex", ok(fixture("http_get_fapi_v1_premiumIndex.json")))
    venue.on("GET", "/fapi/v1/fundingInfo", ok(fixture("http_get_fapi_v1_fundingInfo.json")))
    venue.on("GET", "/fapi/v1/fundingRate", ok(fixture("http_get_fapi_v1_fundingRate.json")))
    adapter = make_adapter(venue, t)

    instruments = await adapter.load_instruments()
    assert {str(i.key) for i in instruments} == {
        "binance:spot:BTCUSDT",
        "binance:spot:LTCBTC",
        "binance:perp:BTCUSDT",
        "binance:perp:ETHUSDT",
    }
    perp = adapter.instrument(perp_key("BTCUSDT"))
    assert perp is not None and perp.tick_size == D("0.10")

    book = await adapter.fetch_order_book(perp_key("BTCUSDT"), depth=3)
    assert params_of(venue.requests[-1])["limit"] == "5"  # smallest allowed futures limit >= 3
    assert len(book.bids) == 3 and book.venue_ts_ms == 1752148800123
    await adapter.fetch_order_book(perp_key("BTCUSDT"), depth=30)
    assert params_of(venue.requests[-1])["limit"] == "50"
    spot_book = await adapter.fetch_order_book(spot_key("BTCUSDT"), depth=2)
    assert params_of(venue.requests[-1])["limit"] == "2" and len(spot_book.asks) == 2
    assert spot_book.venue_ts_ms == t.wall  # spot REST depth has no time: venue clock estimate

    account = await adapter.fetch_account()
    assert account.balance("BTC") is not None and account.margin_asset("USDT") is not None
    assert [p.key.symbol for p in account.positions] == ["BTCUSDT", "ETHUSDT"]

    positions = await adapter.fetch_positions()
    assert [(p.size, p.leverage) for p in positions] == [(D("0.004"), 20), (D("-0.015"), 20)]

    assert await adapter.set_leverage(perp_key("BTCUSDT"), 20) == 20
    with pytest.raises(InvalidRequest):
        await adapter.set_leverage(spot_key("BTCUSDT"), 3)

    btc = await adapter.fetch_funding_rate(perp_key("BTCUSDT"))
    assert btc.rate == D("0.0001") and btc.interval_ms == 8 * HOUR_MS
    eth_interval = await adapter.funding_interval_ms("ETHUSDT")
    assert eth_interval == HOUR_MS
    assert venue.count("GET", "/fapi/v1/fundingInfo") == 1  # cached
    t.mono += 601
    await adapter.funding_interval_ms("ETHUSDT")
    assert venue.count("GET", "/fapi/v1/fundingInfo") == 2  # refreshed after its TTL

    history = await adapter.fetch_funding_history(perp_key("BTCUSDT"), start_ms=10, limit=3)
    assert [r.rate for r in history] == [D("0.0001"), D("-0.00002113"), D("0.000075")]
    assert params_of(venue.requests[-1]) == {"symbol": "BTCUSDT", "startTime": "10", "limit": "3"}
    await adapter.close()
