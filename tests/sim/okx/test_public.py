"""Public REST of the offline OKX venue: shapes, units (contracts), sequence ids, funding."""

from __future__ import annotations

from decimal import Decimal

from exchanges.okx.sim import OkxSim
from strategy_client.model import MarketKind
from tests.helpers import eventually

from .helpers import Rest, body_of


async def test_time_and_envelope(rest: Rest) -> None:
    body = body_of(await rest.get("/api/v5/public/time"))
    assert body["code"] == "0" and body["msg"] == "" and int(body["data"][0]["ts"]) > 0


async def test_instruments_spot_and_swap(rest: Rest) -> None:
    swaps = body_of(await rest.get("/api/v5/public/instruments", instType="SWAP"))["data"]
    btc = next(i for i in swaps if i["instId"] == "BTC-USDT-SWAP")
    assert btc["ctVal"] == "0.01" and btc["ctValCcy"] == "BTC" and btc["settleCcy"] == "USDT"
    assert btc["ctType"] == "linear" and btc["lotSz"] == "0.01" and btc["minSz"] == "0.01"
    assert btc["instIdCode"] == 10459 and btc["state"] == "live" and btc["baseCcy"] == ""
    spot = body_of(await rest.get("/api/v5/public/instruments", instType="SPOT", instId="ETH-USDT"))["data"]
    assert [i["instId"] for i in spot] == ["ETH-USDT"] and spot[0]["baseCcy"] == "ETH"
    assert body_of(await rest.get("/api/v5/public/instruments", instType="OPTION", uly="BTC-USD"))["data"] == []
    bad = await rest.get("/api/v5/public/instruments", instType="FOO")
    assert bad.status_code == 400 and body_of(bad)["code"] == "51000"
    missing = await rest.get("/api/v5/public/instruments")
    assert missing.status_code == 400 and body_of(missing)["code"] == "50014"


async def test_books_in_contracts_with_seq_id(sim: OkxSim, rest: Rest) -> None:
    data = body_of(await rest.get("/api/v5/market/books", instId="BTC-USDT-SWAP", sz=5))["data"][0]
    assert 0 < data["seqId"] <= sim.venue.book(MarketKind.PERP, "BTCUSDT").update_id
    assert len(data["bids"]) == 5 and len(data["asks"]) == 5
    px, sz, zero, count = data["asks"][0]
    assert zero == "0" and count == "1"
    # 0.5 BTC of synthetic liquidity per level = 50 contracts of 0.01 BTC
    assert Decimal(sz) == Decimal("50") and Decimal(data["bids"][0][0]) < Decimal(px)
    assert len(body_of(await rest.get("/api/v5/market/books", instId="BTC-USDT"))["data"][0]["bids"]) == 1
    unknown = await rest.get("/api/v5/market/books", instId="DOGE-USDT")
    assert body_of(unknown)["code"] == "51001"


async def test_ticker_index_mark(rest: Rest) -> None:
    t = body_of(await rest.get("/api/v5/market/ticker", instId="BTC-USDT-SWAP"))["data"][0]
    assert Decimal(t["bidPx"]) < Decimal(t["askPx"]) and t["instType"] == "SWAP"
    idx = body_of(await rest.get("/api/v5/market/index-tickers", instId="BTC-USDT"))["data"][0]
    assert idx["instId"] == "BTC-USDT" and Decimal(idx["idxPx"]) > 0
    marks = body_of(await rest.get("/api/v5/public/mark-price", instType="SWAP"))["data"]
    assert {m["instId"] for m in marks} == {"BTC-USDT-SWAP", "ETH-USDT-SWAP"}
    tickers = body_of(await rest.get("/api/v5/market/tickers", instType="SPOT"))["data"]
    assert {x["instId"] for x in tickers} == {"BTC-USDT", "ETH-USDT"}


async def test_funding_rate_and_history(sim: OkxSim, rest: Rest) -> None:
    sim.venue.set_funding_rate("BTCUSDT", Decimal("0.0003"))
    f = body_of(await rest.get("/api/v5/public/funding-rate", instId="BTC-USDT-SWAP"))["data"][0]
    assert f["fundingRate"] == "0.0003" and f["method"] == "current_period" and f["nextFundingRate"] == ""
    assert int(f["nextFundingTime"]) - int(f["fundingTime"]) == 8 * 3_600_000
    assert int(f["fundingTime"]) % (8 * 3_600_000) == 0
    every = body_of(await rest.get("/api/v5/public/funding-rate", instId="ANY"))["data"]
    assert len(every) == 2
    sim.venue.settle_funding_now("BTCUSDT")
    first = sim.venue.clock.now_ms()
    await eventually(lambda: sim.venue.clock.now_ms() > first, what="the clock to move on")
    sim.venue.set_funding_rate("BTCUSDT", Decimal("-0.0001"))
    sim.venue.settle_funding_now("BTCUSDT")
    hist = body_of(await rest.get("/api/v5/public/funding-rate-history", instId="BTC-USDT-SWAP"))["data"]
    assert [h["fundingRate"] for h in hist] == ["-0.0001", "0.0003"]  # newest first
    older = body_of(
        await rest.get("/api/v5/public/funding-rate-history", instId="BTC-USDT-SWAP", after=hist[0]["fundingTime"])
    )["data"]
    assert [h["fundingRate"] for h in older] == ["0.0003"]
    spot = await rest.get("/api/v5/public/funding-rate", instId="BTC-USDT")
    assert body_of(spot)["code"] == "51000"
