"""Third-party client check: ccxt.pro ``bybit`` against the offline Bybit venue, URLs changed only:
the private ``order`` topic on spot (no ``tpslMode``) and positions of every category."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import ccxt.pro as ccxtpro
import pytest

from exchanges.bybit.sim import BybitSim
from tests.helpers import eventually, free_port


@pytest.fixture
async def sim() -> AsyncIterator[BybitSim]:
    venue = BybitSim(port=free_port(), seed=5)
    async with venue:
        venue.venue.pause(True)
        yield venue


@pytest.fixture
async def ex(sim: BybitSim) -> AsyncIterator[Any]:
    client = ccxtpro.bybit({"apiKey": sim.api_key, "secret": sim.api_secret})
    for name in list(client.urls["api"]):
        if name != "ws":
            client.urls["api"][name] = sim.urls.rest
    ws = client.urls["api"]["ws"]
    ws["public"]["spot"] = sim.urls.public_spot
    ws["public"]["linear"] = sim.urls.public_linear
    ws["private"]["spot"]["unified"] = ws["private"]["contract"] = sim.urls.private
    ws["private"]["trade"] = sim.urls.trade
    yield client
    await client.close()


def _subscribed(sim: BybitSim, prefix: str) -> bool:
    d = sim.dialect
    return any(t.startswith(prefix) for c in d.registry.select() for t in d.private.topics_of(c))


async def test_watch_orders_spot_resolves_under_the_spot_market(sim: BybitSim, ex: Any) -> None:
    await ex.load_markets()
    waiting = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
    await eventually(lambda: _subscribed(sim, "order"), what="ccxt subscribed to order")
    placed = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    orders = await asyncio.wait_for(waiting, 15)
    assert orders[-1]["id"] == placed["id"] and orders[-1]["symbol"] == "BTC/USDT"
    assert "tpslMode" not in orders[-1]["info"]
    perp = asyncio.ensure_future(ex.watch_orders("ETH/USDT:USDT"))
    await ex.create_order("ETH/USDT:USDT", "limit", "sell", 0.1, 3500)
    [linear] = await asyncio.wait_for(perp, 15)
    assert linear["symbol"] == "ETH/USDT:USDT" and linear["info"]["tpslMode"] == "UNKNOWN"


async def test_fetch_positions_inverse_is_empty_and_linear_lists(ex: Any) -> None:
    await ex.load_markets()
    assert await ex.fetch_positions(None, {"subType": "inverse"}) == []
    await ex.create_order("ETH/USDT:USDT", "market", "buy", 0.2)
    [position] = await ex.fetch_positions()
    assert position["symbol"] == "ETH/USDT:USDT" and position["contracts"] == 0.2


async def test_watch_positions_takes_its_snapshot(ex: Any) -> None:
    """ccxt.pro's position snapshot reads linear and inverse positions (the inverse call failed)."""
    await ex.load_markets()
    await ex.create_order("BTC/USDT:USDT", "market", "sell", 0.01)
    positions = await asyncio.wait_for(ex.watch_positions(), 15)
    [btc] = [p for p in positions if p["symbol"] == "BTC/USDT:USDT"]
    assert btc["contracts"] == 0.01 and btc["side"] == "short"
