"""Trades and 24 h tickers (``run_market_data``) of each adapter against its offline venue, over
real sockets: the venue renders its own wire format, the adapter parses it into the model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

from exchanges.base import PushesMarketData
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.sim import BinanceSim
from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.sim import BybitSim
from exchanges.credentials import Credentials
from exchanges.okx.adapter import OkxAdapter
from exchanges.okx.sim import OkxSim, OkxSimOptions
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side, Ticker, Trade
from tests.helpers import eventually, free_port, free_port_pair


@asynccontextmanager
async def _venue(exchange: Exchange) -> AsyncIterator[Any]:
    async with AsyncExitStack() as stack:
        adapter: Any
        if exchange is Exchange.BINANCE:
            b = await stack.enter_async_context(BinanceSim(port_base=free_port_pair(), seed=3, step_ms=50))
            adapter = BinanceAdapter(b.urls, Credentials(b.api_key, b.api_secret), use_ws_api=False)
        elif exchange is Exchange.BYBIT:
            y = await stack.enter_async_context(BybitSim(port=free_port(), seed=3, step_ms=50))
            adapter = BybitAdapter(y.urls, Credentials(y.api_key, y.api_secret))
        else:
            o = await stack.enter_async_context(
                OkxSim(port=free_port(), seed=3, step_ms=50, options=OkxSimOptions(ws_connects_per_s=0))
            )
            adapter = OkxAdapter(o.urls, Credentials(o.api_key, o.api_secret, o.passphrase))
        await adapter.start()
        stack.push_async_callback(adapter.close)
        yield adapter


@pytest.mark.parametrize("exchange", [Exchange.BINANCE, Exchange.BYBIT, Exchange.OKX])
async def test_trades_and_tickers_from_the_offline_venue(exchange: Exchange) -> None:
    spot = InstrumentKey(exchange, "BTCUSDT", MarketKind.SPOT)
    perp = InstrumentKey(exchange, "BTCUSDT", MarketKind.PERP)
    got: list[Trade | Ticker] = []
    async with _venue(exchange) as adapter:
        assert isinstance(adapter, PushesMarketData)
        task = asyncio.create_task(adapter.run_market_data([spot, perp], [spot, perp], got.append))
        try:
            # every ticker stream sends a first frame; then a taker order makes a public trade
            await eventually(
                lambda: {x.key for x in got if isinstance(x, Ticker)} == {spot, perp}, timeout=15, what="tickers"
            )
            for key, side in ((spot, Side.BUY), (perp, Side.SELL)):
                await adapter.place_order(OrderRequest(key=key, side=side, type=OrderType.MARKET, qty=Decimal("0.01")))

            def both() -> list[Trade] | None:
                trades = [x for x in got if isinstance(x, Trade)]
                return trades if {t.key for t in trades} == {spot, perp} else None

            trades = await eventually(both, timeout=15, what="trades of both markets")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    by_key: dict[InstrumentKey, list[Trade]] = {}
    for t in trades:
        by_key.setdefault(t.key, []).append(t)
    assert all(t.side is Side.BUY for t in by_key[spot]) and all(t.side is Side.SELL for t in by_key[perp])
    for key in (spot, perp):
        assert sum(t.qty for t in by_key[key]) == Decimal("0.01"), (key, by_key[key])
        assert all(t.price > 0 and t.venue_ts_ms > 0 and t.trade_id for t in by_key[key])
    tickers = [x for x in got if isinstance(x, Ticker)]
    assert all(t.last > 0 and t.venue_ts_ms > 0 for t in tickers)
