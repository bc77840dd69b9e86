"""BinanceWsApi against a local WS-API stand-in on real sockets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from exchanges.base import StreamStatus
from exchanges.binance.signing import sign_ws_params
from exchanges.binance.ws_api import BinanceWsApi, WsApiItem
from exchanges.credentials import Credentials
from exchanges.errors import (
    AuthError,
    InsufficientFunds,
    RateLimited,
    TransportError,
    UnknownOutcome,
)
from exchanges.transport.backoff import Backoff
from exchanges.transport.buffer import BoundedBuffer, Overflow
from exchanges.transport.clock import ServerClock
from exchanges.transport.ws import Frame
from tests.helpers import eventually, free_port

from .ws_fake_server import Conn, FakeWsServer

CREDS = Credentials(
    "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
    "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
)
FAST = Backoff(initial_s=0.01, max_s=0.05)
LIMITS = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 7}]


def valid_signature(params: dict[str, Any]) -> bool:
    return bool(params.get("signature")) and params["signature"] == sign_ws_params(CREDS.api_secret, params)


class Venue:
    """Answers ``echo`` at once, holds ``hold`` until told, never answers ``silent``,
    drops the connection on ``drop`` and rejects by ``error`` code."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.held: list[tuple[Conn, dict[str, Any]]] = []

    async def __call__(self, conn: Conn, message: str | bytes) -> None:
        request = json.loads(message)
        self.requests.append(request)
        method, params = request["method"], request["params"]
        if "apiKey" in params and not valid_signature(params):
            await conn.send(
                {
                    "id": request["id"],
                    "status": 401,
                    "error": {"code": -1022, "msg": "Signature for this request is not valid."},
                }
            )
        elif method == "echo":
            await conn.send({"id": request["id"], "status": 200, "result": {"params": params}, "rateLimits": LIMITS})
        elif method == "hold":
            self.held.append((conn, request))
        elif method == "drop":
            conn.abort()
        elif method == "error":
            code = params["code"]
            error: dict[str, Any] = {"code": code, "msg": params["msg"]}
            if code == -1003:
                error["data"] = {
                    "serverTime": int(time.time() * 1000),
                    "retryAfter": int(time.time() * 1000) + 2500,
                }
            await conn.send({"id": request["id"], "status": params["status"], "error": error})


@pytest.fixture()
async def venue_api() -> AsyncIterator[tuple[FakeWsServer, Venue, BinanceWsApi]]:
    venue = Venue()
    async with FakeWsServer(on_message=venue) as server:
        api = BinanceWsApi(server.url + "/ws-api/v3", CREDS, ServerClock(), product="spot", backoff=FAST)
        await api.start()
        try:
            yield server, venue, api
        finally:
            await api.close()


async def test_signed_request_returns_raw_result(venue_api: tuple[FakeWsServer, Venue, BinanceWsApi]) -> None:
    server, _venue, api = venue_api
    assert api.connected and server.conns[0].path == "/ws-api/v3"
    raw = await api.request(
        "echo",
        {
            "symbol": "BTCUSDT",
            "price": Decimal("0.00000010"),
            "quantity": Decimal("1E+1"),
            "reduceOnly": None,
        },
    )
    params = json.loads(raw)["params"]
    assert params["apiKey"] == CREDS.api_key and isinstance(params["timestamp"], int)
    assert params["price"] == "0.00000010" and params["quantity"] == "10"  # plain notation
    assert "reduceOnly" not in params
    assert valid_signature(params)
    assert api.rate_limits[0].count == 7 and api.rate_limits[0].limit == 6000


async def test_a_rehearsal_encodes_the_request_and_sends_nothing(
    venue_api: tuple[FakeWsServer, Venue, BinanceWsApi],
) -> None:
    server, venue, api = venue_api
    params: dict[str, object] = {"symbol": "BTCUSDT", "price": Decimal("0.00000010"), "timestamp": 1}
    size = api.rehearse("order.place", params)
    raw = await api.request("echo", params)
    assert len(venue.requests) == 1 and len(server.conns[0].received) == 1  # only the real one
    sent = server.conns[0].json_received()[0]
    assert sent["id"] == 1  # the rehearsal used no id
    assert size == len(json.dumps({"id": 0, "method": "order.place", "params": sent["params"]}, separators=(",", ":")))
    assert valid_signature(json.loads(raw)["params"]) and api.in_flight == 0


async def test_unsigned_request_has_no_key(venue_api: tuple[FakeWsServer, Venue, BinanceWsApi]) -> None:
    _, venue, api = venue_api
    raw = await api.request("echo", {"symbol": "BTCUSDT"}, signed=False)
    assert json.loads(raw) == {"params": {"symbol": "BTCUSDT"}}
    assert "signature" not in venue.requests[-1]["params"]


async def test_many_requests_in_flight_are_matched_by_id(
    venue_api: tuple[FakeWsServer, Venue, BinanceWsApi],
) -> None:
    _, venue, api = venue_api
    tasks = [asyncio.create_task(api.request("hold", {"n": n})) for n in range(6)]
    await eventually(lambda: len(venue.held) == 6, what="six requests held")
    assert api.in_flight == 6
    for conn, request in reversed(venue.held):  # answer in reverse order
        await conn.send({"id": request["id"], "status": 200, "result": {"n": request["params"]["n"]}})
    results = await asyncio.gather(*tasks)
    assert [json.loads(r)["n"] for r in results] == list(range(6))
    assert api.in_flight == 0


async def test_error_replies_are_mapped(venue_api: tuple[FakeWsServer, Venue, BinanceWsApi]) -> None:
    _, _, api = venue_api
    with pytest.raises(InsufficientFunds) as funds:
        await api.request(
            "error",
            {"code": -2010, "status": 400, "msg": "Account has insufficient balance for requested action."},
        )
    assert funds.value.venue_code == -2010 and funds.value.http_status == 400
    with pytest.raises(RateLimited) as limited:
        await api.request("error", {"code": -1003, "status": 429, "msg": "Too many requests."})
    assert limited.value.retry_after_s is not None and 1.0 < limited.value.retry_after_s <= 2.5


async def test_bad_signature_is_an_auth_error() -> None:
    venue = Venue()
    async with FakeWsServer(on_message=venue) as server:
        api = BinanceWsApi(
            server.url,
            Credentials(CREDS.api_key, "wrong-secret"),
            ServerClock(),
            product="futures",
            backoff=FAST,
        )
        await api.start()
        try:
            with pytest.raises(AuthError):
                await api.request("echo", {"symbol": "BTCUSDT"})
        finally:
            await api.close()


async def test_dropped_connection_gives_unknown_outcome_and_no_resend(
    venue_api: tuple[FakeWsServer, Venue, BinanceWsApi],
) -> None:
    server, venue, api = venue_api
    held = asyncio.create_task(api.request("hold", {"n": 1}))
    await eventually(lambda: venue.held, what="request held")
    with pytest.raises(UnknownOutcome, match="dropped"):
        await api.request("drop", {"clientOrderId": "x-1"})
    with pytest.raises(UnknownOutcome):
        await held  # in flight on the same connection
    await eventually(lambda: api.connected and len(server.conns) == 2, what="reconnected")
    assert json.loads(await api.request("echo", {"n": 2}))["params"]["n"] == 2
    assert [r["method"] for r in venue.requests].count("drop") == 1  # never resent


async def test_timeout_gives_unknown_outcome_and_late_reply_is_ignored(
    venue_api: tuple[FakeWsServer, Venue, BinanceWsApi],
) -> None:
    _, venue, api = venue_api
    with pytest.raises(UnknownOutcome, match="no reply"):
        await api.request("hold", {"n": 1}, timeout_s=0.05)
    conn, request = venue.held[0]
    await conn.send({"id": request["id"], "status": 200, "result": {}})
    await eventually(lambda: api.late_replies == 1, what="late reply counted")
    assert api.in_flight == 0


async def test_not_connected_is_a_transport_error() -> None:
    api = BinanceWsApi(f"ws://127.0.0.1:{free_port()}", CREDS, ServerClock(), product="spot")
    with pytest.raises(TransportError):
        await api.request("order.status", {"symbol": "BTCUSDT"})
    await api.close()  # never started: nothing to do


async def test_events_and_statuses_go_to_the_sink() -> None:
    sink: BoundedBuffer[WsApiItem] = BoundedBuffer(100, Overflow.BLOCK)
    async with FakeWsServer() as server:
        api = BinanceWsApi(server.url, CREDS, ServerClock(), product="spot", event_sink=sink, backoff=FAST)
        await api.start()
        try:
            status = await asyncio.wait_for(sink.get(), 5)
            assert isinstance(status, StreamStatus) and status.connected
            await server.send_all('{"subscriptionId":3,"event":{"e":"outboundAccountPosition","E":1,"u":1,"B":[]}}')
            event = await asyncio.wait_for(sink.get(), 5)
            assert isinstance(event, Frame)
            assert json.loads(event.data) == {"e": "outboundAccountPosition", "E": 1, "u": 1, "B": []}
            await server.send_all(b"not json")
            await eventually(lambda: api.errors.counts["ws_api_envelope"] == 1, what="bad frame counted")
            server.abort_all()
            down = await asyncio.wait_for(sink.get(), 5)
            assert isinstance(down, StreamStatus) and not down.connected
        finally:
            await api.close()


async def test_start_raises_nothing_while_venue_is_down_but_caller_can_time_out() -> None:
    api = BinanceWsApi(f"ws://127.0.0.1:{free_port()}", CREDS, ServerClock(), product="spot", backoff=FAST)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await api.start()
    assert not api.connected
    await api.close()


async def test_lifetime_reconnect_lets_in_flight_replies_arrive_first() -> None:
    venue = Venue()
    async with FakeWsServer(on_message=venue) as server:
        api = BinanceWsApi(server.url, CREDS, ServerClock(), product="spot", backoff=FAST, max_lifetime_s=0.2)
        await api.start()
        try:
            held = asyncio.create_task(api.request("hold", {"n": 1}))
            await eventually(lambda: api.draining, what="draining at end of lifetime")
            with pytest.raises(TransportError, match="draining"):
                await api.request("echo", {"n": 2})  # refused, not sent: REST can take it
            assert len(server.conns) == 1 and len(venue.requests) == 1
            conn, request = venue.held[0]
            await conn.send({"id": request["id"], "status": 200, "result": {"n": 1}})
            assert json.loads(await held) == {"n": 1}
            await eventually(
                lambda: len(server.conns) == 2 and api.connected and not api.draining,
                what="planned reconnect",
            )
        finally:
            await api.close()
