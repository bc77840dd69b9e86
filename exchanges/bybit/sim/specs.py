"""The instruments the offline Bybit venue lists by default, with Bybit's filters.

Symbols, start prices and underlyings are those of the engine's defaults, so a Bybit and a
Binance simulator started with the same seed share one price path (the engine seeds each
random stream by name); the filters (tick, step, minimums, bands) are Bybit's, taken from
``instruments-info`` (reference §5). :data:`BYBIT_MARKET` adds Bybit's own market-model
knobs: fees, leverage and a small seeded venue premium (``venue_noise_bps``) so that
cross-venue spreads are realistic rather than identically zero.
"""

from __future__ import annotations

from decimal import Decimal as D

from exchanges.sim.engine import SimConfig, SymbolSpec
from strategy_client.model import MarketKind

__all__ = [
    "BYBIT_SYMBOLS",
    "BYBIT_MARKET",
    "bybit_config",
    "SpotExtra",
    "SPOT_EXTRA",
    "DEFAULT_SPOT_EXTRA",
    "MAX_LEVERAGE",
]

MAX_LEVERAGE = 100

BYBIT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec(
        symbol="BTCUSDT",
        kind=MarketKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=D("0.01"),
        step_size=D("0.000001"),  # basePrecision
        min_qty=D("0.000048"),
        max_qty=D("71.73956243"),  # maxLimitOrderQty
        market_max_qty=D("10.5"),  # maxMarketOrderQty
        min_notional=D("1"),  # minOrderAmt
        min_price=D("0.01"),
        max_price=D("1999999.99"),
        percent_price_up=D("1.05"),
        percent_price_down=D("0.95"),
        start_price=D("60000"),
        underlying="BTC",
        max_open_orders=500,
        level_spacing_ticks=50,
    ),
    SymbolSpec(
        symbol="ETHUSDT",
        kind=MarketKind.SPOT,
        base="ETH",
        quote="USDT",
        tick_size=D("0.01"),
        step_size=D("0.00001"),
        min_qty=D("0.00062"),
        max_qty=D("1229.2336343"),
        market_max_qty=D("250"),
        min_notional=D("1"),
        min_price=D("0.01"),
        max_price=D("1999999.99"),
        percent_price_up=D("1.05"),
        percent_price_down=D("0.95"),
        start_price=D("3000"),
        underlying="ETH",
        max_open_orders=500,
        level_spacing_ticks=5,
    ),
    SymbolSpec(
        symbol="BTCUSDT",
        kind=MarketKind.PERP,
        base="BTC",
        quote="USDT",
        tick_size=D("0.10"),
        step_size=D("0.001"),  # qtyStep
        min_qty=D("0.001"),
        max_qty=D("1190.000"),  # maxOrderQty (limit)
        market_max_qty=D("500.000"),  # maxMktOrderQty
        min_notional=D("5"),  # minNotionalValue
        min_price=D("0.10"),
        max_price=D("1999999.80"),
        percent_price_up=D("1.05"),
        percent_price_down=D("0.95"),
        start_price=D("60000"),
        underlying="BTC",
        max_open_orders=500,
        level_spacing_ticks=5,
    ),
    SymbolSpec(
        symbol="ETHUSDT",
        kind=MarketKind.PERP,
        base="ETH",
        quote="USDT",
        tick_size=D("0.01"),
        step_size=D("0.01"),
        min_qty=D("0.01"),
        max_qty=D("7240.00"),
        market_max_qty=D("724.00"),
        min_notional=D("5"),
        min_price=D("0.01"),
        max_price=D("199999.98"),
        percent_price_up=D("1.05"),
        percent_price_down=D("0.95"),
        start_price=D("3000"),
        underlying="ETH",
        max_open_orders=500,
        level_spacing_ticks=5,
    ),
)


class SpotExtra:
    """Spot filters the engine's ``SymbolSpec`` does not carry (shown in ``instruments-info``)."""

    __slots__ = ("quote_precision", "max_order_amt")

    def __init__(self, quote_precision: D, max_order_amt: D) -> None:
        self.quote_precision = quote_precision
        self.max_order_amt = max_order_amt


SPOT_EXTRA: dict[str, SpotExtra] = {
    "BTCUSDT": SpotExtra(D("0.00000001"), D("4000000")),
    "ETHUSDT": SpotExtra(D("0.0000001"), D("4000000")),
}
DEFAULT_SPOT_EXTRA = SpotExtra(D("0.00000001"), D("2000000"))

#: Bybit's market knobs on top of the engine defaults (the price path itself is shared).
BYBIT_MARKET: dict[str, object] = {
    "symbols": BYBIT_SYMBOLS,
    "venue_tag": "bybit",
    "venue_noise_bps": 2.0,
    "maker_fee_spot": D("0.001"),
    "taker_fee_spot": D("0.001"),
    "maker_fee_perp": D("0.0002"),
    "taker_fee_perp": D("0.00055"),
    "default_leverage": 10,
    "max_leverage": MAX_LEVERAGE,
}


def bybit_config(**overrides: object) -> SimConfig:
    """``SimConfig`` with Bybit's instruments and knobs; ``overrides`` win."""
    return SimConfig(**{**BYBIT_MARKET, **overrides})  # type: ignore[arg-type]  # a table of keyword values
