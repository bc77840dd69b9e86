"""Third-party client check: python-binance (``AsyncClient`` and ``BinanceSocketManager``) against
the offline Binance venue with only its base URLs changed: 24 h tickers over REST and streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from binance import AsyncClient, BinanceSocketManager

from exchanges.binance.sim import BinanceSim


@pytest.fixture
async def client(sim: BinanceSim) -> AsyncIterator[Any]:
    c = AsyncClient(sim.api_key, sim.api_secret)
    c.API_URL = f"{sim.urls.spot_rest}/api"
    c.MARGIN_API_URL = f"{sim.urls.spot_rest}/sapi"
    c.FUTURES_URL = f"{sim.urls.futures_rest}/fapi"
    yield c
    await c.close_connection()


async def test_tickers_rest(client: Any) -> None:
    await client.create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.5")
    t = await client.get_ticker(symbol="ETHUSDT")
    assert t["volume"] == "0.50000000" and t["count"] == 1
    assert len(await client.get_ticker()) == 2
    await client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.01")
    f = await client.futures_ticker(symbol="BTCUSDT")
    assert f["volume"] == "0.010" and f["count"] == 1


async def test_ticker_sockets(sim: BinanceSim, client: Any) -> None:
    bsm = BinanceSocketManager(client)
    bsm.STREAM_URL = f"{sim.urls.spot_ws}/"
    bsm.FSTREAM_URL = f"{sim.urls.futures_ws}/"
    async with bsm.symbol_ticker_socket("BTCUSDT") as spot_socket:
        msg = await asyncio.wait_for(spot_socket.recv(), 10)
        assert msg["e"] == "24hrTicker" and msg["s"] == "BTCUSDT" and "b" in msg
    async with bsm.individual_symbol_ticker_futures_socket("ETHUSDT") as fut_socket:
        msg = await asyncio.wait_for(fut_socket.recv(), 10)
        data = msg.get("data", msg)
        assert data["e"] == "24hrTicker" and data["s"] == "ETHUSDT" and "b" not in data


async def test_all_market_ticker_sockets(sim: BinanceSim, client: Any) -> None:
    """``!miniTicker@arr`` (spot, python-binance adds ``@1000ms``) and USD-M ``!ticker@arr``: one
    array of every listed symbol; spot ``!ticker@arr`` is refused, as Binance retired it."""
    bsm = BinanceSocketManager(client)
    bsm.STREAM_URL = f"{sim.urls.spot_ws}/"
    bsm.FSTREAM_URL = f"{sim.urls.futures_ws}/"
    async with bsm.miniticker_socket() as spot_socket:
        arr = await asyncio.wait_for(spot_socket.recv(), 10)
        assert {t["s"] for t in arr} == {"BTCUSDT", "ETHUSDT"} and arr[0]["e"] == "24hrMiniTicker"
    async with bsm.futures_ticker_socket() as fut_socket:
        msg = await asyncio.wait_for(fut_socket.recv(), 10)
        arr = msg.get("data", msg)
        assert {t["s"] for t in arr} == {"BTCUSDT", "ETHUSDT"} and arr[0]["e"] == "24hrTicker" and "b" not in arr[0]
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{sim.urls.spot_rest}/ws/!ticker@arr", headers={"Upgrade": "websocket"})
        assert resp.status == 400
