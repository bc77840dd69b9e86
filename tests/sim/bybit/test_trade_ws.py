"""WebSocket order entry ``/v5/trade``: the wire protocol (auth, reqId echo, errors, batch),
pybit's ``WebSocketTrading`` and ccxt.pro's ``create_order_ws``/``cancel_order_ws``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import ccxt.pro as ccxtpro
import pytest
from pybit import _websocket_trading, unified_trading

from exchanges.bybit.sim import BybitSim, ThreadedBybitSim
from exchanges.sim.faults import FaultRequest
from strategy_client.model import MarketKind
from tests.helpers import eventually_sync, free_port
from tests.sim.binance.helpers import WsClient


def _auth_args(key: str, secret: str, expires: int) -> list[object]:
    sig = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    return [key, expires, sig]


@pytest.fixture
async def sim() -> AsyncIterator[BybitSim]:
    venue = BybitSim(port=free_port(), seed=3)
    async with venue:
        venue.venue.pause(True)
        yield venue


async def test_wire_protocol(sim: BybitSim) -> None:
    ws = await WsClient.connect(sim.urls.trade)
    try:
        now = sim.dialect.core.now_ms()
        header = {"X-BAPI-TIMESTAMP": str(now)}
        order = {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.01",
            "price": "50000",
            "orderLinkId": "ws-1",
        }
        await ws.send({"reqId": "early", "header": header, "op": "order.create", "args": [order]})
        early = await ws.wait_for(lambda m: m.get("reqId") == "early")
        assert early["retCode"] == 10003 and early["op"] == "order.create"
        await ws.send({"op": "auth", "args": _auth_args(sim.api_key, "wrong", now + 10_000)})
        bad = await ws.wait_for(lambda m: m.get("op") == "auth")
        assert bad["retCode"] == 10004
        await ws.send({"op": "auth", "args": _auth_args(sim.api_key, sim.api_secret, now + 10_000), "reqId": "a1"})
        ok = await ws.wait_for(lambda m: m.get("reqId") == "a1")
        assert ok["retCode"] == 0 and ok["op"] == "auth" and ok["connId"]
        await ws.send({"reqId": "c1", "header": header, "op": "order.create", "args": [order]})
        created = await ws.wait_for(lambda m: m.get("reqId") == "c1")
        assert created["retCode"] == 0 and created["retMsg"] == "OK" and created["data"]["orderLinkId"] == "ws-1"
        assert created["header"]["X-Bapi-Limit"] == "10" and "Traceid" in created["header"]
        assert sim.venue.open_orders(sim.dialect.core.account, MarketKind.PERP, "BTCUSDT")  # the engine holds it
        await ws.send(
            {
                "reqId": "a2",
                "header": header,
                "op": "order.amend",
                "args": [{"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "ws-1", "price": "49000"}],
            }
        )
        amend = await ws.wait_for(lambda m: m.get("reqId") == "a2")
        assert amend["retCode"] == 0 and amend["data"]["orderId"] == created["data"]["orderId"]
        [resting] = sim.venue.open_orders(sim.dialect.core.account, MarketKind.PERP, "BTCUSDT")
        assert resting.price == 49000 and resting.client_order_id == "ws-1"
        await ws.send(
            {
                "reqId": "x1",
                "header": header,
                "op": "order.cancel",
                "args": [{"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "ws-1"}],
            }
        )
        canceled = await ws.wait_for(lambda m: m.get("reqId") == "x1")
        assert canceled["retCode"] == 0 and canceled["data"]["orderId"] == created["data"]["orderId"]
        await ws.send(
            {
                "reqId": "x2",
                "header": header,
                "op": "order.cancel",
                "args": [{"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "ws-1"}],
            }
        )
        again = await ws.wait_for(lambda m: m.get("reqId") == "x2")
        assert again["retCode"] == 110001  # order does not exist, as on REST
        stale = {"X-BAPI-TIMESTAMP": str(now - 60_000)}
        await ws.send({"reqId": "s1", "header": stale, "op": "order.create", "args": [order]})
        assert (await ws.wait_for(lambda m: m.get("reqId") == "s1"))["retCode"] == 10002
        batch = {
            "category": "spot",
            "request": [
                {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01", "price": "50000"},
                {"symbol": "NOPEUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01", "price": "1"},
            ],
        }
        await ws.send({"reqId": "b1", "header": header, "op": "order.create-batch", "args": [batch]})
        b = await ws.wait_for(lambda m: m.get("reqId") == "b1")
        assert b["retCode"] == 0 and b["data"]["list"][0]["orderId"] and b["data"]["list"][1]["orderId"] == ""
        assert b["retExtInfo"]["list"][0]["code"] == 0 and b["retExtInfo"]["list"][1]["code"] != 0
        await ws.send({"op": "ping", "reqId": "p"})
        pong = await ws.wait_for(lambda m: m.get("op") == "pong")
        assert pong["reqId"] == "p" and pong["retCode"] == 0
        await ws.send("{not json")
        assert (await ws.wait_for(lambda m: m.get("retCode") == 10001 and m.get("op") == ""))["retMsg"]
    finally:
        await ws.close()


@pytest.fixture(scope="module")
def threaded() -> Iterator[ThreadedBybitSim]:
    with BybitSim.in_thread(port=free_port(), seed=4) as running:
        running.call(lambda s: s.venue.pause(True))
        yield running


def test_pybit_websocket_trading(threaded: ThreadedBybitSim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_websocket_trading, "TRADE_WSS", threaded.urls.trade)
    replies: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def keep(name: str) -> Any:
        def callback(message: dict[str, Any]) -> None:
            with lock:
                replies[name] = message

        return callback

    # pybit sends an order request and only then registers its reply callback: a venue that
    # answers before that line runs (a local one, the test thread descheduled under load) has its
    # reply dropped as "unregistered reqId". Bybit itself is milliseconds away; so is this venue here.
    threaded.call(lambda s: s.faults.arm(FaultRequest(delay_ms=20)))
    ws = unified_trading.WebSocketTrading(testnet=False, api_key=threaded.api_key, api_secret=threaded.api_secret)
    try:
        ws.place_order(
            keep("create"),
            category="linear",
            symbol="ETHUSDT",
            side="Sell",
            orderType="Limit",
            qty="0.1",
            price="3500",
            orderLinkId="pybit-ws-1",
        )
        created = eventually_sync(lambda: replies.get("create"), what="order.create reply")
        assert created["retCode"] == 0 and created["data"]["orderLinkId"] == "pybit-ws-1"
        ws.amend_order(keep("amend"), category="linear", symbol="ETHUSDT", orderLinkId="pybit-ws-1", qty="0.05")
        amended = eventually_sync(lambda: replies.get("amend"), what="order.amend reply")
        assert amended["retCode"] == 0 and amended["data"]["orderLinkId"] == "pybit-ws-1"
        ws.cancel_order(keep("cancel"), category="linear", symbol="ETHUSDT", orderLinkId="pybit-ws-1")
        canceled = eventually_sync(lambda: replies.get("cancel"), what="order.cancel reply")
        assert canceled["data"]["orderId"] == created["data"]["orderId"]
        ws.place_order(
            keep("ok"),
            keep("refused"),
            category="spot",
            symbol="ETHUSDT",
            side="Buy",
            orderType="Limit",
            qty="1000",
            price="2000",
        )
        refused = eventually_sync(lambda: replies.get("refused"), what="error callback")
        assert refused["retCode"] != 0 and "ok" not in replies
    finally:
        ws.exit()
        threaded.call(lambda s: s.faults.clear())


async def test_ccxt_pro_create_order_ws(sim: BybitSim) -> None:
    ex = ccxtpro.bybit({"apiKey": sim.api_key, "secret": sim.api_secret})
    for name in list(ex.urls["api"]):
        if name != "ws":
            ex.urls["api"][name] = sim.urls.rest
    ex.urls["api"]["ws"]["private"]["trade"] = sim.urls.trade
    try:
        await ex.load_markets()
        order = await asyncio.wait_for(ex.create_order_ws("BTC/USDT:USDT", "limit", "buy", 0.01, 50000), 15)
        assert order["id"]
        assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDT:USDT")] == [order["id"]]
        edited = await asyncio.wait_for(ex.edit_order_ws(order["id"], "BTC/USDT:USDT", "limit", "buy", 0.02, 49900), 15)
        assert edited["id"] == order["id"]  # order.amend keeps the order id
        [now] = await ex.fetch_open_orders("BTC/USDT:USDT")
        assert now["price"] == 49900 and now["amount"] == 0.02
        rest_edit = await ex.edit_order(order["id"], "BTC/USDT:USDT", "limit", "buy", 0.01, 49800)  # /v5/order/amend
        assert rest_edit["id"] == order["id"]
        assert (await ex.fetch_open_orders("BTC/USDT:USDT"))[0]["price"] == 49800
        canceled = await asyncio.wait_for(ex.cancel_order_ws(order["id"], "BTC/USDT:USDT"), 15)
        assert canceled["id"] == order["id"]
        assert await ex.fetch_open_orders("BTC/USDT:USDT") == []
    finally:
        await ex.close()
