"""Third-party client check: ccxt (async) and ccxt.pro against the offline Binance venue,
base URLs changed only: 24 h tickers, ``/ws/<index>`` + SUBSCRIBE, futures ``@trade``."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import ccxt.pro as ccxtpro
import pytest

from exchanges.binance.sim import BinanceSim
from exchanges.binance.sim.api_errors import Product
from tests.helpers import eventually

from .ccxt_urls import point_at_sim

OPTS: dict[str, Any] = {}


@pytest.fixture
async def spot_ex(sim: BinanceSim) -> AsyncIterator[Any]:
    """No options: every market type loaded; the spot streams' URL carries ``/stream`` (as
    Binance's host name does), which is how ccxt.pro files a BTCUSDT message under the spot market."""
    ex = point_at_sim(ccxtpro.binance({"apiKey": sim.api_key, "secret": sim.api_secret}), sim.urls)
    yield ex
    await ex.close()


@pytest.fixture
async def usdm_ex(sim: BinanceSim) -> AsyncIterator[Any]:
    creds = {"apiKey": sim.api_key, "secret": sim.api_secret, "options": dict(OPTS)}
    ex = point_at_sim(ccxtpro.binanceusdm(creds), sim.urls)
    yield ex
    await ex.close()


async def test_fetch_ticker_spot_from_own_trades(spot_ex: Any) -> None:
    before = await spot_ex.fetch_ticker("ETH/USDT")
    assert before["baseVolume"] == 0 and before["last"] > 0
    await spot_ex.create_order("ETH/USDT", "market", "buy", 0.5)
    await spot_ex.create_order("ETH/USDT", "market", "sell", 0.2)
    after = await spot_ex.fetch_ticker("ETH/USDT")
    assert after["baseVolume"] == pytest.approx(0.7)
    assert after["high"] >= after["low"] > 0 and after["bid"] < after["ask"]
    assert after["quoteVolume"] == pytest.approx(after["vwap"] * 0.7)
    raw = after["info"]
    assert int(raw["count"]) == 2 and int(raw["lastId"]) > int(raw["firstId"])
    assert float(raw["lastQty"]) == pytest.approx(0.2)
    many = await spot_ex.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    assert set(many) == {"BTC/USDT", "ETH/USDT"}


async def test_fetch_ticker_usdm(usdm_ex: Any) -> None:
    await usdm_ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    t = await usdm_ex.fetch_ticker("BTC/USDT:USDT")
    assert t["baseVolume"] == pytest.approx(0.01) and t["last"] > 0
    assert "bidPrice" not in t["info"] and int(t["info"]["count"]) == 1
    every = await usdm_ex.fetch_tickers()
    assert "ETH/USDT:USDT" in every


async def test_watch_ticker_spot_and_futures(spot_ex: Any, usdm_ex: Any) -> None:
    await spot_ex.create_order("BTC/USDT", "market", "buy", 0.01)
    mini = await asyncio.wait_for(spot_ex.watch_ticker("BTC/USDT"), 10)  # ccxt's default: @miniTicker
    assert mini["symbol"] == "BTC/USDT" and mini["baseVolume"] == pytest.approx(0.01) and mini["last"] > 0
    full = await asyncio.wait_for(spot_ex.watch_ticker("ETH/USDT", {"name": "ticker"}), 10)
    assert full["symbol"] == "ETH/USDT" and full["bid"] < full["ask"] and full["info"]["e"] == "24hrTicker"
    await usdm_ex.create_order("ETH/USDT:USDT", "market", "sell", 0.1)
    f = await asyncio.wait_for(usdm_ex.watch_ticker("ETH/USDT:USDT"), 10)
    assert f["symbol"] == "ETH/USDT:USDT" and f["baseVolume"] == pytest.approx(0.1)
    full_f = await asyncio.wait_for(usdm_ex.watch_ticker("ETH/USDT:USDT", {"name": "ticker"}), 10)
    assert full_f["info"]["e"] == "24hrTicker" and "b" not in full_f["info"] and int(full_f["info"]["n"]) == 1


def _subscribed(sim: BinanceSim, product: Product, kind: str, symbol: str) -> bool:
    return sim.dialect.hubs[product].has((kind, symbol, 0, 0))


async def test_watch_order_book_and_trades_spot(sim: BinanceSim, spot_ex: Any) -> None:
    book = await asyncio.wait_for(spot_ex.watch_order_book("BTC/USDT"), 15)
    assert book["bids"][0][0] < book["asks"][0][0] and book["nonce"] > 0
    first = asyncio.ensure_future(spot_ex.watch_trades("BTC/USDT"))
    await eventually(lambda: _subscribed(sim, "spot", "trade", "BTCUSDT"), what="ccxt subscribed to btcusdt@trade")
    placed = await spot_ex.create_order("BTC/USDT", "market", "buy", 0.01)
    trades = await asyncio.wait_for(first, 15)
    assert trades[-1]["symbol"] == "BTC/USDT" and trades[-1]["amount"] == pytest.approx(0.01)
    assert placed["filled"] == pytest.approx(0.01)


async def test_watch_order_book_and_trades_usdm(sim: BinanceSim, usdm_ex: Any) -> None:
    book = await asyncio.wait_for(usdm_ex.watch_order_book("ETH/USDT:USDT"), 15)
    assert book["bids"][0][0] < book["asks"][0][0]
    limited = await asyncio.wait_for(usdm_ex.watch_order_book("BTC/USDT:USDT", 5), 15)
    assert 0 < len(limited["asks"]) <= 5
    for name in ("trade", "aggTrade"):
        waiting = asyncio.ensure_future(usdm_ex.watch_trades("ETH/USDT:USDT", None, None, {"name": name}))
        kind = "trade" if name == "trade" else "agg_trade"
        await eventually(
            functools.partial(_subscribed, sim, "futures", kind, "ETHUSDT"),
            what=f"subscribed to ethusdt@{name}",
        )
        await usdm_ex.create_order("ETH/USDT:USDT", "market", "sell", 0.1)
        trades = await asyncio.wait_for(waiting, 15)
        assert trades[-1]["symbol"] == "ETH/USDT:USDT" and trades[-1]["side"] == "sell"
