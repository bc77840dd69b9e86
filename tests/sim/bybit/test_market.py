"""Public market endpoints of the offline Bybit venue: shapes as documented, errors as Bybit's."""

from __future__ import annotations

from decimal import Decimal

from exchanges.bybit.sim import BybitSim
from strategy_client.model import MarketKind, OrderType, Side, TimeInForce

from .helpers import Rest, body, ok


async def test_time_and_envelope(rest: Rest) -> None:
    r = await rest.public("/v5/market/time")
    data = body(r)
    assert data["retCode"] == 0 and data["retMsg"] == "OK" and data["retExtInfo"] == {}
    assert isinstance(data["time"], int) and data["result"]["timeSecond"] == str(data["time"] // 1000)
    assert int(data["result"]["timeNano"]) // 1_000_000 == data["time"]


async def test_instruments_carry_bybit_filters(rest: Rest) -> None:
    linear = ok(await rest.public("/v5/market/instruments-info", category="linear"))
    btc = next(i for i in linear["list"] if i["symbol"] == "BTCUSDT")
    assert btc["contractType"] == "LinearPerpetual" and btc["settleCoin"] == "USDT"
    assert btc["priceFilter"]["tickSize"] == "0.10" and btc["lotSizeFilter"]["qtyStep"] == "0.001"
    assert btc["lotSizeFilter"]["minNotionalValue"] == "5" and btc["fundingInterval"] == 480
    assert btc["leverageFilter"]["maxLeverage"] == "100.00"
    spot = ok(await rest.public("/v5/market/instruments-info", category="spot", symbol="BTCUSDT"))
    assert [i["symbol"] for i in spot["list"]] == ["BTCUSDT"]
    lot = spot["list"][0]["lotSizeFilter"]
    assert lot["basePrecision"] == "0.000001" and lot["minOrderAmt"] == "1"
    page = ok(await rest.public("/v5/market/instruments-info", category="linear", limit=1))
    assert len(page["list"]) == 1 and page["nextPageCursor"] == "1"
    rest_page = ok(await rest.public("/v5/market/instruments-info", category="linear", limit=1, cursor="1"))
    assert rest_page["list"][0]["symbol"] != page["list"][0]["symbol"] and rest_page["nextPageCursor"] == ""
    assert ok(await rest.public("/v5/market/instruments-info", category="inverse"))["list"] == []
    missing = body(await rest.public("/v5/market/instruments-info"))
    assert missing["retCode"] == 10001 and "category" in missing["retMsg"]


async def test_orderbook_matches_the_engine(sim: BybitSim, rest: Rest) -> None:
    book = ok(await rest.public("/v5/market/orderbook", category="linear", symbol="BTCUSDT", limit=5))
    view = sim.venue.book(MarketKind.PERP, "BTCUSDT", 5)
    assert [Decimal(p) for p, _ in book["b"]] == [p for p, _ in view.bids]
    assert book["b"][0][0].endswith("0") and len(book["b"][0][0].split(".")[1]) == 2  # tick 0.10 → 2 decimals
    assert book["u"] >= view.update_id and book["seq"] == book["u"] and book["s"] == "BTCUSDT"
    default = ok(await rest.public("/v5/market/orderbook", category="spot", symbol="BTCUSDT"))
    assert len(default["b"]) == 1 and len(default["a"]) == 1  # spot default limit is 1
    bad = body(await rest.public("/v5/market/orderbook", category="linear", symbol="NOPEUSDT"))
    assert bad["retCode"] == 10001


async def test_tickers_carry_funding(sim: BybitSim, rest: Rest) -> None:
    t = ok(await rest.public("/v5/market/tickers", category="linear", symbol="BTCUSDT"))["list"][0]
    mark = sim.venue.mark("BTCUSDT")
    assert Decimal(t["markPrice"]) == mark.mark and Decimal(t["indexPrice"]) == mark.index
    assert Decimal(t["fundingRate"]) == mark.funding_rate and t["nextFundingTime"] == str(mark.next_funding_ms)
    assert t["fundingIntervalHour"] == "8" and t["fundingCap"] == "0.0075"
    spot = ok(await rest.public("/v5/market/tickers", category="spot"))["list"]
    assert {s["symbol"] for s in spot} == {"BTCUSDT", "ETHUSDT"} and "fundingRate" not in spot[0]


async def test_funding_history_newest_first(sim: BybitSim, rest: Rest) -> None:
    sim.venue.set_funding_rate("BTCUSDT", Decimal("0.0003"))
    sim.venue.settle_funding_now("BTCUSDT")
    sim.venue.set_funding_rate("BTCUSDT", Decimal("-0.0001"))
    sim.venue.settle_funding_now("BTCUSDT")
    hist = ok(await rest.public("/v5/market/funding/history", category="linear", symbol="BTCUSDT"))["list"]
    assert [h["fundingRate"] for h in hist[:2]] == ["-0.0001", "0.0003"]
    assert int(hist[0]["fundingRateTimestamp"]) >= int(hist[1]["fundingRateTimestamp"])
    only_start = body(await rest.public("/v5/market/funding/history", category="linear", symbol="BTCUSDT", startTime=1))
    assert only_start["retCode"] == 10001 and "endTime" in only_start["retMsg"]


async def test_recent_trades(sim: BybitSim, rest: Rest) -> None:
    sim.venue.add_account("other")
    sim.venue.place_order(
        "other", MarketKind.PERP, "BTCUSDT", Side.BUY, OrderType.MARKET, TimeInForce.GTC, Decimal("0.01"), None, "x1"
    )
    trades = ok(await rest.public("/v5/market/recent-trade", category="linear", symbol="BTCUSDT"))["list"]
    assert trades and trades[0]["side"] == "Buy" and trades[0]["size"] == "0.010"


async def test_unknown_path_and_get_with_body(rest: Rest) -> None:
    r = await rest.client.get("/v5/nope")
    assert r.status_code == 404
    r = await rest.client.request("GET", "/v5/market/time", content=b"{}")
    assert r.status_code == 403  # Bybit's gateway refuses a GET carrying a JSON body
