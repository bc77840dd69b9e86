"""Synthetic instruments for scaling benchmarks: ``--extra-symbols N`` lists ``SYM001USDT`` …

The offline venue lists BTCUSDT and ETHUSDT (spot and perpetual). A benchmark of how cost grows
with the number of books needs more: :func:`extra_symbols` makes ``n`` more USDT pairs, each
listed on spot **and** USD-M futures like the built-in ones — in ``exchangeInfo``, with depth,
trade and ticker streams, tradable — so a runner loads them with ``--symbols``. Each has its own
underlying (its own price path), a start price of 10-1 000 USDT, a 0.01 tick and step, and
filters shaped like the built-in pairs' (spot: PERCENT_PRICE 0.2-5×, min notional 5;
perpetual: ±5 % against the mark, min notional 5).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from exchanges.sim.engine import SimConfig, SymbolSpec
from strategy_client.model import MarketKind

__all__ = ["MAX_EXTRA_SYMBOLS", "extra_symbol_name", "extra_symbols", "with_extra_symbols"]

MAX_EXTRA_SYMBOLS = 999
_START_PRICES = tuple(Decimal(p) for p in ("10", "25", "50", "100", "250", "500", "1000"))
_CENT = Decimal("0.01")


def extra_symbol_name(i: int) -> str:
    """The ``i``-th synthetic symbol (1-based): ``SYM001USDT``."""
    return f"SYM{i:03d}USDT"


def _spec(i: int, kind: MarketKind) -> SymbolSpec:
    base = f"SYM{i:03d}"
    price = _START_PRICES[(i - 1) % len(_START_PRICES)]
    spot = kind is MarketKind.SPOT
    return SymbolSpec(
        symbol=extra_symbol_name(i),
        kind=kind,
        base=base,
        quote="USDT",
        tick_size=_CENT,
        step_size=_CENT,
        min_qty=_CENT,
        max_qty=Decimal("1000000"),
        market_max_qty=Decimal("100000"),
        min_notional=Decimal("5"),
        min_price=_CENT,
        max_price=Decimal("1000000") if spot else price * 100,
        percent_price_up=Decimal("5") if spot else Decimal("1.05"),
        percent_price_down=Decimal("0.2") if spot else Decimal("0.95"),
        start_price=price,
        underlying=base,
    )


def extra_symbols(n: int) -> tuple[SymbolSpec, ...]:
    """``n`` synthetic pairs, spot and perpetual each (``2 n`` specs); ValueError past 0..999."""
    if not 0 <= n <= MAX_EXTRA_SYMBOLS:
        raise ValueError(f"extra symbols must be in 0..{MAX_EXTRA_SYMBOLS}, got {n}")
    return tuple(_spec(i, kind) for i in range(1, n + 1) for kind in (MarketKind.SPOT, MarketKind.PERP))


def with_extra_symbols(config: SimConfig | None, n: int) -> SimConfig:
    """``config`` (default ``SimConfig()``) listing ``n`` synthetic pairs after its own symbols."""
    cfg = config or SimConfig()
    if n == 0:
        return cfg
    return msgspec.structs.replace(cfg, symbols=(*cfg.symbols, *extra_symbols(n)))
