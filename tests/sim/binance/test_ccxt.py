"""Third-party client check: ccxt's ``binance`` and ``binanceusdm`` with only URLs changed.

No options are set: the start-up calls ccxt makes with keys (``/sapi/v1/capital/config/getall``,
``/dapi/v1/exchangeInfo`` for the default market types) are served.
"""

from __future__ import annotations

from collections.abc import Iterator

import ccxt
import pytest

from exchanges.binance.sim import BinanceSim, ThreadedBinanceSim
from tests.helpers import free_port_pair

from .ccxt_urls import point_at_sim


@pytest.fixture(scope="module")
def sim() -> Iterator[ThreadedBinanceSim]:
    with BinanceSim.in_thread(port_base=free_port_pair(), seed=11) as running:
        running.call(lambda s: s.venue.pause(True))
        yield running


def _spot(sim: ThreadedBinanceSim) -> ccxt.binance:
    return point_at_sim(ccxt.binance({"apiKey": sim.api_key, "secret": sim.api_secret}), sim.urls)


def _usdm(sim: ThreadedBinanceSim) -> ccxt.binanceusdm:
    return point_at_sim(ccxt.binanceusdm({"apiKey": sim.api_key, "secret": sim.api_secret}), sim.urls)


def test_ccxt_binance_spot(sim: ThreadedBinanceSim) -> None:
    ex = _spot(sim)
    markets = ex.load_markets()
    assert {"BTC/USDT", "ETH/USDT"} <= set(markets)
    assert markets["BTC/USDT"]["precision"]["price"] == 0.01 and markets["BTC/USDT"]["limits"]["cost"]["min"] == 5
    book = ex.fetch_order_book("BTC/USDT", 5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    balance = ex.fetch_balance()
    assert balance["USDT"]["free"] == 100000
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "ccxt-spot-1"})
    assert order["status"] == "open" and order["clientOrderId"] == "ccxt-spot-1"
    fetched = ex.fetch_order(order["id"], "BTC/USDT")
    assert fetched["status"] == "open" and fetched["price"] == 50000 and fetched["amount"] == 0.01
    assert ex.fetch_balance()["USDT"]["used"] == 500
    canceled = ex.cancel_order(order["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert ex.fetch_order(order["id"], "BTC/USDT")["status"] == "canceled"
    market = ex.create_order("ETH/USDT", "market", "buy", 0.5)
    assert market["status"] == "closed" and market["filled"] == 0.5 and market["average"] > 0
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "limit", "buy", 5, 50000)
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("424242", "BTC/USDT")


def test_ccxt_binanceusdm(sim: ThreadedBinanceSim) -> None:
    ex = _usdm(sim)
    markets = ex.load_markets()
    assert {"BTC/USDT:USDT", "ETH/USDT:USDT"} <= set(markets)
    book = ex.fetch_order_book("BTC/USDT:USDT", 5)
    assert len(book["asks"]) == 5
    assert ex.fetch_balance()["USDT"]["total"] == 100000
    order = ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 50000)
    assert order["status"] == "open"
    fetched = ex.fetch_order(order["id"], "BTC/USDT:USDT")
    assert fetched["status"] == "open" and fetched["price"] == 50000
    assert ex.cancel_order(order["id"], "BTC/USDT:USDT")["status"] == "canceled"
    ex.create_order("ETH/USDT:USDT", "market", "sell", 0.2)
    positions = ex.fetch_positions(["ETH/USDT:USDT"])
    assert positions[0]["contracts"] == 0.2 and positions[0]["side"] == "short"
    rate = ex.fetch_funding_rate("BTC/USDT:USDT")
    assert rate["fundingRate"] is not None and rate["markPrice"] > 0
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.0001, 50000)


def test_ccxt_binance_spot_edit_order_is_cancel_replace(sim: ThreadedBinanceSim) -> None:
    """ccxt edits a spot order with ``POST /api/v3/order/cancelReplace``: the old order canceled,
    a new one (new id) placed; a cancel that fails places nothing (STOP_ON_FAILURE, -2022)."""
    ex = _spot(sim)
    ex.load_markets()
    first = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    edited = ex.edit_order(first["id"], "BTC/USDT", "limit", "buy", 0.02, 49000)
    assert edited["id"] != first["id"] and edited["price"] == 49000 and edited["amount"] == 0.02
    assert ex.fetch_order(first["id"], "BTC/USDT")["status"] == "canceled"
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [edited["id"]]
    with pytest.raises(ccxt.BaseError, match="-2022"):
        ex.edit_order(first["id"], "BTC/USDT", "limit", "buy", 0.03, 48000)  # already canceled
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [edited["id"]]
    ex.cancel_order(edited["id"], "BTC/USDT")
