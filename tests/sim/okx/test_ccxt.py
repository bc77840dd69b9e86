"""Third-party client check: ccxt's ``okx`` (sync, async and pro) with only its URLs changed.

No option is set: ``load_markets`` fetches every instrument type (futures and options come back
empty) and, with keys, the currencies (``asset/currencies``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from exchanges.okx.sim import OkxSim, OkxSimOptions, ThreadedOkxSim
from tests.helpers import free_port


@pytest.fixture(scope="module")
def sim() -> Iterator[ThreadedOkxSim]:
    with OkxSim.in_thread(port=free_port(), seed=11, options=OkxSimOptions(enforce_rate_limits=False)) as running:
        running.call(lambda s: s.venue.pause(True))
        yield running


def _okx(sim: ThreadedOkxSim) -> ccxt.okx:
    ex = ccxt.okx({"apiKey": sim.api_key, "secret": sim.api_secret, "password": sim.passphrase})
    ex.urls["api"]["rest"] = sim.urls.rest
    return ex


def test_ccxt_okx_spot(sim: ThreadedOkxSim) -> None:
    ex = _okx(sim)
    markets = ex.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"} <= set(markets)
    assert markets["BTC/USDT"]["precision"]["price"] == 0.1 and markets["BTC/USDT"]["limits"]["amount"]["min"] == 1e-05
    book = ex.fetch_order_book("BTC/USDT", 5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    assert ex.fetch_balance()["BTC"]["free"] == 1
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "ccxtspot1"})
    assert order["id"] and order["clientOrderId"] == "ccxtspot1"
    fetched = ex.fetch_order(order["id"], "BTC/USDT")
    assert fetched["status"] == "open" and fetched["price"] == 50000 and fetched["amount"] == 0.01
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [order["id"]]
    ex.cancel_order(order["id"], "BTC/USDT")
    assert ex.fetch_order(order["id"], "BTC/USDT")["status"] == "canceled"
    market = ex.create_order("ETH/USDT", "market", "sell", 0.5)
    done = ex.fetch_order(market["id"], "ETH/USDT")
    assert done["status"] == "closed" and done["filled"] == 0.5 and done["average"] > 0
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "limit", "buy", 5, 50000)
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("2400000000000424242", "BTC/USDT")


def test_ccxt_okx_swap(sim: ThreadedOkxSim) -> None:
    ex = _okx(sim)
    ex.load_markets()
    swap = ex.market("BTC/USDT:USDT")
    assert swap["contractSize"] == 0.01 and swap["linear"] and swap["precision"]["amount"] == 0.01
    assert len(ex.fetch_order_book("BTC/USDT:USDT", 5)["asks"]) == 5
    order = ex.create_order("BTC/USDT:USDT", "limit", "buy", 1, 50000)
    assert ex.fetch_order(order["id"], "BTC/USDT:USDT")["status"] == "open"
    ex.cancel_order(order["id"], "BTC/USDT:USDT")
    ex.create_order("ETH/USDT:USDT", "market", "sell", 2)  # 2 contracts = 0.2 ETH
    positions = ex.fetch_positions(["ETH/USDT:USDT"])
    assert positions[0]["contracts"] == 2 and positions[0]["side"] == "short" and positions[0]["contractSize"] == 0.1
    assert ex.set_leverage(7, "BTC/USDT:USDT", {"marginMode": "cross"})["data"][0]["lever"] == "7"
    rate = ex.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["fundingRate"] is not None and rate["fundingTimestamp"] > 0 and rate["interval"] == "8h"
    with pytest.raises(ccxt.InsufficientFunds):  # 51008: 1000 BTC of margin
        ex.create_order("BTC/USDT:USDT", "limit", "buy", 100000, 50000)


async def test_ccxt_okx_async(sim: ThreadedOkxSim) -> None:
    ex = ccxt_async.okx({"apiKey": sim.api_key, "secret": sim.api_secret, "password": sim.passphrase})
    ex.urls["api"]["rest"] = sim.urls.rest
    try:
        await ex.load_markets()
        ticker = await ex.fetch_ticker("BTC/USDT:USDT")
        assert ticker["bid"] < ticker["ask"]
        balance = await ex.fetch_balance()
        assert balance["USDT"]["total"] > 0
    finally:
        await ex.close()


async def test_ccxt_pro_okx_websockets(sim: ThreadedOkxSim) -> None:
    """ccxt.pro's ``okx`` on the venue's WebSockets (it checks the books' ``seqId`` chain)."""
    ex = ccxt_pro.okx({"apiKey": sim.api_key, "secret": sim.api_secret, "password": sim.passphrase})
    ex.urls["api"]["rest"] = sim.urls.rest
    ex.urls["api"]["ws"] = sim.urls.ws_public.removesuffix("/public")
    sim.call(lambda s: s.venue.pause(False))
    try:
        await ex.load_markets()
        nonces = []
        for _ in range(3):
            book = await ex.watch_order_book("BTC/USDT:USDT")
            assert book["bids"][0][0] < book["asks"][0][0]
            nonces.append(book["nonce"])
        assert nonces == sorted(nonces) and len(set(nonces)) == 3
        orders = asyncio.ensure_future(ex.watch_orders())
        await asyncio.wait_for(ex.watch_balance(), 10)  # logged in and subscribed by now
        placed = await ex.create_order_ws("ETH/USDT:USDT", "limit", "buy", 1, 2000)  # an `order` op
        seen = await asyncio.wait_for(orders, 10)
        assert seen[0]["id"] == placed["id"] and seen[0]["status"] == "open" and seen[0]["amount"] == 1
        await ex.cancel_order_ws(placed["id"], "ETH/USDT:USDT")
    finally:
        sim.call(lambda s: s.venue.pause(True))
        await ex.close()
