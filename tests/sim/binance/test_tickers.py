"""24 h tickers (REST ``ticker/24hr`` and ``<symbol>@ticker``/``@miniTicker``), ``/ws/<anything>``
+ SUBSCRIBE, futures ``@trade`` on ``/public`` and ``@0ms`` speeds, checked on the wire."""

from __future__ import annotations

from decimal import Decimal

from exchanges.binance.sim import BinanceSim

from .helpers import Rest, WsClient, json_of

SPOT_FIELDS = [
    "symbol",
    "priceChange",
    "priceChangePercent",
    "weightedAvgPrice",
    "prevClosePrice",
    "lastPrice",
    "lastQty",
    "bidPrice",
    "bidQty",
    "askPrice",
    "askQty",
    "openPrice",
    "highPrice",
    "lowPrice",
    "volume",
    "quoteVolume",
    "openTime",
    "closeTime",
    "firstId",
    "lastId",
    "count",
]
FUTURES_FIELDS = [
    "symbol",
    "priceChange",
    "priceChangePercent",
    "weightedAvgPrice",
    "lastPrice",
    "lastQty",
    "openPrice",
    "highPrice",
    "lowPrice",
    "volume",
    "quoteVolume",
    "openTime",
    "closeTime",
    "firstId",
    "lastId",
    "count",
]


async def test_spot_ticker_24hr_from_own_trades_and_weights(spot: Rest) -> None:
    empty = json_of(await spot.public("GET", "/api/v3/ticker/24hr", symbol="ETHUSDT"))
    assert list(empty) == SPOT_FIELDS and empty["count"] == 0 and empty["firstId"] == -1
    assert Decimal(empty["lastPrice"]) > 0 and empty["volume"] == "0.00000000"
    for side, qty in (("BUY", "0.5"), ("SELL", "0.25")):
        r = await spot.signed("POST", "/api/v3/order", symbol="ETHUSDT", side=side, type="MARKET", quantity=qty)
        assert r.status_code == 200
    one = await spot.public("GET", "/api/v3/ticker/24hr", symbol="ETHUSDT")
    assert one.headers["x-mbx-used-weight-1m"] == str(2 + 1 + 1 + 2)  # empty ticker, two orders, this call
    t = json_of(one)
    assert t["count"] == 2 and t["lastId"] > t["firstId"] and t["volume"] == "0.75000000"
    assert t["lastQty"] == "0.25000000"
    high, low, last = Decimal(t["highPrice"]), Decimal(t["lowPrice"]), Decimal(t["lastPrice"])
    assert high >= last >= low
    assert abs(Decimal(t["quoteVolume"]) / Decimal("0.75") - Decimal(t["weightedAvgPrice"])) < Decimal("1e-8")
    assert Decimal(t["priceChange"]) == last - Decimal(t["openPrice"]) and t["closeTime"] >= t["openTime"]
    listed = json_of(await spot.public("GET", "/api/v3/ticker/24hr", symbols='["BTCUSDT","ETHUSDT"]'))
    assert [x["symbol"] for x in listed] == ["BTCUSDT", "ETHUSDT"]
    mini = json_of(await spot.public("GET", "/api/v3/ticker/24hr", symbol="ETHUSDT", type="MINI"))
    assert "priceChange" not in mini and mini["volume"] == "0.75000000"
    every = await spot.public("GET", "/api/v3/ticker/24hr")
    assert isinstance(json_of(every), list) and every.headers["x-mbx-used-weight-1m"] == str(6 + 2 + 2 + 80)
    unknown = await spot.public("GET", "/api/v3/ticker/24hr", symbol="DOGEUSDT")
    assert unknown.status_code == 400 and json_of(unknown)["code"] == -1121
    bad_type = await spot.public("GET", "/api/v3/ticker/24hr", symbol="ETHUSDT", type="HALF")
    assert bad_type.status_code == 400 and json_of(bad_type)["code"] == -1139


async def test_futures_ticker_24hr(fut: Rest) -> None:
    r = await fut.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    assert r.status_code == 200
    one = await fut.public("GET", "/fapi/v1/ticker/24hr", symbol="BTCUSDT")
    t = json_of(one)
    assert list(t) == FUTURES_FIELDS and t["count"] == 1 and t["volume"] == "0.010" and t["lastQty"] == "0.010"
    every = await fut.public("GET", "/fapi/v1/ticker/24hr")
    assert [x["symbol"] for x in json_of(every)] == ["BTCUSDT", "ETHUSDT"]
    used = int(every.headers["x-mbx-used-weight-1m"])
    assert used - int(one.headers["x-mbx-used-weight-1m"]) == 40


async def test_ticker_streams_and_ws_index_paths(sim: BinanceSim, spot: Rest, fut: Rest) -> None:
    s = await WsClient.connect(f"{sim.urls.spot_ws}/ws/0")
    pub = await WsClient.connect(f"{sim.urls.futures_ws}/public/ws/1")
    mkt = await WsClient.connect(f"{sim.urls.futures_ws}/market/ws/2")
    try:
        await s.send({"method": "SUBSCRIBE", "params": ["btcusdt@ticker", "btcusdt@miniTicker"], "id": 1})
        await pub.send(
            {"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@depth5@0ms", "btcusdt@depth@0ms"], "id": 2}
        )
        await mkt.send({"method": "SUBSCRIBE", "params": ["btcusdt@ticker"], "id": 3})
        assert await s.wait_for(lambda m: m.get("id") == 1) == {"result": None, "id": 1}
        assert await pub.wait_for(lambda m: m.get("id") == 2) == {"result": None, "id": 2}
        assert await mkt.wait_for(lambda m: m.get("id") == 3) == {"result": None, "id": 3}
        await spot.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
        await fut.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.02")
        st = await s.wait_for(lambda m: m.get("e") == "24hrTicker" and m["n"] == 1)
        assert (
            list(st)
            == [
                "e",
                "E",
                "s",
                "p",
                "P",
                "w",
                "x",
                "c",
                "Q",
                "b",
                "B",
                "a",
                "A",
                "o",
                "h",
                "l",
                "v",
                "q",
                "O",
                "C",
                "F",
                "L",
                "n",
            ]
            and st["v"] == "0.01000000"
        )
        sm = await s.wait_for(lambda m: m.get("e") == "24hrMiniTicker")
        assert list(sm) == ["e", "E", "s", "c", "o", "h", "l", "v", "q"]
        trade = await pub.wait_for(lambda m: m.get("e") == "trade")
        assert list(trade) == ["e", "E", "T", "s", "t", "p", "q", "X", "m"] and trade["q"] == "0.020"
        assert trade["X"] == "MARKET" and trade["m"] is True  # the seller was the taker
        partial = await pub.wait_for(lambda m: m.get("e") == "depthUpdate" and len(m["b"]) == 5)
        assert partial["s"] == "BTCUSDT"
        ft = await mkt.wait_for(lambda m: m.get("e") == "24hrTicker" and m["n"] == 1)
        assert list(ft) == ["e", "E", "s", "p", "P", "w", "c", "Q", "o", "h", "l", "v", "q", "O", "C", "F", "L", "n"]
        await pub.send({"method": "SUBSCRIBE", "params": ["btcusdt@ticker"], "id": 4})
        wrong_route = await pub.wait_for(lambda m: m.get("id") == 4)
        assert wrong_route["error"]["code"] == 2  # ticker is served under /market, as on Binance
    finally:
        for ws in (s, pub, mkt):
            await ws.close()
