"""One price path across venues: the Bybit config shares the engine's seeded streams and adds
only a small venue premium (``venue_tag``/``venue_noise_bps``); the default config is unchanged."""

from __future__ import annotations

import statistics

from exchanges.bybit.sim import bybit_config
from exchanges.sim.engine import SimConfig
from exchanges.sim.engine.prices import PriceProcess


def _walk(cfg: SimConfig, steps: int = 3000) -> PriceProcess:
    p = PriceProcess(cfg, 0)
    for i in range(1, steps + 1):
        p.advance(i * 100)
    return p


def test_same_seed_shares_index_and_basis_and_differs_by_a_small_premium() -> None:
    base, bybit = SimConfig(seed=9), bybit_config(seed=9)
    a, b = PriceProcess(base, 0), PriceProcess(bybit, 0)
    perp_a = next(s for s in base.symbols if s.kind.value == "perp" and s.symbol == "BTCUSDT")
    perp_b = next(s for s in bybit.symbols if s.kind.value == "perp" and s.symbol == "BTCUSDT")
    spreads = []
    for i in range(1, 6001):  # ten minutes at 100 ms
        a.advance(i * 100)
        b.advance(i * 100)
        assert a.index("BTC") == b.index("BTC") and a.basis_bps("BTCUSDT") == b.basis_bps("BTCUSDT")
        spreads.append((b.fair(perp_b) / a.fair(perp_a) - 1) * 1e4)
    assert 0.5 < statistics.pstdev(spreads) < 4  # a couple of bps: realistic, never identically zero
    assert max(abs(s) for s in spreads) < 12


def test_without_venue_noise_the_path_is_the_engine_default() -> None:
    plain = _walk(SimConfig(seed=4), 500)
    tagged = _walk(SimConfig(seed=4, venue_tag="x"), 500)  # a tag alone draws nothing
    spec = SimConfig().symbols[2]
    assert plain.fair(spec) == tagged.fair(spec) and plain.funding_rate("BTCUSDT") == tagged.funding_rate("BTCUSDT")


def test_binance_and_bybit_venues_with_one_seed_quote_a_few_bps_apart() -> None:
    """Two engines stepped through the same times: marks differ by the venue premium and ticks."""
    from decimal import Decimal

    from exchanges.sim.engine import ManualClock, SimVenue

    clock_a, clock_b = ManualClock(1_700_000_000_000), ManualClock(1_700_000_000_000)
    binance, bybit = SimVenue(SimConfig(seed=21), clock=clock_a), SimVenue(bybit_config(seed=21), clock=clock_b)
    bps = []
    for _ in range(1200):  # two minutes at 100 ms
        clock_a.advance(100)
        clock_b.advance(100)
        binance.step()
        bybit.step()
        a, b = binance.mark("BTCUSDT").mark, bybit.mark("BTCUSDT").mark
        bps.append(float((b - a) / a * Decimal(10_000)))
        assert binance.mark("BTCUSDT").index == bybit.mark("BTCUSDT").index
    assert max(abs(x) for x in bps) < 12 and statistics.pstdev(bps) > 0.1
