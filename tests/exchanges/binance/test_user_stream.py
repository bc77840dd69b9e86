"""BinanceUserStreams against a local stand-in: futures listenKey stream, spot WS-API events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from exchanges.base import AccountUpdate, ExecType, OrderUpdate, StreamStatus, UserEvent
from exchanges.binance.signing import sign_ws_params
from exchanges.binance.urls import BinanceUrls
from exchanges.binance.user_stream import FUTURES_STREAM, SPOT_STREAM, BinanceUserStreams
from exchanges.credentials import Credentials
from exchanges.errors import ListenKeyExpired
from exchanges.transport.backoff import Backoff
from exchanges.transport.clock import ServerClock
from exchanges.transport.ratelimit import SharedBudget, binance_windows
from strategy_client.model import MarketKind
from tests.helpers import eventually

from .ws_fake_server import Conn, FakeWsServer

FIXTURES = Path(__file__).parent / "fixtures"
CREDS = Credentials("test-api-key-0001", "test-secret-0001")
FAST = Backoff(initial_s=0.01, max_s=0.05)


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


class FakeListenKeys:
    """POST returns the active key (or a new one), PUT fails with -1125 once the key is gone."""

    def __init__(self) -> None:
        self.active: str | None = None
        self.created = 0
        self.keepalives: list[str] = []
        self.deleted: list[str] = []

    async def create_listen_key(self) -> str:
        if self.active is None:
            self.created += 1
            self.active = f"listenkey{self.created:03d}"
        return self.active

    async def keepalive_listen_key(self, key: str) -> None:
        self.keepalives.append(key)
        if key != self.active:
            raise ListenKeyExpired("This listenKey does not exist.", venue_code=-1125, venue="binance-futures")

    async def delete_listen_key(self, key: str) -> None:
        self.deleted.append(key)
        if key == self.active:
            self.active = None

    def expire(self) -> None:
        self.active = None


class SpotVenue:
    """WS-API stand-in: checks the subscribe signature and hands out subscription ids."""

    def __init__(self) -> None:
        self.subscribes: list[tuple[Conn, dict[str, Any]]] = []
        self.reject_next = 0
        self.ban_next_s = 0.0  # answer the next subscribe with a 418 ban of this many seconds

    async def __call__(self, conn: Conn, message: str | bytes) -> None:
        request = json.loads(message)
        params = request["params"]
        if request["method"] != "userDataStream.subscribe.signature":
            return
        self.subscribes.append((conn, params))
        if self.ban_next_s:
            until = int(time.time() * 1000 + self.ban_next_s * 1000)
            self.ban_next_s = 0.0
            msg = f"Way too much request weight used; IP banned until {until}."
            error = {"code": -1003, "msg": msg, "data": {"serverTime": until - 1, "retryAfter": until}}
            await conn.send({"id": request["id"], "status": 418, "error": error})
            return
        if self.reject_next:
            self.reject_next -= 1
            await conn.send({"id": request["id"], "status": 400, "error": {"code": -1099, "msg": "Not found."}})
            return
        if params["signature"] != sign_ws_params(CREDS.api_secret, params) or params["apiKey"] != CREDS.api_key:
            await conn.send(
                {
                    "id": request["id"],
                    "status": 401,
                    "error": {"code": -1022, "msg": "Signature for this request is not valid."},
                }
            )
            return
        await conn.send(
            {
                "id": request["id"],
                "status": 200,
                "result": {"subscriptionId": len(self.subscribes)},
                "rateLimits": [],
            }
        )


def urls(server: FakeWsServer) -> BinanceUrls:
    return BinanceUrls(
        spot_rest="http://unused",
        spot_ws=server.url,
        spot_ws_api=server.url + "/ws-api/v3",
        futures_rest="http://unused",
        futures_ws=server.url,
        futures_ws_api=server.url,
    )


class Reader:
    """Pulls events from the iterator with a deadline per event."""

    def __init__(self, it: AsyncIterator[UserEvent]) -> None:
        self.it = it

    async def next(self) -> UserEvent:
        async with asyncio.timeout(5):
            return await anext(self.it)

    async def status(self) -> StreamStatus:
        event = await self.next()
        assert isinstance(event, StreamStatus), event
        return event


def private_conns(server: FakeWsServer) -> list[Conn]:
    return server.on_path("/private/ws")


async def test_futures_events_and_key_recreated_on_listen_key_expired() -> None:
    rest = FakeListenKeys()
    async with FakeWsServer() as server:
        streams = BinanceUserStreams(rest, urls(server), CREDS, ServerClock(), spot=False, backoff=FAST)
        it = streams.events()
        reader = Reader(it)
        try:
            up = await reader.status()
            assert up.stream == FUTURES_STREAM and up.connected and up.reason == "connected"
            (conn,) = private_conns(server)
            assert conn.query["listenKey"] == ["listenkey001"]
            assert conn.query["events"] == [
                "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/MARGIN_CALL/ACCOUNT_CONFIG_UPDATE/listenKeyExpired"
            ]
            await conn.send(fixture("ws_order_trade_update.json"))
            await conn.send(fixture("ws_account_update_order.json"))
            order = await reader.next()
            assert isinstance(order, OrderUpdate) and order.exec_type is ExecType.TRADE
            assert order.fill is not None and order.fill.fee_asset == "USDT"
            account = await reader.next()
            assert isinstance(account, AccountUpdate) and account.kind is MarketKind.PERP

            rest.expire()
            await conn.send({**fixture("ws_listen_key_expired.json"), "listenKey": "listenkey001"})
            down = await reader.status()
            assert not down.connected and down.reason == "requested: listenKeyExpired"
            again = await reader.status()
            assert again.connected and again.reason.startswith("reconnected")
            assert private_conns(server)[1].query["listenKey"] == ["listenkey002"]
            assert streams.listen_key == "listenkey002" and streams.listen_keys_created == 2
            await private_conns(server)[1].send(fixture("ws_order_trade_update.json"))
            assert isinstance(await reader.next(), OrderUpdate)
        finally:
            await it.aclose()
        assert rest.deleted == []  # one key per API key, shared: left to expire, never deleted on exit
        await eventually(lambda: not server.live, what="connections closed")


async def test_keepalive_and_minus_1125_recreates_the_key() -> None:
    rest = FakeListenKeys()
    async with FakeWsServer() as server:
        streams = BinanceUserStreams(
            rest,
            urls(server),
            CREDS,
            ServerClock(),
            spot=False,
            backoff=FAST,
            keepalive_interval_s=0.05,
            listen_key_in="path",
        )
        it = streams.events()
        reader = Reader(it)
        try:
            assert (await reader.status()).connected
            assert private_conns(server)[0].path == "/private/ws/listenkey001"
            await eventually(lambda: rest.keepalives.count("listenkey001") >= 2, what="keepalives")
            rest.expire()  # the next PUT answers -1125
            down = await reader.status()
            assert down.reason == "requested: listenKey unknown (-1125)"
            assert (await reader.status()).connected
            assert private_conns(server)[1].path == "/private/ws/listenkey002"
            await eventually(lambda: "listenkey002" in rest.keepalives, what="keepalive of the new key")
        finally:
            await it.aclose()


async def test_key_recreated_after_the_connection_drops() -> None:
    rest = FakeListenKeys()
    async with FakeWsServer() as server:
        streams = BinanceUserStreams(rest, urls(server), CREDS, ServerClock(), spot=False, backoff=FAST)
        it = streams.events()
        reader = Reader(it)
        try:
            await reader.status()
            rest.expire()
            server.abort_all()
            assert not (await reader.status()).connected
            assert (await reader.status()).reason.startswith("reconnected")
            assert private_conns(server)[1].query["listenKey"] == ["listenkey002"]
        finally:
            await it.aclose()


async def test_bad_futures_events_are_counted_and_skipped() -> None:
    rest = FakeListenKeys()
    async with FakeWsServer() as server:
        streams = BinanceUserStreams(rest, urls(server), CREDS, ServerClock(), spot=False, backoff=FAST)
        it = streams.events()
        reader = Reader(it)
        try:
            await reader.status()
            conn = private_conns(server)[0]
            await conn.send("garbage")
            await conn.send({"e": "BRAND_NEW_EVENT", "E": 1})
            await conn.send({"e": "ORDER_TRADE_UPDATE", "E": 1})  # no "o"
            await conn.send({"e": "TRADE_LITE", "E": 1, "T": 1, "s": "BTCUSDT"})
            await conn.send({"e": "ALGO_UPDATE", "E": 1})
            bad_status = fixture("ws_order_trade_update.json")
            bad_status["o"]["X"] = "SOMETHING_ELSE"
            await conn.send(bad_status)
            await conn.send({"stream": "listenkey001", "data": fixture("ws_account_update_funding_fee_cross.json")})
            funding = await reader.next()
            assert isinstance(funding, AccountUpdate) and funding.reason == "funding_fee"
            assert funding.funding[0].amount < 0
            assert streams.errors.counts == {
                "futures:not_json": 1,
                "futures:unknown:BRAND_NEW_EVENT": 1,
                "futures:malformed:ORDER_TRADE_UPDATE": 1,
                "futures:order_status": 1,
            }
            assert streams.ignored == {"TRADE_LITE": 1, "ALGO_UPDATE": 1}
        finally:
            await it.aclose()


async def test_spot_subscribes_signed_and_resubscribes_after_reconnect() -> None:
    venue = SpotVenue()
    async with FakeWsServer(on_message=venue) as server:
        streams = BinanceUserStreams(FakeListenKeys(), urls(server), CREDS, ServerClock(), futures=False, backoff=FAST)
        it = streams.events()
        reader = Reader(it)
        try:
            up = await reader.status()
            assert up.stream == SPOT_STREAM and up.connected and up.reason.startswith("connected: subscribed")
            conn, params = venue.subscribes[0]
            assert conn.path == "/ws-api/v3" and set(params) == {"apiKey", "timestamp", "signature"}
            assert streams.spot_subscription_id == 1

            await conn.send(fixture("ws_execution_report.json"))
            await conn.send({"subscriptionId": 1, "event": fixture("ws_outbound_account_position.json")})
            report = await reader.next()
            assert isinstance(report, OrderUpdate) and report.order.client_id == "bot-7f3a-002"
            assert report.fill is not None and report.fill.fee_asset == "BTC"
            balances = await reader.next()
            assert isinstance(balances, AccountUpdate) and balances.kind is MarketKind.SPOT

            server.abort_all()
            down = await reader.status()
            assert down.stream == SPOT_STREAM and not down.connected
            again = await reader.status()
            assert again.connected and again.reason.startswith("reconnected: subscribed again")
            assert len(venue.subscribes) == 2 and venue.subscribes[1][0] is not conn

            conn2 = venue.subscribes[1][0]
            await conn2.send({"subscriptionId": 2, "event": {"e": "eventStreamTerminated", "E": 1752148900000}})
            ended = await reader.status()
            assert not ended.connected and ended.reason == "eventStreamTerminated"
            assert (await reader.status()).connected
            assert len(venue.subscribes) == 3 and venue.subscribes[2][0] is conn2  # same connection

            await conn2.send(
                {"subscriptionId": 3, "event": {"e": "balanceUpdate", "E": 1, "a": "BTC", "d": "1.0", "T": 1}}
            )
            await conn2.send({"subscriptionId": 3, "event": {"e": "listStatus", "E": 1}})
            await conn2.send({"subscriptionId": 3, "event": {"e": "executionReport", "E": 1}})
            await conn2.send(fixture("ws_execution_report.json"))
            assert isinstance(await reader.next(), OrderUpdate)
            assert streams.ignored == {"balanceUpdate": 1, "listStatus": 1}
            assert streams.errors.counts == {"spot:malformed:executionReport": 1}
        finally:
            await it.aclose()


async def test_spot_subscribe_rejection_is_retried() -> None:
    venue = SpotVenue()
    venue.reject_next = 2
    async with FakeWsServer(on_message=venue) as server:
        streams = BinanceUserStreams(FakeListenKeys(), urls(server), CREDS, ServerClock(), futures=False, backoff=FAST)
        it = streams.events()
        try:
            up = await Reader(it).status()
            assert up.connected and len(venue.subscribes) == 3
            assert len(server.conns) == 1  # retried on the same connection
        finally:
            await it.aclose()


async def test_a_ban_answering_the_spot_subscription_pauses_the_whole_scope() -> None:
    """A 418 that answers the spot user-data subscription is the venue banning the IP: every
    process of the scope must stop (the budget records the ban), as for any other request. Before,
    the subscription's WS-API had no budget: the ban was only retried against (seen as a flaky
    runner test whose armed 418 landed on a runner's subscription)."""
    venue = SpotVenue()
    venue.ban_next_s = 30.0
    budget = SharedBudget("binance-spot", binance_windows([("REQUEST_WEIGHT", "MINUTE", 1, 6000)]), None)
    async with FakeWsServer(on_message=venue) as server:
        streams = BinanceUserStreams(
            FakeListenKeys(), urls(server), CREDS, ServerClock(), futures=False, backoff=FAST, spot_budget=budget
        )
        it = streams.events()
        pulling = asyncio.create_task(anext(it))  # the stream runs while it is read
        try:
            await eventually(lambda: budget.banned_for_s() > 20, timeout=5, what="the ban in the budget")
            assert len(venue.subscribes) == 1  # and while it lasts, the retries send nothing
        finally:
            pulling.cancel()
            await asyncio.gather(pulling, return_exceptions=True)
            await it.aclose()


async def test_spot_and_futures_are_merged() -> None:
    venue = SpotVenue()
    rest = FakeListenKeys()
    async with FakeWsServer(on_message=venue) as server:
        streams = BinanceUserStreams(rest, urls(server), CREDS, ServerClock(), backoff=FAST)
        it = streams.events()
        reader = Reader(it)
        try:
            ups = {(await reader.status()).stream for _ in range(2)}
            assert ups == {SPOT_STREAM, FUTURES_STREAM}
            await private_conns(server)[0].send(fixture("ws_order_trade_update.json"))
            await venue.subscribes[0][0].send(fixture("ws_execution_report.json"))
            kinds = {(await reader.next()).order.key.kind for _ in range(2)}  # type: ignore[union-attr]
            assert kinds == {MarketKind.SPOT, MarketKind.PERP}
            assert set(streams.stats()) == {SPOT_STREAM, FUTURES_STREAM}
            with pytest.raises(RuntimeError):
                await anext(streams.events())
        finally:
            await it.aclose()


def test_needs_a_product() -> None:
    with pytest.raises(ValueError):
        BinanceUserStreams(FakeListenKeys(), BinanceUrls.live(), CREDS, ServerClock(), spot=False, futures=False)
