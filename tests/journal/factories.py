"""Domain objects for journal tests."""

from __future__ import annotations

from decimal import Decimal

from strategy_client.model import (
    Fill,
    InstrumentKey,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

PERP = InstrumentKey.parse("binance:perp:BTCUSDT")
SPOT = InstrumentKey.parse("binance:spot:BTCUSDT")
DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def request(
    client_id: str, *, key: InstrumentKey = PERP, qty: str = "0.010", price: str | None = "50000.10"
) -> OrderRequest:
    return OrderRequest(
        key=key,
        side=Side.BUY,
        type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        qty=Decimal(qty),
        price=None if price is None else Decimal(price),
        client_id=client_id,
    )


def order(
    client_id: str,
    status: OrderStatus = OrderStatus.NEW,
    *,
    key: InstrumentKey = PERP,
    filled: str = "0",
    ts_ms: int = T0,
    venue_id: str = "",
) -> Order:
    return Order(
        key=key,
        client_id=client_id,
        venue_id=venue_id or f"v-{client_id}",
        side=Side.BUY,
        type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        price=Decimal("50000.10"),
        qty=Decimal("0.010"),
        filled_qty=Decimal(filled),
        avg_price=Decimal("50000.10") if Decimal(filled) else None,
        status=status,
        created_ts_ms=ts_ms,
        updated_ts_ms=ts_ms,
    )


def fill(client_id: str, trade_id: str, *, qty: str = "0.005", ts_ms: int = T0, key: InstrumentKey = PERP) -> Fill:
    return Fill(
        key=key,
        client_id=client_id,
        venue_id=f"v-{client_id}",
        trade_id=trade_id,
        side=Side.BUY,
        price=Decimal("50000.10"),
        qty=Decimal(qty),
        fee=Decimal("0.0100002"),
        fee_asset="USDT",
        is_maker=True,
        ts_ms=ts_ms,
        realized_pnl=Decimal("0.33333333333333333333"),
    )
