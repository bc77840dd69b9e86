"""PriceProcess and the quote ladder: determinism, co-movement, OU basis, funding, controls."""

from __future__ import annotations

import statistics
from decimal import Decimal as D

import msgspec

from exchanges.sim.engine import SimConfig
from exchanges.sim.engine.liquidity import quote_ladder
from exchanges.sim.engine.prices import PriceProcess


def path(seed: int, steps: int = 2000, dt: int = 100) -> list[tuple[float, float, float]]:
    cfg = SimConfig(seed=seed)
    p = PriceProcess(cfg, 0)
    btc_spot, btc_perp = cfg.symbols[0], cfg.symbols[2]
    out = []
    for i in range(1, steps + 1):
        p.advance(i * dt)
        out.append((p.index("BTC"), p.fair(btc_spot), p.fair(btc_perp)))
    return out


def test_same_seed_same_path_different_seed_different_path() -> None:
    assert path(7) == path(7)
    assert path(7) != path(8)


def test_streams_are_per_name_so_adding_a_symbol_keeps_the_path() -> None:
    full = SimConfig(seed=3)
    btc_only = SimConfig(seed=3, symbols=tuple(s for s in full.symbols if s.underlying == "BTC"))
    a, b = PriceProcess(full, 0), PriceProcess(btc_only, 0)
    for t in range(100, 10_000, 100):
        a.advance(t)
        b.advance(t)
    assert a.index("BTC") == b.index("BTC")
    assert a.basis_bps("BTCUSDT") == b.basis_bps("BTCUSDT")


def test_spot_and_perp_follow_the_index() -> None:
    for idx, spot, perp in path(1, steps=3000):
        assert abs(spot / idx - 1) < 0.001  # spot noise ~1 bp
        assert abs(perp / idx - 1) < 0.01  # basis stays within 100 bps


def test_basis_and_funding_wander_in_realistic_ranges() -> None:
    cfg = SimConfig(seed=11)
    p = PriceProcess(cfg, 0)
    basis, funding = [], []
    for i in range(1, 36_001):  # one hour at 100 ms
        p.advance(i * 100)
        if i % 10 == 0:
            basis.append(p.basis_bps("BTCUSDT"))
            funding.append(float(p.funding_rate("BTCUSDT")))
    assert 25 < statistics.pstdev(basis) < 55  # stationary std 40 bps by construction
    assert -200 < min(basis) < -5 and 40 < max(basis) < 200  # crosses a taker carry's break-even
    assert max(funding) - min(funding) > 0.0003  # it wanders
    assert all(abs(f) <= 0.0025 for f in funding)
    # a carry trade (enter above 15 bps, exit below 0) completes round trips within minutes
    trips, entered_at = [], None
    for i, b in enumerate(basis):
        if entered_at is None and b > 15:
            entered_at = i
        elif entered_at is not None and b < 0:
            trips.append(i - entered_at)
            entered_at = None
    assert len(trips) >= 4
    assert statistics.median(trips) < 600  # seconds


def test_funding_rate_is_clamped_and_quantized() -> None:
    cfg = msgspec.structs.replace(SimConfig(), funding_rate_cap=D("0.0002"), funding_premium_weight=50.0)
    p = PriceProcess(cfg, 0)
    p.set_basis("BTCUSDT", 40, jump=True)
    p.advance(300_000)  # the premium average (30 s EMA) catches up
    rate = p.funding_rate("BTCUSDT")
    assert rate == D("0.0002")
    p.set_basis("BTCUSDT", -40, jump=True)
    p.advance(600_000)
    assert p.funding_rate("BTCUSDT") == D("-0.0002")
    p.pin_funding("BTCUSDT", D("0.003"))
    assert p.funding_rate("BTCUSDT") == D("0.003")  # a pinned rate is not clamped
    p.pin_funding("BTCUSDT", None)
    assert p.funding_rate("BTCUSDT").as_tuple().exponent == -8


def test_pause_freezes_and_move_index_jumps() -> None:
    cfg = SimConfig()
    p = PriceProcess(cfg, 0)
    p.paused = True
    before = p.index("ETH")
    p.advance(60_000)
    assert p.index("ETH") == before
    p.move_index("ETH", -10)
    assert abs(p.index("ETH") / before - 0.9) < 1e-12


def test_set_basis_target_without_jump_reverts_towards_it() -> None:
    cfg = msgspec.structs.replace(SimConfig(), basis_vol_bps=0.0)
    p = PriceProcess(cfg, 0)
    p.set_basis("ETHUSDT", 50, jump=False)
    assert abs(p.basis_bps("ETHUSDT") - cfg.basis_mean_bps) < 1e-9
    p.advance(600_000)  # ten minutes, half-life ~70 s
    assert abs(p.basis_bps("ETHUSDT") - 50) < 0.5


def test_quote_ladder_top_on_ticks_depth_on_a_fixed_grid() -> None:
    def ladder(fair: float) -> tuple[tuple[D, ...], tuple[D, ...]]:
        q = quote_ladder(
            fair,
            tick=D("0.01"),
            half_spread_bps=0.0,
            spacing_ticks=5,
            levels=4,
            qty=D("1"),
            min_price=D("0"),
            max_price=D("0"),
        )
        return q.bids, q.asks

    assert ladder(100.004) == (
        (D("100.00"), D("99.95"), D("99.90"), D("99.85")),
        (D("100.01"), D("100.05"), D("100.10"), D("100.15")),
    )
    # a small move changes the top levels only; the grid below stays put
    assert ladder(100.037) == (
        (D("100.03"), D("100.00"), D("99.95"), D("99.90")),
        (D("100.04"), D("100.05"), D("100.10"), D("100.15")),
    )
    bids, asks = ladder(100.05)
    assert bids[0] < asks[0] and len(set(bids)) == len(set(asks)) == 4
    thin = quote_ladder(
        0.015,
        tick=D("0.01"),
        half_spread_bps=0.0,
        spacing_ticks=1,
        levels=5,
        qty=D("1"),
        min_price=D("0.01"),
        max_price=D("0.03"),
    )
    assert thin.bids == (D("0.01"),)
    assert thin.asks == (D("0.02"), D("0.03"))
