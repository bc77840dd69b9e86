"""Config: loadable from plain data, validated by the venue, defaults as documented."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
import pytest

from exchanges.sim.engine import DEFAULT_SYMBOLS, ManualClock, SimConfig, SimVenue, SymbolSpec
from strategy_client.model import MarketKind


def test_config_converts_from_json_like_data() -> None:
    raw = {
        "seed": 42,
        "funding_interval_ms": 60000,
        "maker_fee_perp": "0.0001",
        "starting_balances": {"USDT": "5000"},
        "symbols": [
            {
                "symbol": "SOLUSDT",
                "kind": "perp",
                "base": "SOL",
                "quote": "USDT",
                "tick_size": "0.001",
                "step_size": "1",
                "min_qty": "1",
                "max_qty": "100000",
                "min_notional": "5",
                "start_price": "150",
                "underlying": "SOL",
            }
        ],
    }
    cfg = msgspec.convert(raw, SimConfig, strict=False)
    assert cfg.seed == 42 and cfg.maker_fee_perp == D("0.0001")
    assert cfg.symbols[0].kind is MarketKind.PERP and cfg.symbols[0].tick_size == D("0.001")
    venue = SimVenue(cfg, clock=ManualClock())
    venue.add_account("a")
    assert venue.spot_balances("a") == {"USDT": (D("5000"), D("0"))}
    view = venue.book(MarketKind.PERP, "SOLUSDT", 20)
    assert len(view.bids) == 20 and view.bids[0][1] == D("1")  # default_level_qty for SOL
    assert view.bids[0][0] < view.asks[0][0]


def test_duplicate_and_degenerate_symbols_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        SimVenue(SimConfig(symbols=(DEFAULT_SYMBOLS[0], DEFAULT_SYMBOLS[0])), clock=ManualClock())
    bad = msgspec.structs.replace(DEFAULT_SYMBOLS[0], tick_size=D("0"))
    with pytest.raises(ValueError, match="positive"):
        SimVenue(SimConfig(symbols=(bad,)), clock=ManualClock())


def test_defaults_list_spot_and_perp_of_btc_and_eth() -> None:
    venue = SimVenue(clock=ManualClock())
    spot = [s.symbol for s in venue.instruments(MarketKind.SPOT)]
    perp = [s.symbol for s in venue.instruments(MarketKind.PERP)]
    assert spot == perp == ["BTCUSDT", "ETHUSDT"]
    spec = venue.spec(MarketKind.PERP, "BTCUSDT")
    assert isinstance(spec, SymbolSpec) and spec.settle == "USDT" and spec.market_max == D("120")
    assert venue.config.funding_interval_ms == 8 * 3_600_000
    assert venue.mark("BTCUSDT").next_funding_ms % (8 * 3_600_000) == 0
