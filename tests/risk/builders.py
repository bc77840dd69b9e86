"""Builders for the risk tests: instruments, a gate over MemoryInputs with injected clocks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange_runner.risk import MemoryInputs, RiskGate, parse_risk_section
from strategy_client.model import (
    Exchange,
    InstrumentKey,
    MarketKind,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

EX = Exchange.BINANCE
BTC_P = InstrumentKey(EX, "BTCUSDT", MarketKind.PERP)
BTC_S = InstrumentKey(EX, "BTCUSDT", MarketKind.SPOT)
ETH_P = InstrumentKey(EX, "ETHUSDT", MarketKind.PERP)
ETH_S = InstrumentKey(EX, "ETHUSDT", MarketKind.SPOT)
KEYS = (BTC_P, BTC_S, ETH_P, ETH_S)
D = Decimal

# 2026-12-07 12:00:00 UTC
NOON_MS = 1_796_644_800_000


class Clocks:
    """Injected monotonic (ns) and wall (ns) clocks the test moves by hand."""

    def __init__(self, wall_ms: int = NOON_MS) -> None:
        self.mono = 10**12
        self.wall = wall_ms * 1_000_000

    def mono_ns(self) -> int:
        return self.mono

    def wall_ns(self) -> int:
        return self.wall

    def advance(self, seconds: float) -> None:
        step = int(seconds * 1e9)
        self.mono += step
        self.wall += step

    @property
    def wall_ms(self) -> int:
        return self.wall // 1_000_000


def inputs(
    *,
    positions: dict[InstrumentKey, str] | None = None,
    equity: str | None = "100000",
) -> MemoryInputs:
    refs = {BTC_P: D(50000), BTC_S: D(50000), ETH_P: D(2500), ETH_S: D(2500)}
    return MemoryInputs(
        positions={k: D(v) for k, v in (positions or {}).items()},
        references=dict(refs),
        bids={k: v - 1 for k, v in refs.items()},
        asks={k: v + 1 for k, v in refs.items()},
        equity=D(equity) if equity is not None else None,
    )


def gate(
    config: dict[str, Any] | None = None, inp: MemoryInputs | None = None, clocks: Clocks | None = None
) -> RiskGate:
    clocks = clocks or Clocks()
    inp = inp if inp is not None else inputs()
    return RiskGate(
        parse_risk_section(config or {}),
        EX,
        KEYS,
        inp,
        tally=inp.tally,
        clock_ns=clocks.mono_ns,
        wall_ns=clocks.wall_ns,
    )


def limit(
    key: InstrumentKey, side: Side, qty: str, price: str, *, reduce_only: bool = False, cid: str = ""
) -> OrderRequest:
    return OrderRequest(
        key=key, side=side, type=OrderType.LIMIT, qty=D(qty), price=D(price), reduce_only=reduce_only, client_id=cid
    )


def market(key: InstrumentKey, side: Side, qty: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(key=key, side=side, type=OrderType.MARKET, qty=D(qty), reduce_only=reduce_only)


def open_order(
    cid: str, key: InstrumentKey, side: Side, qty: str, *, filled: str = "0", status: OrderStatus = OrderStatus.NEW
) -> Order:
    return Order(
        key=key,
        client_id=cid,
        venue_id="",
        side=side,
        type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        price=D(1),
        qty=D(qty),
        filled_qty=D(filled),
        status=status,
    )
