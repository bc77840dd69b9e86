"""Third-party client check: ccxt's ``bybit`` (sync and async) with only its URLs changed.

``acknowledged`` on ``fetch_order`` silences a ccxt-side warning (Bybit's realtime endpoint
only sees the last 500 orders); it is a ccxt argument, not something the venue needs.
"""

from __future__ import annotations

from collections.abc import Iterator

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from exchanges.bybit.sim import BybitSim, ThreadedBybitSim
from tests.helpers import free_port


@pytest.fixture(scope="module")
def sim() -> Iterator[ThreadedBybitSim]:
    with BybitSim.in_thread(port=free_port(), seed=11) as running:
        running.call(lambda s: s.venue.pause(True))
        yield running


def _point(ex: ccxt.bybit | ccxt_async.bybit, sim: ThreadedBybitSim) -> None:
    for name in list(ex.urls["api"]):
        ex.urls["api"][name] = sim.urls.rest


def test_ccxt_bybit(sim: ThreadedBybitSim) -> None:
    ex = ccxt.bybit({"apiKey": sim.api_key, "secret": sim.api_secret})
    _point(ex, sim)
    markets = ex.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"} <= set(markets)
    perp = markets["BTC/USDT:USDT"]
    assert perp["precision"]["price"] == 0.1 and perp["precision"]["amount"] == 0.001 and perp["linear"]
    assert markets["BTC/USDT"]["limits"]["cost"]["min"] == 1
    book = ex.fetch_order_book("BTC/USDT:USDT", 5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    assert ex.fetch_balance()["USDT"]["total"] == 200000  # unified: spot and derivatives together
    order = ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "ccxt-1"})
    assert order["clientOrderId"] == "ccxt-1"
    fetched = ex.fetch_order(order["id"], "BTC/USDT:USDT", {"acknowledged": True})
    assert fetched["status"] == "open" and fetched["price"] == 50000 and fetched["amount"] == 0.01
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT:USDT")] == [order["id"]]
    ex.cancel_order(order["id"], "BTC/USDT:USDT")
    assert ex.fetch_order(order["id"], "BTC/USDT:USDT", {"acknowledged": True})["status"] == "canceled"
    ex.create_order("ETH/USDT:USDT", "market", "sell", 0.2)
    [position] = ex.fetch_positions(["ETH/USDT:USDT"])
    assert position["contracts"] == 0.2 and position["side"] == "short"
    ex.set_leverage(7, "BTC/USDT:USDT")
    rate = ex.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["fundingRate"] is not None and rate["markPrice"] > 0 and rate["interval"] == "8h"
    spot = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    assert ex.fetch_order(spot["id"], "BTC/USDT", {"acknowledged": True})["status"] == "open"
    assert ex.fetch_balance()["USDT"]["used"] >= 500
    ex.create_order("ETH/USDT", "market", "buy", 0.5, None, {"createMarketBuyOrderRequiresPrice": False})
    trades = ex.fetch_my_trades("ETH/USDT:USDT")
    assert trades and trades[0]["side"] == "sell"
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("ETH/USDT", "limit", "buy", 100, 2990)
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("424242", "BTC/USDT")


async def test_ccxt_bybit_async(sim: ThreadedBybitSim) -> None:
    ex = ccxt_async.bybit({"apiKey": sim.api_key, "secret": sim.api_secret})
    _point(ex, sim)
    try:
        await ex.load_markets()
        ticker = await ex.fetch_ticker("ETH/USDT:USDT")
        assert ticker["bid"] < ticker["ask"]
        order = await ex.create_order("ETH/USDT:USDT", "limit", "sell", 0.1, 3500)
        await ex.cancel_order(order["id"], "ETH/USDT:USDT")
        assert await ex.fetch_open_orders("ETH/USDT:USDT") == []
    finally:
        await ex.close()
