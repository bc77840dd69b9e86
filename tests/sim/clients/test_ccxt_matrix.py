"""ccxt on the three offline venues, URLs changed only: the REST classes (sync and async) and
every ccxt.pro watch the issue names — ``watch_order_book``, ``watch_ticker``, ``watch_trades``,
``watch_orders``, ``watch_my_trades``, ``watch_balance``, ``watch_positions`` — plus
``create_order_ws`` where the class has it, on the USDT perp (and spot books/tickers).

The private watches are started, then one market order per round is sent until every watch has
resolved (a watch that subscribes late sees the next round's events).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxtpro
import pytest

from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from exchanges.bybit.sim import BybitSim, BybitSimOptions
from exchanges.okx.sim import OkxSim, OkxSimOptions
from tests.helpers import eventually, free_port, free_port_pair

from .ccxt_venues import point

PERP, SPOT = "BTC/USDT:USDT", "BTC/USDT"
VENUES = ("binance", "bybit", "okx")
# the perp order size per venue (OKX sizes swaps in contracts of 0.01 BTC)
PERP_QTY = {"binance": 0.01, "bybit": 0.01, "okx": 1}
PRIVATE_WATCHES = ("watch_orders", "watch_my_trades", "watch_balance", "watch_positions")


def _make_sim(venue: str) -> Any:
    if venue == "binance":
        return BinanceSim(port_base=free_port_pair(), seed=9, options=BinanceSimOptions(enforce_rate_limits=False))
    if venue == "bybit":
        return BybitSim(port=free_port(), seed=9, options=BybitSimOptions(enforce_rate_limits=False))
    return OkxSim(port=free_port(), seed=9, options=OkxSimOptions(enforce_rate_limits=False, ws_connects_per_s=0))


def _config(sim: Any, venue: str) -> dict[str, Any]:
    config: dict[str, Any] = {"apiKey": sim.api_key, "secret": sim.api_secret}
    if venue == "okx":
        config["password"] = sim.passphrase
    if venue == "binance":
        config["options"] = {"defaultType": "future"}  # one instance, the USD-M host for the perp
    return config


@pytest.fixture(params=VENUES)
async def venue_sim(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Any]]:
    venue: str = request.param
    async with _make_sim(venue) as sim:
        yield venue, sim


async def test_rest_sync_and_async(venue_sim: tuple[str, Any]) -> None:
    venue, sim = venue_sim
    sync_ex = point(getattr(ccxt, venue)(_config(sim, venue)), sim)
    markets = await asyncio.to_thread(sync_ex.load_markets)
    assert PERP in markets and SPOT in markets
    book = await asyncio.to_thread(sync_ex.fetch_order_book, PERP)
    assert book["bids"][0][0] < book["asks"][0][0]
    async_ex = point(getattr(ccxt_async, venue)(_config(sim, venue)), sim)
    try:
        await async_ex.load_markets()
        ticker = await async_ex.fetch_ticker(PERP)
        assert ticker["symbol"] == PERP and ticker["last"] > 0
        placed = await async_ex.create_order(PERP, "limit", "buy", PERP_QTY[venue], round(book["bids"][0][0] * 0.9, 1))
        # bybit's fetchOrder asks the caller to acknowledge its 500-order window
        ack = {"acknowledged": True} if venue == "bybit" else {}
        assert (await async_ex.fetch_order(placed["id"], PERP, ack))["status"] == "open"
        # edit_order: Binance PUT /fapi/v1/order, Bybit /v5/order/amend, OKX amend-order; same id
        new_price = round(book["bids"][0][0] * 0.8, 1)
        edited = await async_ex.edit_order(placed["id"], PERP, "limit", "buy", 2 * PERP_QTY[venue], new_price)
        assert edited["id"] == placed["id"]
        now = await async_ex.fetch_order(placed["id"], PERP, ack)
        assert (now["price"], now["amount"], now["status"]) == (new_price, 2 * PERP_QTY[venue], "open")
        await async_ex.cancel_order(placed["id"], PERP)
        assert (await async_ex.fetch_balance())["USDT"]["total"] > 0
    finally:
        await async_ex.close()


async def _trade_until_all_resolve(ex: Any, symbol: str, qty: float, waits: dict[str, asyncio.Future[Any]]) -> None:
    side = "buy"

    async def round_done() -> bool:
        nonlocal side
        await ex.create_order_ws(symbol, "market", side, qty)
        side = "sell" if side == "buy" else "buy"
        await asyncio.wait(waits.values(), timeout=1.0)
        return all(w.done() for w in waits.values())

    await eventually(round_done, timeout=40, interval=0.0, what="every ccxt.pro watch resolved")


def _watch(ex: Any, name: str, symbol: str) -> asyncio.Future[Any]:
    call = getattr(ex, name)
    if name == "watch_balance":
        return asyncio.ensure_future(call())
    if name == "watch_positions":
        return asyncio.ensure_future(call([symbol]))
    return asyncio.ensure_future(call(symbol))


async def test_pro_public_and_private_watches(venue_sim: tuple[str, Any]) -> None:
    venue, sim = venue_sim
    ex = point(getattr(ccxtpro, venue)(_config(sim, venue)), sim)
    try:
        await ex.load_markets()
        assert ex.has.get("createOrderWs"), "create_order_ws"
        perp_book = await asyncio.wait_for(ex.watch_order_book(PERP), 20)
        assert perp_book["bids"][0][0] < perp_book["asks"][0][0]
        waits = {name: _watch(ex, name, PERP) for name in ("watch_trades", "watch_ticker", *PRIVATE_WATCHES)}
        await _trade_until_all_resolve(ex, PERP, PERP_QTY[venue], waits)
        results = {name: w.result() for name, w in waits.items()}
        assert results["watch_trades"][-1]["symbol"] == PERP
        assert results["watch_ticker"]["symbol"] == PERP
        assert results["watch_orders"][-1]["symbol"] == PERP
        assert results["watch_my_trades"][-1]["symbol"] == PERP and results["watch_my_trades"][-1]["amount"] > 0
        assert results["watch_balance"]["USDT"]["total"] > 0
        assert results["watch_positions"][-1]["symbol"] == PERP
    finally:
        await ex.close()


async def test_pro_spot_private_watches(venue_sim: tuple[str, Any]) -> None:
    """The spot side: orders, my trades and balance of a spot market, orders sent over WebSocket."""
    venue, sim = venue_sim
    config = _config(sim, venue)
    config.pop("options", None)
    ex = point(getattr(ccxtpro, venue)(config), sim)
    try:
        await ex.load_markets()
        spot_book = await asyncio.wait_for(ex.watch_order_book(SPOT), 20)
        assert spot_book["bids"][0][0] < spot_book["asks"][0][0]
        names = ("watch_ticker", "watch_orders", "watch_my_trades", "watch_balance")
        waits = {name: _watch(ex, name, SPOT) for name in names}
        await _trade_until_all_resolve(ex, SPOT, 0.001, waits)
        results = {name: w.result() for name, w in waits.items()}
        assert results["watch_orders"][-1]["symbol"] == SPOT
        assert results["watch_my_trades"][-1]["symbol"] == SPOT
        assert results["watch_balance"]["BTC"]["total"] > 0
    finally:
        await ex.close()


async def test_pro_edit_order_ws(venue_sim: tuple[str, Any]) -> None:
    """``edit_order_ws``: Binance WS-API ``order.modify``, Bybit ``order.amend`` on ``/v5/trade``,
    OKX ``amend-order`` on the private socket — the same order id, a new price and size."""
    venue, sim = venue_sim
    ex = point(getattr(ccxtpro, venue)(_config(sim, venue)), sim)
    try:
        await ex.load_markets()
        assert ex.has.get("editOrderWs")
        bid = (await ex.fetch_order_book(PERP))["bids"][0][0]
        qty = PERP_QTY[venue]
        placed = await asyncio.wait_for(ex.create_order_ws(PERP, "limit", "buy", qty, round(bid * 0.9, 1)), 15)
        edited = await asyncio.wait_for(
            ex.edit_order_ws(placed["id"], PERP, "limit", "buy", 3 * qty, round(bid * 0.85, 1)), 15
        )
        assert edited["id"] == placed["id"]
        ack = {"acknowledged": True} if venue == "bybit" else {}
        now = await ex.fetch_order(placed["id"], PERP, ack)
        assert (now["price"], now["amount"]) == (round(bid * 0.85, 1), 3 * qty)
    finally:
        await ex.close()


async def test_pro_binance_spot_edit_order_ws_is_cancel_replace() -> None:
    """ccxt.pro edits a Binance spot order over the WS-API with ``order.cancelReplace``."""
    async with _make_sim("binance") as sim:
        config = _config(sim, "binance")
        config.pop("options")
        ex = point(ccxtpro.binance(config), sim)
        try:
            await ex.load_markets()
            bid = (await ex.fetch_order_book(SPOT))["bids"][0][0]
            placed = await asyncio.wait_for(ex.create_order_ws(SPOT, "limit", "buy", 0.01, round(bid * 0.9, 2)), 15)
            edited = await asyncio.wait_for(
                ex.edit_order_ws(placed["id"], SPOT, "limit", "buy", 0.02, round(bid * 0.85, 2)), 15
            )
            assert edited["id"] != placed["id"] and edited["amount"] == 0.02
            assert (await ex.fetch_order(placed["id"], SPOT))["status"] == "canceled"
            assert [o["id"] for o in await ex.fetch_open_orders(SPOT)] == [edited["id"]]
        finally:
            await ex.close()
