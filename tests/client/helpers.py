"""Shared bits of the client tests."""

from __future__ import annotations

from decimal import Decimal

from strategy_client.model import InstrumentKey, OrderRequest, OrderType, Side

PERP = InstrumentKey.parse("binance:perp:BTCUSDT")
SPOT = InstrumentKey.parse("binance:spot:BTCUSDT")


def resting_buy(key: InstrumentKey, bid: Decimal, client_id: str = "", qty: str = "0.01") -> OrderRequest:
    """A limit buy 10% under the bid (never fills on the simulator's random walk)."""
    return OrderRequest(
        key=key,
        side=Side.BUY,
        type=OrderType.LIMIT,
        qty=Decimal(qty),
        price=(bid * Decimal("0.9")).quantize(Decimal("0.1")),
        client_id=client_id,
    )
