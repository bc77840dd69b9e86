"""Simulator configuration: the instruments a venue lists and the knobs of its market model.

Everything is a msgspec Struct so a dialect or CLI can load it with ``msgspec.convert`` from
JSON/TOML (Decimals may be given as strings). Rates are fractions (``0.001`` = 0.1 %), basis
and noise figures are in basis points, times in milliseconds.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from strategy_client.model import MarketKind

__all__ = ["SymbolSpec", "SimConfig", "DEFAULT_SYMBOLS", "EIGHT_HOURS_MS"]

EIGHT_HOURS_MS = 8 * 3_600_000
ZERO = Decimal(0)


class SymbolSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One listed instrument and its filters (exact decimals; 0 disables a bound).

    ``percent_price_up``/``percent_price_down`` bound a LIMIT price against the reference
    price (mark for perps, the spot fair price for spot): a BUY must be at most
    ``ref * up`` and a SELL at least ``ref * down``. ``level_qty``/``level_spacing_ticks``
    override the config's synthetic liquidity for this book when non-zero.
    """

    symbol: str
    kind: MarketKind
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    start_price: Decimal
    underlying: str
    market_max_qty: Decimal = ZERO
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    percent_price_up: Decimal = ZERO
    percent_price_down: Decimal = ZERO
    max_open_orders: int = 200
    level_qty: Decimal = ZERO
    level_spacing_ticks: int = 0

    @property
    def settle(self) -> str:
        """Perps settle (margin, PnL, fees, funding) in the quote asset."""
        return self.quote

    @property
    def market_max(self) -> Decimal:
        return self.market_max_qty or self.max_qty


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec(
        symbol="BTCUSDT",
        kind=MarketKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.00001"),
        min_qty=Decimal("0.00001"),
        max_qty=Decimal("9000"),
        market_max_qty=Decimal("100"),
        min_notional=Decimal("5"),
        min_price=Decimal("0.01"),
        max_price=Decimal("1000000"),
        percent_price_up=Decimal("5"),
        percent_price_down=Decimal("0.2"),
        start_price=Decimal("60000"),
        underlying="BTC",
        level_spacing_ticks=50,
    ),
    SymbolSpec(
        symbol="ETHUSDT",
        kind=MarketKind.SPOT,
        base="ETH",
        quote="USDT",
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.0001"),
        min_qty=Decimal("0.0001"),
        max_qty=Decimal("9000"),
        market_max_qty=Decimal("1000"),
        min_notional=Decimal("5"),
        min_price=Decimal("0.01"),
        max_price=Decimal("1000000"),
        percent_price_up=Decimal("5"),
        percent_price_down=Decimal("0.2"),
        start_price=Decimal("3000"),
        underlying="ETH",
        level_spacing_ticks=5,
    ),
    SymbolSpec(
        symbol="BTCUSDT",
        kind=MarketKind.PERP,
        base="BTC",
        quote="USDT",
        tick_size=Decimal("0.1"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal("1000"),
        market_max_qty=Decimal("120"),
        min_notional=Decimal("100"),
        min_price=Decimal("261.10"),
        max_price=Decimal("809484"),
        percent_price_up=Decimal("1.05"),
        percent_price_down=Decimal("0.95"),
        start_price=Decimal("60000"),
        underlying="BTC",
        level_spacing_ticks=5,
    ),
    SymbolSpec(
        symbol="ETHUSDT",
        kind=MarketKind.PERP,
        base="ETH",
        quote="USDT",
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.001"),
        min_qty=Decimal("0.001"),
        max_qty=Decimal("10000"),
        market_max_qty=Decimal("2000"),
        min_notional=Decimal("20"),
        min_price=Decimal("39.86"),
        max_price=Decimal("306177"),
        percent_price_up=Decimal("1.05"),
        percent_price_down=Decimal("0.95"),
        start_price=Decimal("3000"),
        underlying="ETH",
        level_spacing_ticks=5,
    ),
)


def _default_level_qty() -> dict[str, Decimal]:
    return {"BTC": Decimal("0.5"), "ETH": Decimal("5")}


def _default_spot_balances() -> dict[str, Decimal]:
    return {"USDT": Decimal("100000"), "BTC": Decimal("1"), "ETH": Decimal("10")}


def _default_futures_balances() -> dict[str, Decimal]:
    return {"USDT": Decimal("100000")}


class SimConfig(msgspec.Struct, kw_only=True):
    """The market model and account defaults of one simulated venue.

    Defaults (chosen so a spot-perp carry strategy enters and exits within minutes):

    * index: geometric random walk, ``volatility_per_sqrt_s`` = 1 bp per sqrt(second)
      (about 8 bps per minute, ~56 % annualised);
    * spot: index plus an OU deviation with stationary std ``spot_noise_bps`` = 1 bp;
    * perp basis (perp fair price over index): OU with mean ``basis_mean_bps`` = 5 bps,
      stationary std ``basis_vol_bps`` = 40 bps and reversion ``basis_reversion`` = 0.03/s
      (half-life ~23 s), so it wanders roughly within +-140 bps and crosses a taker carry's
      break-even (~40 bps after 30 bps of round-trip fees) every few minutes;
    * funding rate per interval: ``interest_rate`` + ``funding_premium_weight`` x the premium
      (EMA over ``premium_ema_s``) + an OU noise of std ``funding_noise_bps``, clamped to
      +-``funding_rate_cap``; with the defaults it wanders roughly within +-0.05 %.
    """

    seed: int = 1
    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    step_interval_ms: int = 100
    # index random walk
    volatility_per_sqrt_s: float = 1.0e-4
    # perp basis (OU): mean and stationary std in bps, reversion speed per second
    basis_mean_bps: float = 5.0
    basis_vol_bps: float = 40.0
    basis_reversion: float = 0.03
    # spot deviation from the index (OU, stationary std in bps, same reversion speed x 10)
    spot_noise_bps: float = 1.0
    # venue-specific deviation of every fair price (OU, stationary std in bps, reversion as the
    # basis), seeded by ``venue_tag``: two venues with the same seed share the index and basis
    # paths and differ by this small premium only (0 = none, no random draws: paths unchanged)
    venue_tag: str = ""
    venue_noise_bps: float = 0.0
    # funding
    funding_interval_ms: int = EIGHT_HOURS_MS
    funding_rate_cap: Decimal = Decimal("0.0075")
    interest_rate: Decimal = Decimal("0.0001")
    funding_premium_weight: float = 0.15
    premium_ema_s: float = 30.0
    funding_noise_bps: float = 1.0
    # synthetic liquidity (a market-maker account re-quoted each step)
    depth_levels: int = 20
    level_qty: dict[str, Decimal] = msgspec.field(default_factory=_default_level_qty)
    default_level_qty: Decimal = Decimal("1")
    level_spacing_ticks: int = 5
    half_spread_bps: float = 0.5
    # fees (fractions of notional)
    maker_fee_spot: Decimal = Decimal("0.001")
    taker_fee_spot: Decimal = Decimal("0.001")
    maker_fee_perp: Decimal = Decimal("0.0002")
    taker_fee_perp: Decimal = Decimal("0.0005")
    # accounts
    starting_balances: dict[str, Decimal] = msgspec.field(default_factory=_default_spot_balances)
    futures_starting_balance: dict[str, Decimal] = msgspec.field(default_factory=_default_futures_balances)
    default_leverage: int = 20
    max_leverage: int = 125
    maint_margin_rate: Decimal = Decimal("0.004")
    # housekeeping
    max_final_orders: int = 1_000_000  # final orders (and fills per account book) kept for queries
    max_income_records: int = 1_000_000  # income records kept per account (oldest dropped)
    public_trades_kept: int = 1000
