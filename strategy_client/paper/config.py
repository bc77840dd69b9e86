"""Settings of a paper venue."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from strategy_client.model import MarketKind

__all__ = ["PaperConfig"]


class PaperConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Fees are fractions of notional (``0.0005`` = 5 bps), charged in the quote/margin asset.

    ``balances`` seeds the spot wallet, ``margin_balance`` the perp wallet (in ``margin_asset``).
    ``default_leverage`` applies to a perp until ``set_leverage``; ``max_leverage`` bounds it.
    """

    taker_fee: Decimal = Decimal("0.0005")
    maker_fee: Decimal = Decimal("0.0002")
    spot_taker_fee: Decimal | None = None  # None: taker_fee (venues often charge spot differently)
    spot_maker_fee: Decimal | None = None
    balances: dict[str, Decimal] = msgspec.field(default_factory=lambda: {"USDT": Decimal(100_000)})
    margin_asset: str = "USDT"
    margin_balance: Decimal = Decimal(100_000)
    default_leverage: int = 5
    max_leverage: int = 125
    maint_margin_rate: Decimal = Decimal("0.004")
    order_history: int = 10_000  # final orders remembered for get_order

    def fee_rate(self, kind: MarketKind, *, maker: bool) -> Decimal:
        if kind is MarketKind.SPOT:
            spot = self.spot_maker_fee if maker else self.spot_taker_fee
            if spot is not None:
                return spot
        return self.maker_fee if maker else self.taker_fee

    def __post_init__(self) -> None:
        for name in (
            "taker_fee",
            "maker_fee",
            "spot_taker_fee",
            "spot_maker_fee",
            "margin_balance",
            "maint_margin_rate",
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if not value.is_finite() or value < 0:
                raise ValueError(f"{name}: must be a non-negative number, got {value}")
        for asset, amount in self.balances.items():
            if not amount.is_finite() or amount < 0:
                raise ValueError(f"balances.{asset}: must be a non-negative number, got {amount}")
        if not 1 <= self.default_leverage <= self.max_leverage:
            raise ValueError(f"default_leverage: {self.default_leverage} is not within 1..{self.max_leverage}")
