"""Binance, Bybit and OKX runners on their embedded simulators, traded through one ZmqRouter."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderStatus, OrderType, Side
from strategy_client.router import ZmqRouter

from ..helpers import eventually
from .conftest import start_runner


async def test_one_router_trades_on_all_three_venues(redis_url: str, tmp_path: Path) -> None:
    runners = [start_runner(redis_url, tmp_path, f"v3-{ex.value}", exchange=ex.value) for ex in Exchange]
    try:
        for r in runners:
            r.record()
        async with ZmqRouter(redis_url) as router:
            for ex in Exchange:
                await router.wait_for(ex, timeout_s=30)
            for ex in Exchange:
                key = InstrumentKey(ex, "BTCUSDT", MarketKind.PERP)
                inst = await router.get_instrument(key)
                qty = max(inst.min_qty, Decimal("0.01"))
                order = await router.submit_order(
                    OrderRequest(key=key, side=Side.BUY, type=OrderType.MARKET, qty=qty, client_id=f"v3-{ex.value}-1")
                )
                final = await eventually(
                    lambda k=key, cid=order.client_id: _filled(router, k, cid),  # type: ignore[misc]
                    timeout=15,
                    what=f"{ex.value} fill",
                )
                assert final.filled_qty == qty
                pos = await eventually(
                    lambda k=key: router.get_position(k),  # type: ignore[misc]
                    timeout=15,
                    what=f"{ex.value} position",
                )
                assert pos.size == qty
    finally:
        for r in runners:
            r.stop()


async def _filled(router: ZmqRouter, key: InstrumentKey, cid: str):  # type: ignore[no-untyped-def]
    order = await router.get_order(key, client_id=cid)
    return order if order.status is OrderStatus.FILLED else None
