"""One price path across venues: an OKX and a Binance venue with the same seed follow the same
index and basis, apart by OKX's small seeded premium (and their tick sizes)."""

from __future__ import annotations

from decimal import Decimal

from exchanges.binance.sim import build_config as binance_config
from exchanges.okx.sim import build_config as okx_config
from exchanges.sim.engine import ManualClock, SimVenue
from strategy_client.model import MarketKind


def _venues(seed: int) -> tuple[SimVenue, SimVenue, ManualClock, ManualClock]:
    ca, cb = ManualClock(1_800_000_000_000), ManualClock(1_800_000_000_000)
    return SimVenue(okx_config(seed=seed), clock=ca), SimVenue(binance_config(seed=seed), clock=cb), ca, cb


def test_same_seed_small_nonzero_cross_venue_spread() -> None:
    okx, binance, ca, cb = _venues(seed=4)
    spreads_bps: list[float] = []
    for _ in range(600):  # one simulated minute in 100 ms steps
        ca.advance(100)
        cb.advance(100)
        okx.step()
        binance.step()
        for kind in (MarketKind.PERP, MarketKind.SPOT):
            a = okx.reference_price(kind, "BTCUSDT")
            b = binance.reference_price(kind, "BTCUSDT")
            spreads_bps.append(float((a - b) / b) * 1e4)
        # the shared index path, before the venue premium
        assert okx.mark("BTCUSDT").index == binance.mark("BTCUSDT").index.quantize(Decimal("0.1"))
    assert max(abs(s) for s in spreads_bps) < 15  # a few bps of venue premium, never a different market
    assert any(abs(s) > 0.2 for s in spreads_bps)  # but not identically zero


def test_different_seeds_differ() -> None:
    a = SimVenue(okx_config(seed=1), clock=ManualClock(1_800_000_000_000))
    b = SimVenue(okx_config(seed=2), clock=ManualClock(1_800_000_000_000))
    for venue in (a, b):
        venue.clock.advance(60_000)  # type: ignore[attr-defined]
        venue.step()
    assert a.mark("BTCUSDT").mark != b.mark("BTCUSDT").mark
