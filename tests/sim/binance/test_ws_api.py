"""The WebSocket APIs: spot /ws-api/v3 and USD-M /ws-fapi/v1 (§2, §8)."""

from __future__ import annotations

from exchanges.binance.sim import BinanceSim

from .helpers import Rest, WsClient, json_of


async def test_spot_ws_api_trading_and_user_stream(sim: BinanceSim) -> None:
    ws = await WsClient.connect(sim.urls.spot_ws_api)
    key, secret = sim.api_key, sim.api_secret
    try:
        t = await ws.request("time")
        assert t["status"] == 200 and isinstance(t["result"]["serverTime"], int)
        assert {r["rateLimitType"] for r in t["rateLimits"]} == {"REQUEST_WEIGHT"}
        sub = await ws.request("userDataStream.subscribe.signature", {}, secret=secret, key=key)
        assert sub["result"] == {"subscriptionId": 0}
        again = await ws.request("userDataStream.subscribe.signature", {}, secret=secret, key=key)
        assert again["status"] == 400 and again["error"]["code"] == -2035
        subs = await ws.request("session.subscriptions")
        assert subs["result"] == [{"subscriptionId": 0}]
        placed = await ws.request("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                  "timeInForce": "GTC", "quantity": "0.001", "price": 50000.00,
                                                  "newClientOrderId": "wsapi-1"}, secret=secret, key=key)
        assert placed["status"] == 200, placed
        assert placed["result"]["status"] == "NEW" and placed["result"]["fills"] == []
        limits = {(r["rateLimitType"], r["interval"]) for r in placed["rateLimits"]}
        assert limits == {("ORDERS", "SECOND"), ("ORDERS", "DAY"), ("REQUEST_WEIGHT", "MINUTE")}
        event = await ws.wait_for(lambda m: m.get("event", {}).get("e") == "executionReport")
        assert event["subscriptionId"] == 0 and event["event"]["c"] == "wsapi-1" and event["event"]["x"] == "NEW"
        assert event["event"]["N"] is None and event["event"]["t"] == -1
        status = await ws.request("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "wsapi-1"},
                                  secret=secret, key=key)
        assert status["result"]["orderId"] == placed["result"]["orderId"] and status["result"]["isWorking"] is True
        opened = await ws.request("openOrders.status", {"symbol": "BTCUSDT"}, secret=secret, key=key)
        assert [o["clientOrderId"] for o in opened["result"]] == ["wsapi-1"]
        canceled = await ws.request("order.cancel", {"symbol": "BTCUSDT", "orderId": placed["result"]["orderId"]},
                                    secret=secret, key=key)
        assert canceled["result"]["status"] == "CANCELED"
        account = await ws.request("account.status", {"omitZeroBalances": True, "returnRateLimits": False},
                                   secret=secret, key=key)
        assert "rateLimits" not in account and account["result"]["accountType"] == "SPOT"
        unsub = await ws.request("userDataStream.unsubscribe", {"subscriptionId": 0})
        assert unsub["result"] == {}
        assert (await ws.request("session.subscriptions"))["result"] == []
        versioned = await ws.request("v3/ping")
        assert versioned["result"] == {}
    finally:
        await ws.close()


async def test_spot_ws_api_errors_keep_the_connection(sim: BinanceSim) -> None:
    ws = await WsClient.connect(sim.urls.spot_ws_api)
    key, secret = sim.api_key, sim.api_secret
    try:
        await ws.send("{definitely not json")
        bad_json = await ws.wait_for(lambda m: "error" in m)
        assert bad_json == {"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON Request"}}
        not_object = await ws.request("ping", None)
        assert not_object["status"] == 200
        await ws.send({"id": "p1", "method": "ping", "params": [1, 2]})
        params = await ws.wait_for(lambda m: m.get("id") == "p1")
        assert params["error"] == {"code": -1135, "msg": "Invalid 'params' in JSON request; expected an object."}
        unknown = await ws.request("order.teleport", {})
        assert unknown["status"] == 400 and unknown["error"]["code"] == -1020
        await ws.send({"method": "ping"})
        no_id = await ws.wait_for(lambda m: m.get("error", {}).get("code") == -1102)
        assert "'id'" in no_id["error"]["msg"]
        missing = await ws.request("order.place", {"side": "BUY"}, secret=secret, key=key)
        assert missing["error"] == {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was "
                                                          "empty/null, or malformed."}
        forged = await ws.request("account.status", {}, secret="0" * 64, key=key)
        assert forged["status"] == 400 and forged["error"]["code"] == -1022
        unsigned = await ws.request("account.status", {"apiKey": key, "timestamp": 1})
        assert unsigned["error"]["code"] == -1102
        alive = await ws.request("ping")
        assert alive["status"] == 200 and not ws.closed.is_set()
        counted = sim.dialect.bad.snapshot()
        assert counted["ws-api:spot:-1135"] == 2 and counted["ws-api:spot:-1022"] == 1
    finally:
        await ws.close()


async def test_futures_ws_api(sim: BinanceSim, fut: Rest) -> None:
    ws = await WsClient.connect(sim.urls.futures_ws_api)
    key, secret = sim.api_key, sim.api_secret
    try:
        placed = await ws.request("order.place", {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET",
                                                  "quantity": "0.5", "newOrderRespType": "RESULT"},
                                  secret=secret, key=key)
        assert placed["status"] == 200, placed
        assert placed["result"]["status"] == "FILLED" and placed["result"]["executedQty"] == "0.500"
        status = await ws.request("order.status", {"symbol": "ETHUSDT", "orderId": placed["result"]["orderId"]},
                                  secret=secret, key=key)
        assert status["result"]["avgPrice"] != "0" and status["result"]["status"] == "FILLED"
        account = await ws.request("v2/account.status", {}, secret=secret, key=key)
        assert account["result"]["positions"][0]["positionAmt"] == "0.500"
        positions = await ws.request("v2/account.position", {"symbol": "ETHUSDT"}, secret=secret, key=key)
        assert positions["result"][0]["positionAmt"] == "0.500"
        started = await ws.request("userDataStream.start", {"apiKey": key})
        rest_key = json_of(await fut.keyed("POST", "/fapi/v1/listenKey"))["listenKey"]
        assert started["result"]["listenKey"] == rest_key
        resting = await ws.request("order.place", {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT",
                                                   "timeInForce": "GTC", "quantity": "0.5", "price": "3100"},
                                   secret=secret, key=key)
        canceled = await ws.request("order.cancel", {"symbol": "ETHUSDT", "orderId": resting["result"]["orderId"]},
                                    secret=secret, key=key)
        assert canceled["result"]["status"] == "CANCELED"
        gtx = await ws.request("order.place", {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT",
                                               "timeInForce": "GTX", "quantity": "0.5", "price": "3100"},
                               secret=secret, key=key)
        assert gtx["error"]["code"] == -5022
    finally:
        await ws.close()
