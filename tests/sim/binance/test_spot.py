"""Spot REST (/api/v3) and the spot user-data stream on the WS-API, over real sockets."""

from __future__ import annotations

from decimal import Decimal

from exchanges.binance.sim import BinanceSim

from .helpers import Rest, WsClient, json_of


async def test_exchange_info_shape(spot: Rest) -> None:
    r = await spot.public("GET", "/api/v3/exchangeInfo")
    assert r.status_code == 200
    assert r.headers["X-MBX-USED-WEIGHT-1M"] == "20"
    info = json_of(r)
    assert info["timezone"] == "UTC" and isinstance(info["serverTime"], int)
    kinds = {(x["rateLimitType"], x["interval"], x["intervalNum"]): x["limit"] for x in info["rateLimits"]}
    assert kinds[("REQUEST_WEIGHT", "MINUTE", 1)] == 6000
    assert kinds[("ORDERS", "SECOND", 10)] == 50 and kinds[("ORDERS", "DAY", 1)] == 160000
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc["status"] == "TRADING" and btc["baseAsset"] == "BTC" and btc["quoteAsset"] == "USDT"
    assert btc["orderTypes"] == ["LIMIT", "LIMIT_MAKER", "MARKET"]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"] == {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
                                   "stepSize": "0.00001000"}
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert filters["MAX_NUM_ORDERS"]["maxNumOrders"] == 200
    one = json_of(await spot.public("GET", "/api/v3/exchangeInfo", symbols='["ETHUSDT"]'))
    assert [s["symbol"] for s in one["symbols"]] == ["ETHUSDT"]
    bad = await spot.public("GET", "/api/v3/exchangeInfo", symbol="NOPE")
    assert bad.status_code == 400 and json_of(bad) == {"code": -1121, "msg": "Invalid symbol."}


async def test_market_data_endpoints_and_weights(spot: Rest) -> None:
    r = await spot.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=5)
    depth = json_of(r)
    assert set(depth) == {"lastUpdateId", "bids", "asks"} and len(depth["bids"]) == 5
    assert r.headers["X-MBX-USED-WEIGHT-1M"] == "5"
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
    assert all(isinstance(p, str) and "E" not in p and len(p.split(".")[1]) == 8 for p, _ in depth["bids"])
    r = await spot.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=1000)
    assert r.headers["X-MBX-USED-WEIGHT-1M"] == str(5 + 50)
    book = json_of(await spot.public("GET", "/api/v3/ticker/bookTicker", symbol="BTCUSDT"))
    assert set(book) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}
    assert isinstance(json_of(await spot.public("GET", "/api/v3/ticker/bookTicker")), list)
    price = json_of(await spot.public("GET", "/api/v3/ticker/price", symbol="ETHUSDT"))
    assert price["symbol"] == "ETHUSDT" and Decimal(price["price"]) > 0
    avg = json_of(await spot.public("GET", "/api/v3/avgPrice", symbol="BTCUSDT"))
    assert avg["mins"] == 5 and isinstance(avg["closeTime"], int)
    assert json_of(await spot.public("GET", "/api/v3/ping")) == {}
    missing = await spot.public("GET", "/api/v3/depth")
    assert json_of(missing) == {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was "
                                                      "empty/null, or malformed."}
    garbage = await spot.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit="ten")
    assert json_of(garbage)["code"] == -1100
    extra = await spot.public("GET", "/api/v3/depth", symbol="BTCUSDT", bogus=1)
    assert json_of(extra)["code"] == -1104
    unknown = await spot.public("GET", "/api/v3/nothing")
    assert unknown.status_code == 404


async def _subscribe_user(sim: BinanceSim) -> WsClient:
    ws = await WsClient.connect(sim.urls.spot_ws_api)
    reply = await ws.request("userDataStream.subscribe.signature", secret=sim.api_secret, key=sim.api_key)
    assert reply["status"] == 200 and reply["result"] == {"subscriptionId": 0}, reply
    return ws


async def test_order_new_partial_filled_with_execution_reports(sim: BinanceSim, spot: Rest) -> None:
    ws = await _subscribe_user(sim)
    try:
        depth = json_of(await spot.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=5))
        price = depth["asks"][1][0]
        level = Decimal(depth["asks"][0][1])
        qty = level * 2 + Decimal("0.2")
        r = await spot.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                              timeInForce="GTC", quantity=str(qty), price=price, newClientOrderId="life-1")
        assert r.status_code == 200, r.text
        placed = json_of(r)
        assert placed["status"] == "PARTIALLY_FILLED"
        assert Decimal(placed["executedQty"]) == level * 2
        assert len(placed["fills"]) == 2 and all(f["commissionAsset"] == "BTC" for f in placed["fills"])
        assert r.headers["X-MBX-ORDER-COUNT-10S"] == "1"
        sim.venue.move_index("BTC", -1.0)  # the market falls through the resting remainder
        filled = await ws.wait_for(lambda m: m["event"]["e"] == "executionReport"
                                   and m["event"]["c"] == "life-1" and m["event"]["X"] == "FILLED", what="FILLED")
        reports = [m["event"] for m in ws.messages if m.get("event", {}).get("c") == "life-1"]
        assert [(e["x"], e["X"]) for e in reports] == [
            ("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "FILLED")]
        assert [Decimal(e["z"]) for e in reports[1:]] == [level, level * 2, qty]
        assert reports[-1]["m"] is True and reports[1]["m"] is False  # the remainder filled as maker
        assert sum(Decimal(e["l"]) for e in reports) == qty
        await ws.wait_for(lambda m: m["event"]["e"] == "outboundAccountPosition", what="balances")
        got = json_of(await spot.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="life-1"))
        assert got["status"] == "FILLED" and got["isWorking"] is False
        assert got["executedQty"] == filled["event"]["z"]
        assert got["cummulativeQuoteQty"] == filled["event"]["Z"]
        trades = json_of(await spot.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT", orderId=placed["orderId"]))
        assert len(trades) == 3 and sum(Decimal(t["qty"]) for t in trades) == qty
        assert sum(Decimal(t["quoteQty"]) for t in trades) == Decimal(got["cummulativeQuoteQty"])
        history = json_of(await spot.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT"))
        assert [o["clientOrderId"] for o in history] == ["life-1"]
    finally:
        await ws.close()


async def test_response_types_cancel_and_open_orders(sim: BinanceSim, spot: Rest) -> None:
    ws = await _subscribe_user(sim)
    try:
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
                "price": "50000"}
        ack = json_of(await spot.signed("POST", "/api/v3/order", newOrderRespType="ACK", **base))
        assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
        assert ack["orderListId"] == -1
        result = json_of(await spot.signed("POST", "/api/v3/order", newOrderRespType="RESULT", **base))
        assert "fills" not in result and result["cummulativeQuoteQty"] == "0.00000000"
        full = json_of(await spot.signed("POST", "/api/v3/order", **base))
        assert full["fills"] == [] and full["status"] == "NEW"
        maker = json_of(await spot.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL",
                                          type="LIMIT_MAKER", quantity="0.001", price="70000"))
        assert set(maker) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
        open_orders = json_of(await spot.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT"))
        assert len(open_orders) == 4 and {o["type"] for o in open_orders} == {"LIMIT", "LIMIT_MAKER"}
        canceled = await spot.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=ack["orderId"],
                                     newClientOrderId="my-cancel")
        body = json_of(canceled)
        assert body["status"] == "CANCELED" and body["origClientOrderId"] == ack["clientOrderId"]
        assert body["clientOrderId"] == "my-cancel"
        report = await ws.wait_for(lambda m: m["event"]["x"] == "CANCELED", what="cancel report")
        assert report["event"]["c"] == "my-cancel" and report["event"]["C"] == ack["clientOrderId"]
        again = await spot.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=ack["orderId"])
        assert json_of(again) == {"code": -2011, "msg": "Unknown order sent."}
        missing = await spot.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=999999)
        assert json_of(missing) == {"code": -2013, "msg": "Order does not exist."}
        rest = json_of(await spot.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT"))
        assert len(rest) == 3 and all(o["status"] == "CANCELED" for o in rest)
        none_left = await spot.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
        assert json_of(none_left)["code"] == -2011
    finally:
        await ws.close()


async def test_order_rejections(spot: Rest) -> None:
    async def place(**params: object) -> dict[str, object]:
        base: dict[str, object] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                   "quantity": "0.001", "price": "50000"}
        base.update(params)
        return json_of(await spot.signed("POST", "/api/v3/order", **{k: v for k, v in base.items() if v is not None}))

    assert await place(quantity="5") == {"code": -2010,
                                         "msg": "Account has insufficient balance for requested action."}
    assert await place(price="50000.000000001") == {"code": -1111,
                                                    "msg": "Parameter 'price' has too much precision."}
    assert await place(price="50000.001") == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
    assert await place(quantity="0.000001") == {"code": -1013, "msg": "Filter failure: LOT_SIZE"}
    assert await place(quantity="0.00001") == {"code": -1013, "msg": "Filter failure: NOTIONAL"}
    assert await place(side="HOLD") == {"code": -1117, "msg": "Invalid side."}
    assert await place(type="LIMITED") == {"code": -1116, "msg": "Invalid orderType."}
    assert await place(timeInForce="GTD") == {"code": -1115, "msg": "Invalid timeInForce."}
    assert (await place(type="STOP_LOSS"))["code"] == -2010
    assert await place(price=None) == {"code": -1102, "msg": "Mandatory parameter 'price' was not sent, was "
                                                             "empty/null, or malformed."}
    assert await place(quantity="1e-3") == {
        "code": -1100, "msg": "Illegal characters found in parameter 'quantity'; legal range is "
                              "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'."}
    assert await place(symbol="NOPE") == {"code": -1121, "msg": "Invalid symbol."}
    assert (await place(newClientOrderId="dup-1"))["status"] == "NEW"
    assert await place(newClientOrderId="dup-1") == {"code": -2010, "msg": "Duplicate order sent."}
    best_bid = json_of(await spot.public("GET", "/api/v3/depth", symbol="BTCUSDT", limit=5))["bids"][0][0]
    assert await place(side="SELL", type="LIMIT_MAKER", timeInForce=None, price=best_bid) == {
        "code": -2010, "msg": "Order would immediately match and take."}
    market = await place(type="MARKET", timeInForce=None, price=None, quantity=None, quoteOrderQty="100")
    assert market["status"] == "FILLED" and market["type"] == "MARKET"
    assert Decimal(str(market["cummulativeQuoteQty"])) <= 100


async def test_account(sim: BinanceSim, spot: Rest) -> None:
    acct = json_of(await spot.signed("GET", "/api/v3/account"))
    assert acct["accountType"] == "SPOT" and acct["canTrade"] is True
    assert acct["commissionRates"]["maker"] == "0.00100000"
    balances = {b["asset"]: b for b in acct["balances"]}
    assert balances["USDT"] == {"asset": "USDT", "free": "100000.00000000", "locked": "0.00000000"}
    await spot.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                      quantity="0.01", price="50000")
    after = {b["asset"]: b for b in json_of(await spot.signed("GET", "/api/v3/account"))["balances"]}
    assert after["USDT"]["locked"] == "500.00000000" and after["USDT"]["free"] == "99500.00000000"


async def test_deposit_pushes_balance_update(sim: BinanceSim, spot: Rest) -> None:
    ws = await _subscribe_user(sim)
    try:
        r = await spot.client.post("/_sim/engine/deposit", json={"kind": "spot", "asset": "USDT", "amount": "250.5"})
        assert r.status_code == 200, r.text
        update = await ws.wait_for(lambda m: m["event"]["e"] == "balanceUpdate")
        assert update["event"]["a"] == "USDT" and update["event"]["d"] == "250.50000000"
        position = await ws.wait_for(lambda m: m["event"]["e"] == "outboundAccountPosition")
        assert position["event"]["B"] == [{"a": "USDT", "f": "100250.50000000", "l": "0.00000000"}]
    finally:
        await ws.close()
