"""Public and private WebSocket streams of the offline Bybit venue."""

from __future__ import annotations

import itertools
from decimal import Decimal

import aiohttp
import httpx
import pytest

from exchanges.bybit.book import LocalBook
from exchanges.bybit.sim import BybitSim, BybitSimOptions
from exchanges.sim.faults import FaultRequest
from strategy_client.model import MarketKind, OrderType, Side, TimeInForce
from tests.helpers import eventually, free_port

from .helpers import Rest, WsClient, ok

D = Decimal


def _levels(rows: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in rows]


async def test_orderbook_snapshot_then_deltas_rebuild_the_book(sim: BybitSim, rest: Rest) -> None:
    ws = await WsClient.connect(sim.urls.public_linear)
    try:
        ack = await ws.op("subscribe", ["orderbook.50.BTCUSDT"])
        assert ack == {"success": True, "ret_msg": "", "conn_id": ack["conn_id"], "req_id": "r1", "op": "subscribe"}
        snap = await ws.wait_for(lambda m: m.get("type") == "snapshot", what="snapshot")
        assert snap["topic"] == "orderbook.50.BTCUSDT" and snap["data"]["s"] == "BTCUSDT"
        book = LocalBook(50)
        book.apply("snapshot", _levels(snap["data"]["b"]), _levels(snap["data"]["a"]), snap["data"]["u"])
        # a resting order at a new price changes the book: the delta carries exactly that level
        best_bid = max(book.bids)
        price = best_bid + D("0.10")
        sim.venue.add_account("mm2")
        sim.venue.place_order(
            "mm2", MarketKind.PERP, "BTCUSDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, D("0.123"), price, "x"
        )
        delta = await ws.wait_for(
            lambda m: m.get("type") == "delta" and any(D(p) == price for p, _ in m["data"]["b"]),
            what="delta with the new level",
        )
        deltas = [m for m in ws.topic("orderbook.50.BTCUSDT") if m["type"] == "delta"]
        for m in deltas:
            book.apply("delta", _levels(m["data"]["b"]), _levels(m["data"]["a"]), m["data"]["u"])
        assert delta["data"]["u"] == book.u and deltas[0]["data"]["u"] == snap["data"]["u"] + 1
        assert book.bids[price] == D("0.123") and delta["data"]["seq"] >= snap["data"]["seq"]
        rest_book = ok(await rest.public("/v5/market/orderbook", category="linear", symbol="BTCUSDT", limit=5))
        bids, asks = book.top(5)
        assert rest_book["u"] == delta["data"]["seq"]  # paused market: nothing changed since the last delta
        assert [(lv.price, lv.qty) for lv in bids] == _levels(rest_book["b"])
        assert [(lv.price, lv.qty) for lv in asks] == _levels(rest_book["a"])
    finally:
        await ws.close()


async def test_depth_one_is_snapshot_only_and_resent(sim: BybitSim) -> None:
    ws = await WsClient.connect(sim.urls.public_spot)
    try:
        ack = await ws.op("subscribe", ["orderbook.1.BTCUSDT"])
        assert ack["ret_msg"] == "subscribe"  # the spot ack says so
        first = await ws.wait_for(lambda m: m.get("topic") == "orderbook.1.BTCUSDT", what="first")
        again = await ws.wait_for(
            lambda m: m.get("topic") == "orderbook.1.BTCUSDT" and m is not first,
            what="resend",
            start=ws.messages.index(first) + 1,
        )
        assert first["type"] == again["type"] == "snapshot" and len(first["data"]["b"]) == 1
        assert again["data"]["u"] == first["data"]["u"]  # unchanged: the same u is re-sent
    finally:
        await ws.close()


async def test_control_errors_and_ping(sim: BybitSim) -> None:
    ws = await WsClient.connect(sim.urls.public_spot)
    try:
        pong = await ws.op("ping")
        assert pong["success"] is True and pong["ret_msg"] == "pong" and pong["op"] == "ping"
        eleven = [f"tickers.BTCUSDT{i}" for i in range(11)]
        too_many = await ws.op("subscribe", eleven)
        assert too_many["success"] is False and too_many["ret_msg"] == "args size >10"
        bad = await ws.op("subscribe", ["orderbook.50.NOPEUSDT"])
        assert bad["success"] is False and "NOPEUSDT" in bad["ret_msg"]
        depth = await ws.op("subscribe", ["orderbook.7.BTCUSDT"])
        assert depth["success"] is False
        await ws.send("not json")
        err = await ws.wait_for(lambda m: m.get("success") is False and "json" in m.get("ret_msg", ""))
        assert err["ret_msg"] == "error:invalid json"
        assert (await ws.op("subscribe", ["publicTrade.BTCUSDT"]))["success"] is True
        dup = await ws.op("subscribe", ["publicTrade.BTCUSDT"])
        assert dup["success"] is False and "already" in dup["ret_msg"]
        assert (await ws.op("unsubscribe", ["publicTrade.BTCUSDT"]))["success"] is True
    finally:
        await ws.close()


async def test_linear_tickers_snapshot_then_changed_fields(sim: BybitSim) -> None:
    ws = await WsClient.connect(sim.urls.public_linear)
    try:
        await ws.op("subscribe", ["tickers.BTCUSDT"])
        snap = await ws.wait_for(lambda m: m.get("topic") == "tickers.BTCUSDT")
        assert snap["type"] == "snapshot" and {"markPrice", "fundingRate", "nextFundingTime"} <= set(snap["data"])
        sim.venue.move_index("BTC", 1.0)
        delta = await ws.wait_for(lambda m: m.get("type") == "delta" and "markPrice" in m["data"], what="delta")
        assert delta["data"]["symbol"] == "BTCUSDT" and "fundingIntervalHour" not in delta["data"]
        assert D(delta["data"]["markPrice"]) > D(snap["data"]["markPrice"]) and delta["cs"] > snap["cs"]
    finally:
        await ws.close()


async def test_public_trades_and_restart(sim: BybitSim) -> None:
    ws = await WsClient.connect(sim.urls.public_linear)
    try:
        await ws.op("subscribe", ["publicTrade.ETHUSDT", "orderbook.50.ETHUSDT"])
        await ws.wait_for(lambda m: m.get("type") == "snapshot")
        sim.venue.add_account("t")
        sim.venue.place_order(
            "t", MarketKind.PERP, "ETHUSDT", Side.SELL, OrderType.MARKET, TimeInForce.GTC, D("0.2"), None, "x"
        )
        trade = await ws.wait_for(lambda m: m.get("topic") == "publicTrade.ETHUSDT", what="trade")
        t = trade["data"][0]
        assert t["S"] == "Sell" and t["v"] == "0.20" and t["s"] == "ETHUSDT" and t["BT"] is False
        assert sim.dialect.server_shutdown() == 1
        restart = await ws.wait_for(lambda m: m.get("type") == "snapshot" and m["data"]["u"] == 1, what="u=1")
        assert restart["topic"] == "orderbook.50.ETHUSDT"
    finally:
        await ws.close()


async def test_stale_frame_fault_repeats_an_old_u(sim: BybitSim) -> None:
    ws = await WsClient.connect(sim.urls.public_linear)
    try:
        await ws.op("subscribe", ["orderbook.50.BTCUSDT"])
        await ws.wait_for(lambda m: m.get("type") == "snapshot")
        sim.faults.arm(FaultRequest(stale_frames=1))
        sim.venue.pause(False)
        sim.venue.move_index("BTC", 0.5)

        def repeated() -> bool:
            us = [m["data"]["u"] for m in ws.topic("orderbook.50.BTCUSDT") if m["type"] == "delta"]
            return any(b <= a for a, b in itertools.pairwise(us))

        await eventually(repeated, what="a delta with a u that does not increase")
    finally:
        await ws.close()


async def test_private_stream(sim: BybitSim, rest: Rest) -> None:
    ws = await WsClient.connect(sim.urls.private)
    try:
        early = await ws.op("subscribe", ["order"])
        assert early["success"] is False
        bad = await ws.auth(sim.api_key, "wrong-secret")
        assert bad["success"] is False and bad["op"] == "auth"
        expired = await ws.auth(sim.api_key, sim.api_secret, expires=1)
        assert expired["success"] is False
        good = await ws.auth(sim.api_key, sim.api_secret)
        assert good["success"] is True and good["ret_msg"] == "" and good["op"] == "auth"
        mixed = await ws.op("subscribe", ["order", "execution.linear"])
        assert mixed["success"] is False
        assert (await ws.op("subscribe", ["order", "execution", "position", "wallet"]))["success"] is True
        pong = await ws.op("ping")
        assert pong["op"] == "pong" and pong["args"][0].isdigit()
        ok(
            await rest.order(
                category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.02", orderLinkId="p-1"
            )
        )
        filled = await ws.wait_for(lambda m: m.get("topic") == "order" and m["data"][0]["orderStatus"] == "Filled")
        assert filled["data"][0]["category"] == "linear" and filled["data"][0]["orderLinkId"] == "p-1"
        execution = await ws.wait_for(lambda m: m.get("topic") == "execution")
        e = execution["data"][0]
        assert e["execType"] == "Trade" and e["orderLinkId"] == "p-1" and e["feeCurrency"] == "USDT"
        position = await ws.wait_for(lambda m: m.get("topic") == "position" and m["data"][0]["size"] == "0.020")
        assert position["data"][0]["side"] == "Buy" and "entryPrice" in position["data"][0]
        wallet = await ws.wait_for(lambda m: m.get("topic") == "wallet")
        assert wallet["data"][0]["accountType"] == "UNIFIED" and {"id", "creationTime"} <= set(wallet)
        topics = [m["topic"] for m in ws.messages if "topic" in m]
        assert topics.index("execution") < topics.index("wallet")
        sim.venue.set_funding_rate("BTCUSDT", D("0.001"))
        sim.venue.settle_funding_now("BTCUSDT")
        funding = await ws.wait_for(lambda m: m.get("topic") == "execution" and m["data"][0]["execType"] == "Funding")
        assert D(funding["data"][0]["execFee"]) > 0 and funding["data"][0]["symbol"] == "BTCUSDT"  # long pays
    finally:
        await ws.close()


async def test_categorised_private_topics(sim: BybitSim, rest: Rest) -> None:
    ws = await WsClient.connect(sim.urls.private)
    try:
        await ws.auth(sim.api_key, sim.api_secret)
        assert (await ws.op("subscribe", ["order.spot"]))["success"] is True
        ok(
            await rest.order(
                category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01", price="50000"
            )
        )
        ok(
            await rest.order(
                category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01", price="50000"
            )
        )
        msg = await ws.wait_for(lambda m: "topic" in m)
        assert msg["topic"] == "order.spot" and msg["data"][0]["category"] == "spot"
        assert all(m["data"][0]["category"] == "spot" for m in ws.messages if "topic" in m)
    finally:
        await ws.close()


async def test_idle_connections_are_closed_and_max_active_time() -> None:
    options = BybitSimOptions(public_idle_timeout_s=0.3)
    async with BybitSim(port=free_port(), options=options) as sim:
        ws = await WsClient.connect(sim.urls.public_spot)
        try:
            await ws.closed.wait()  # no ping: the venue closes the connection
            assert ws.ws.close_code == 1000
        finally:
            await ws.close()
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(sim.urls.private + "?max_active_time=5s")
        async with httpx.AsyncClient() as client:
            r = await client.post(f"{sim.urls.rest}/_sim/ws/kill", json={"target": "bogus"})
            assert r.status_code == 400
