"""USD-M futures REST (/fapi) and the listenKey user-data stream, over real sockets."""

from __future__ import annotations

from decimal import Decimal

from exchanges.binance.sim import BinanceSim
from tests.helpers import eventually

from .helpers import Rest, WsClient, json_of


async def _user_stream(sim: BinanceSim, fut: Rest, suffix: str = "") -> tuple[str, WsClient]:
    key = json_of(await fut.keyed("POST", "/fapi/v1/listenKey"))["listenKey"]
    ws = await WsClient.connect(f"{sim.urls.futures_ws}/private/ws?listenKey={key}{suffix}")
    return key, ws


async def test_exchange_info_and_market_data(fut: Rest) -> None:
    r = await fut.public("GET", "/fapi/v1/exchangeInfo")
    info = json_of(r)
    assert r.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    assert info["futuresType"] == "U_MARGINED"
    assert {(x["rateLimitType"], x["interval"], x["intervalNum"]): x["limit"] for x in info["rateLimits"]} == {
        ("REQUEST_WEIGHT", "MINUTE", 1): 2400, ("ORDERS", "SECOND", 10): 300, ("ORDERS", "MINUTE", 1): 1200}
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc["contractType"] == "PERPETUAL" and btc["marginAsset"] == "USDT"
    assert btc["pricePrecision"] == 1 and btc["quantityPrecision"] == 3
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.1" and filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert filters["MIN_NOTIONAL"] == {"filterType": "MIN_NOTIONAL", "notional": "100"}
    assert filters["MAX_NUM_ORDERS"] == {"filterType": "MAX_NUM_ORDERS", "limit": 200}
    assert filters["PERCENT_PRICE"]["multiplierUp"] == "1.0500"
    r = await fut.public("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=10)
    depth = json_of(r)
    assert list(depth) == ["lastUpdateId", "E", "T", "bids", "asks"] and len(depth["asks"]) == 10
    assert r.headers["X-MBX-USED-WEIGHT-1M"] == "3"
    assert json_of(await fut.public("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=7))["code"] == -4021
    premium = json_of(await fut.public("GET", "/fapi/v1/premiumIndex", symbol="BTCUSDT"))
    assert set(premium) == {"symbol", "markPrice", "indexPrice", "estimatedSettlePrice", "lastFundingRate",
                            "interestRate", "nextFundingTime", "time"}
    assert isinstance(premium["nextFundingTime"], int) and isinstance(premium["lastFundingRate"], str)
    assert len(json_of(await fut.public("GET", "/fapi/v1/premiumIndex"))) == 2
    book = json_of(await fut.public("GET", "/fapi/v1/ticker/bookTicker", symbol="ETHUSDT"))
    assert set(book) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty", "time", "lastUpdateId"}
    assert json_of(await fut.public("GET", "/fapi/v1/fundingInfo")) == []  # 8 h default: nothing adjusted
    assert json_of(await fut.public("GET", "/fapi/v1/fundingRate", symbol="BTCUSDT")) == []


async def test_order_lifecycle_with_order_trade_update(sim: BinanceSim, fut: Rest) -> None:
    _, ws = await _user_stream(sim, fut)
    try:
        depth = json_of(await fut.public("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=5))
        level = Decimal(depth["asks"][0][1])
        qty = level * 2 + Decimal("0.2")
        r = await fut.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                             timeInForce="GTC", quantity=str(qty), price=depth["asks"][1][0],
                             newClientOrderId="fut-life", newOrderRespType="RESULT")
        assert r.status_code == 200, r.text
        placed = json_of(r)
        assert placed["status"] == "PARTIALLY_FILLED" and Decimal(placed["executedQty"]) == level * 2
        assert "avgPrice" not in placed and "cumQuote" not in placed
        assert r.headers["X-MBX-ORDER-COUNT-1M"] == "1"
        sim.venue.move_index("BTC", -1.0)
        done = await ws.wait_for(lambda m: m["e"] == "ORDER_TRADE_UPDATE" and m["o"]["X"] == "FILLED")
        updates = [m["o"] for m in ws.messages if m.get("e") == "ORDER_TRADE_UPDATE"]
        assert [(o["x"], o["X"]) for o in updates] == [
            ("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "FILLED")]
        assert "n" not in updates[0] and "N" not in updates[0]
        assert all(o["N"] == "USDT" for o in updates[1:])
        assert [o["z"] for o in updates] == ["0.000", str(level), str(level * 2), f"{qty:.3f}"]
        assert updates[-1]["m"] is True and updates[1]["m"] is False
        account = await ws.wait_for(lambda m: m["e"] == "ACCOUNT_UPDATE" and m["a"]["P"]
                                    and m["a"]["P"][0]["pa"] == f"{qty:.3f}", what="ACCOUNT_UPDATE")
        assert account["a"]["m"] == "ORDER" and account["a"]["B"][0]["a"] == "USDT"
        assert account["a"]["P"][0]["mt"] == "cross" and account["a"]["P"][0]["ps"] == "BOTH"
        await ws.wait_for(lambda m: m["e"] == "TRADE_LITE", what="TRADE_LITE")
        got = json_of(await fut.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="fut-life"))
        assert got["status"] == "FILLED" and got["executedQty"] == done["o"]["z"]
        assert got["avgPrice"] == done["o"]["ap"]
        trades = json_of(await fut.signed("GET", "/fapi/v1/userTrades", symbol="BTCUSDT"))
        assert len(trades) == 3 and sum(Decimal(t["qty"]) for t in trades) == qty
        assert Decimal(got["cumQuote"]) == sum(Decimal(t["quoteQty"]) for t in trades)
        risk = json_of(await fut.signed("GET", "/fapi/v3/positionRisk", symbol="BTCUSDT"))
        assert len(risk) == 1 and risk[0]["positionAmt"] == f"{qty:.3f}" and "leverage" not in risk[0]
        risk2 = json_of(await fut.signed("GET", "/fapi/v2/positionRisk"))
        assert {p["symbol"] for p in risk2} == {"BTCUSDT", "ETHUSDT"}
        assert next(p for p in risk2 if p["symbol"] == "BTCUSDT")["leverage"] == "20"
        acct3 = json_of(await fut.signed("GET", "/fapi/v3/account"))
        assert [p["symbol"] for p in acct3["positions"]] == ["BTCUSDT"]
        assert Decimal(acct3["totalPositionInitialMargin"]) > 0
        acct2 = json_of(await fut.signed("GET", "/fapi/v2/account"))
        assert len(acct2["positions"]) == 2 and acct2["canTrade"] is True
        balance = json_of(await fut.signed("GET", "/fapi/v2/balance"))
        assert balance[0]["asset"] == "USDT" and balance[0]["balance"] == acct3["totalWalletBalance"]
        income = json_of(await fut.signed("GET", "/fapi/v1/income", incomeType="COMMISSION"))
        assert len(income) == 3 and all(Decimal(i["income"]) < 0 for i in income)
        assert all(isinstance(i["tranId"], int) and isinstance(i["tradeId"], str) for i in income)
    finally:
        await ws.close()


async def test_cancel_and_errors(sim: BinanceSim, fut: Rest) -> None:
    async def place(**params: object) -> dict[str, object]:
        base: dict[str, object] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                   "quantity": "0.01", "price": "50000"}
        base.update(params)
        return json_of(await fut.signed("POST", "/fapi/v1/order", **{k: v for k, v in base.items() if v is not None}))

    ack = await place(newClientOrderId="c-1")
    assert ack["status"] == "NEW" and ack["price"] == "50000.0" and ack["origQty"] == "0.010"
    assert ack["positionSide"] == "BOTH" and ack["selfTradePreventionMode"] == "EXPIRE_MAKER"
    assert await place(newClientOrderId="c-1") == {"code": -4116, "msg": "ClientOrderId is duplicated."}
    canceled = json_of(await fut.signed("DELETE", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="c-1"))
    assert canceled["status"] == "CANCELED" and canceled["orderId"] == ack["orderId"]
    again = json_of(await fut.signed("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=ack["orderId"]))
    assert again == {"code": -2011, "msg": "Unknown order sent."}
    assert (await place(newClientOrderId="c-1"))["status"] == "NEW"  # a final order's id may be reused
    all_open = json_of(await fut.signed("DELETE", "/fapi/v1/allOpenOrders", symbol="BTCUSDT"))
    assert all_open == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert json_of(await fut.signed("GET", "/fapi/v1/openOrders")) == []
    assert await place(positionSide="LONG") == {"code": -4061,
                                                "msg": "Order's position side does not match user's setting."}
    assert (await place(type="STOP_MARKET", timeInForce=None, price=None))["code"] == -4120
    assert await place(quantity="0.0001") == {"code": -1111,
                                              "msg": "Precision is over the maximum defined for this asset."}
    assert await place(quantity="0") == {"code": -4003, "msg": "Quantity less than or equal to zero."}
    assert await place(quantity="0.001") == {
        "code": -4164, "msg": "Order's notional must be no smaller than 100 (unless you choose reduce only)."}
    assert (await place(quantity="100"))["code"] == -2019
    depth = json_of(await fut.public("GET", "/fapi/v1/depth", symbol="BTCUSDT", limit=5))
    ask = depth["asks"][0][0]
    assert (await place(timeInForce="GTX", price=ask))["code"] == -5022
    assert (await place(timeInForce="FOK", price=ask, quantity="50"))["code"] == -5021
    assert await place(side="SELL", reduceOnly="true", price=ask) == {"code": -2022,
                                                                     "msg": "ReduceOnly Order is rejected."}
    assert (await place(price="50000.05"))["code"] == -1111
    assert await place(price="10") == {"code": -4013, "msg": "Price less than min price."}
    assert await place(price="90000") == {"code": -4016, "msg": "Price is higher than mark price multiplier cap."}
    assert await place(newOrderRespType="FULL") == {"code": -1136, "msg": "Invalid newOrderRespType."}
    assert await place(newClientOrderId="bad id!") == {"code": -4015, "msg": "Client order id is not valid."}
    missing = json_of(await fut.signed("GET", "/fapi/v1/order", symbol="BTCUSDT"))
    assert missing["code"] == -1102


async def test_leverage_margin_type_position_mode(sim: BinanceSim, fut: Rest) -> None:
    _, ws = await _user_stream(sim, fut)
    try:
        r = json_of(await fut.signed("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=25))
        assert r["leverage"] == 25 and r["symbol"] == "BTCUSDT" and isinstance(r["maxNotionalValue"], str)
        cfg = await ws.wait_for(lambda m: m["e"] == "ACCOUNT_CONFIG_UPDATE")
        assert cfg["ac"] == {"s": "BTCUSDT", "l": 25}
        assert json_of(await fut.signed("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=200))["code"] == -4028
        assert json_of(await fut.signed("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="CROSSED")) == {
            "code": -4046, "msg": "No need to change margin type."}
        assert json_of(await fut.signed("POST", "/fapi/v1/positionSide/dual", dualSidePosition="false")) == {
            "code": -4059, "msg": "No need to change position side."}
        assert json_of(await fut.signed("GET", "/fapi/v1/positionSide/dual")) == {"dualSidePosition": False}
        configs = json_of(await fut.signed("GET", "/fapi/v1/symbolConfig", symbol="BTCUSDT"))
        assert configs[0]["leverage"] == 25 and configs[0]["marginType"] == "CROSSED"
    finally:
        await ws.close()


async def test_listen_key_rules(sim: BinanceSim, fut: Rest) -> None:
    first = json_of(await fut.keyed("POST", "/fapi/v1/listenKey"))["listenKey"]
    assert len(first) == 64
    assert json_of(await fut.keyed("POST", "/fapi/v1/listenKey"))["listenKey"] == first  # same while active
    assert json_of(await fut.keyed("PUT", "/fapi/v1/listenKey"))["listenKey"] == first
    assert json_of(await fut.keyed("DELETE", "/fapi/v1/listenKey")) == {}
    gone = json_of(await fut.keyed("PUT", "/fapi/v1/listenKey"))
    assert gone["code"] == -1125
    second = json_of(await fut.keyed("POST", "/fapi/v1/listenKey"))["listenKey"]
    assert second != first
    unknown = await WsClient.connect(f"{sim.urls.futures_ws}/public/ws/btcusdt@depth")
    await unknown.close()
    import aiohttp

    async with aiohttp.ClientSession() as session:
        r = await session.get(f"{sim.urls.futures_rest}/private/ws?listenKey={first}")
        assert r.status == 400 and (await r.json())["code"] == -1125


async def test_listen_key_expiry_event_after_validity() -> None:
    from exchanges.binance.sim import BinanceSimOptions
    from tests.helpers import free_port_pair

    async with BinanceSim(port_base=free_port_pair(), options=BinanceSimOptions(listen_key_validity_ms=300)) as sim:
        fut = Rest(sim, "futures")
        try:
            key, ws = await _user_stream(sim, fut)
            expired = await ws.wait_for(lambda m: m["e"] == "listenKeyExpired", what="listenKeyExpired")
            assert expired["listenKey"] == key and isinstance(expired["E"], str) and expired["E"].isdigit()
            assert json_of(await fut.keyed("PUT", "/fapi/v1/listenKey"))["code"] == -1125
            await fut.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                             timeInForce="GTC", quantity="0.01", price="50000")
            count = len(ws.messages)
            await eventually(lambda: sim.steps > 3)
            assert len(ws.messages) == count and not ws.closed.is_set()  # silence on an open socket
            await ws.close()
        finally:
            await fut.close()


async def test_funding_payment_event_and_income(sim: BinanceSim, fut: Rest) -> None:
    _, ws = await _user_stream(sim, fut, "&events=ACCOUNT_UPDATE")
    try:
        r = await fut.signed("POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="1")
        assert r.status_code == 200, r.text
        sim.venue.set_funding_rate("ETHUSDT", Decimal("0.001"))
        sim.venue.settle_funding_now("ETHUSDT")
        event = await ws.wait_for(lambda m: m["a"]["m"] == "FUNDING_FEE", what="FUNDING_FEE")
        assert event["e"] == "ACCOUNT_UPDATE" and event["a"]["P"] == []
        assert [b["a"] for b in event["a"]["B"]] == ["USDT"]
        assert all(m["e"] == "ACCOUNT_UPDATE" for m in ws.messages)  # the events= filter holds
        income = json_of(await fut.signed("GET", "/fapi/v1/income", incomeType="FUNDING_FEE"))
        assert len(income) == 1 and income[0]["symbol"] == "ETHUSDT" and income[0]["asset"] == "USDT"
        assert Decimal(income[0]["income"]) < 0  # positive rate: the long pays
        history = json_of(await fut.public("GET", "/fapi/v1/fundingRate", symbol="ETHUSDT"))
        assert history[-1]["fundingRate"] == "0.00100000" and isinstance(history[-1]["fundingTime"], int)
    finally:
        await ws.close()
