"""PriceProcess: the seeded market model every book is quoted around.

* one **index** per underlying: a driftless geometric random walk (exact for any time step);
* one **spot** fair price per spot symbol: index x (1 + d), d an OU deviation;
* one **perp** fair price per perp symbol: index x (1 + b), b an OU basis (mean-reverting
  premium) — spot and perp of one underlying therefore move together;
* one **funding rate** per perp: ``interest + weight x EMA(premium) + n`` clamped to the cap,
  n an OU noise, so the rate follows the premium with a lag and also wanders by itself;
* optionally (``venue_noise_bps`` > 0) one **venue deviation** per symbol, an OU seeded by
  ``venue_tag``: fair x (1 + v), and the perp premium includes v. Venues sharing a seed then
  share index and basis and differ by a small, mean-reverting cross-venue spread.

All randomness comes from ``random.Random`` instances seeded from ``(seed, stream name)``:
the same seed and the same sequence of ``advance`` times give the identical path, and adding a
symbol does not disturb the others' streams. Floats are fine for the model; prices leave this
module rounded to the tick as Decimals.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_EVEN, Decimal

from strategy_client.model import MarketKind

from .config import SimConfig, SymbolSpec

__all__ = ["PriceProcess", "RATE_QUANTUM"]

RATE_QUANTUM = Decimal("0.00000001")
_BPS = 1e-4


def _ou(x: float, mean: float, std: float, reversion: float, dt: float, z: float) -> float:
    """Exact OU transition over ``dt`` seconds with stationary standard deviation ``std``."""
    a = math.exp(-reversion * dt)
    return mean + (x - mean) * a + std * math.sqrt(max(0.0, 1.0 - a * a)) * z


class _Perp:
    __slots__ = ("basis", "basis_mean", "premium_ema", "noise", "pinned", "rng")

    def __init__(self, basis_mean: float, rng: random.Random) -> None:
        self.basis = basis_mean
        self.basis_mean = basis_mean
        self.premium_ema = basis_mean
        self.noise = 0.0
        self.pinned: Decimal | None = None
        self.rng = rng


class PriceProcess:
    def __init__(self, config: SimConfig, start_ms: int) -> None:
        self.config = config
        self.last_ms = start_ms
        self.paused = False
        seed = config.seed
        self._index: dict[str, float] = {}
        self._index_rng: dict[str, random.Random] = {}
        self._spot_dev: dict[str, float] = {}
        self._spot_rng: dict[str, random.Random] = {}
        self._spot_underlying: dict[str, str] = {}
        self._perps: dict[str, _Perp] = {}
        self._perp_underlying: dict[str, str] = {}
        self._venue_dev: dict[tuple[MarketKind, str], float] = {}
        self._venue_rng: dict[tuple[MarketKind, str], random.Random] = {}
        for spec in config.symbols:
            u = spec.underlying
            if u not in self._index:
                self._index[u] = float(spec.start_price)
                self._index_rng[u] = random.Random(f"{seed}/index/{u}")
            if spec.kind is MarketKind.SPOT:
                self._spot_dev[spec.symbol] = 0.0
                self._spot_rng[spec.symbol] = random.Random(f"{seed}/spot/{spec.symbol}")
                self._spot_underlying[spec.symbol] = u
            else:
                rng = random.Random(f"{seed}/perp/{spec.symbol}")
                self._perps[spec.symbol] = _Perp(config.basis_mean_bps * _BPS, rng)
                self._perp_underlying[spec.symbol] = u
            if config.venue_noise_bps > 0:
                key = (spec.kind, spec.symbol)
                self._venue_dev[key] = 0.0
                self._venue_rng[key] = random.Random(f"{seed}/venue/{config.venue_tag}/{spec.kind}/{spec.symbol}")

    # --- evolution -------------------------------------------------------------------------

    def advance(self, to_ms: int) -> None:
        """Evolve every process from ``last_ms`` to ``to_ms`` (no-op backwards or when paused)."""
        if to_ms <= self.last_ms:
            return
        dt = (to_ms - self.last_ms) / 1000.0
        self.last_ms = to_ms
        if self.paused:
            return
        cfg = self.config
        vol = cfg.volatility_per_sqrt_s
        for u in self._index:  # dict order = config order: deterministic
            z = self._index_rng[u].gauss(0.0, 1.0)
            self._index[u] *= math.exp(-0.5 * vol * vol * dt + vol * math.sqrt(dt) * z)
        spot_std = cfg.spot_noise_bps * _BPS
        spot_rev = cfg.basis_reversion * 10.0
        for sym in self._spot_dev:
            z = self._spot_rng[sym].gauss(0.0, 1.0)
            self._spot_dev[sym] = _ou(self._spot_dev[sym], 0.0, spot_std, spot_rev, dt, z)
        basis_std = cfg.basis_vol_bps * _BPS
        noise_std = cfg.funding_noise_bps * _BPS
        ema_keep = math.exp(-dt / cfg.premium_ema_s) if cfg.premium_ema_s > 0 else 0.0
        venue_std = cfg.venue_noise_bps * _BPS
        for key in self._venue_dev:
            z = self._venue_rng[key].gauss(0.0, 1.0)
            self._venue_dev[key] = _ou(self._venue_dev[key], 0.0, venue_std, cfg.basis_reversion, dt, z)
        for sym, p in self._perps.items():
            z1 = p.rng.gauss(0.0, 1.0)
            z2 = p.rng.gauss(0.0, 1.0)
            p.basis = _ou(p.basis, p.basis_mean, basis_std, cfg.basis_reversion, dt, z1)
            p.noise = _ou(p.noise, 0.0, noise_std, cfg.basis_reversion, dt, z2)
            premium = p.basis + self._venue_dev.get((MarketKind.PERP, sym), 0.0)
            p.premium_ema = p.premium_ema * ema_keep + premium * (1.0 - ema_keep)

    # --- controls --------------------------------------------------------------------------

    def set_basis(self, symbol: str, bps: float, *, jump: bool) -> None:
        p = self._perp(symbol)
        p.basis_mean = bps * _BPS
        if jump:
            p.basis = p.basis_mean

    def move_index(self, underlying: str, pct: float) -> None:
        if underlying not in self._index:
            raise KeyError(underlying)
        if pct <= -100:
            raise ValueError("an index cannot fall by 100 % or more")
        self._index[underlying] *= 1.0 + pct / 100.0

    def pin_funding(self, symbol: str, rate: Decimal | None) -> None:
        self._perp(symbol).pinned = rate

    # --- reads -----------------------------------------------------------------------------

    def _perp(self, symbol: str) -> _Perp:
        try:
            return self._perps[symbol]
        except KeyError:
            raise KeyError(symbol) from None

    def underlyings(self) -> list[str]:
        return list(self._index)

    def index(self, underlying: str) -> float:
        return self._index[underlying]

    def fair(self, spec: SymbolSpec) -> float:
        """The price the market maker quotes around (spot fair or perp fair = mark)."""
        idx = self._index[spec.underlying]
        venue = 1.0 + self._venue_dev.get((spec.kind, spec.symbol), 0.0) if self._venue_dev else 1.0
        if spec.kind is MarketKind.SPOT:
            return idx * (1.0 + self._spot_dev[spec.symbol]) * venue
        return idx * (1.0 + self._perps[spec.symbol].basis) * venue

    def basis_bps(self, symbol: str) -> float:
        return self._perp(symbol).basis / _BPS

    def funding_rate(self, symbol: str) -> Decimal:
        """The rate for the coming settlement (pinned, or from the premium), 8 decimals."""
        p = self._perp(symbol)
        if p.pinned is not None:
            return p.pinned
        cfg = self.config
        raw = float(cfg.interest_rate) + cfg.funding_premium_weight * p.premium_ema + p.noise
        rate = Decimal(raw).quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)
        cap = cfg.funding_rate_cap
        return max(-cap, min(cap, rate)).quantize(RATE_QUANTUM)
