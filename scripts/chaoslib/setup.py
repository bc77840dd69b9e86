"""What trades in a chaos run: the strategies, their configs, and the market that moves them.

The venues' basis is driven through the admin API (``/_sim/engine/basis``) in alternating
phases so the strategies enter and exit every few seconds: *rich* (every perp well above spot,
the OKX perp below the others — spot-perp and perp-perp both enter) and *flat* (basis near zero
everywhere — they exit). Thresholds are small so that a phase is enough to act on.
"""

from __future__ import annotations

import random

from .cluster import PERP_SYMBOL, VENUES, Cluster, StrategySpec

__all__ = ["STRATEGIES", "strategy_config", "MarketDriver"]

STRATEGIES = (
    StrategySpec("spotperp-binance", "spotperp", ("binance",), "spot"),
    StrategySpec("spotperp-bybit", "spotperp", ("bybit",), "spot"),
    StrategySpec("perpperp-bybit-okx", "perpperp", ("bybit", "okx"), "perp"),
)

_COMMON = """
[execution]
first_leg = "auto"
entry_style = "taker"
order_type = "market"
leg_timeout_s = 3.0
hedge_timeout_s = 2.0
unwind_timeout_s = 2.0
hedge_retries = 3
unwind_attempts = 5

[margin]
leverage = 3
"""


def strategy_config(spec: StrategySpec, size: str = "0.01") -> str:
    """A TOML config that trades on the driven basis within a phase."""
    if spec.kind == "spotperp":
        head = f'exchange = "{spec.venues[0]}"\n'
        decision = (
            "entry_threshold_bps = 5\nexit_threshold_bps = 2\nstop_loss_bps = 400\n"
            "slippage_buffer_bps = 1\nhorizon_s = 60\n"
        )
    else:
        head = f'exchanges = ["{spec.venues[0]}", "{spec.venues[1]}"]\npoll_interval_s = 0.5\n'
        decision = (
            "entry_threshold_bps = 5\nexit_threshold_bps = 2\nstop_loss_bps = 400\n"
            "slippage_buffer_bps = 1\nhorizon_s = 60\n"
        )
    return (
        f'{head}symbol = "BTCUSDT"\nsize = {size}\nmax_positions = 1\npaper = false\n\n'
        f"[oracle]\nmax_book_age_ms = 3000\n\n[decision]\n{decision}{_COMMON}"
    )


class MarketDriver:
    """Alternates rich/flat basis phases on every venue (seeded jitter)."""

    def __init__(self, cluster: Cluster, rng: random.Random, phase_s: float) -> None:
        self.cluster = cluster
        self.rng = rng
        self.phase_s = phase_s
        self.rich = False
        self.next_at = 0.0
        self.phases = 0
        self.errors = 0

    def flatten(self) -> None:
        """Basis near zero everywhere: what a strategy holds is worth exiting."""
        self.rich = True
        self.next_at = 0.0
        self.tick(0.0)
        self.next_at = float("inf")

    def tick(self, now: float) -> None:
        if now < self.next_at:
            return
        self.rich = not self.rich
        self.phases += 1
        self.next_at = now + self.phase_s * self.rng.uniform(0.7, 1.3)
        for venue in VENUES:
            bps = (-90.0 if venue == "okx" else 110.0) if self.rich else 0.0
            bps += self.rng.uniform(-10, 10)
            try:
                self.cluster.ctl(venue).call(
                    "POST", "/_sim/engine/basis", {"symbol": PERP_SYMBOL[venue], "bps": bps, "jump": True}
                )
            except Exception:  # noqa: BLE001 - a venue that does not answer is counted, the run goes on
                self.errors += 1
