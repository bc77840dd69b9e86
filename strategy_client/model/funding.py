"""Funding rates and payments for perpetuals."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .key import InstrumentKey

__all__ = ["FundingRate", "FundingPayment", "HOUR_MS"]

HOUR_MS = 3_600_000


class FundingRate(msgspec.Struct, frozen=True, kw_only=True):
    """The rate for the coming settlement; positive means longs pay shorts.

    ``interval_ms`` is the time between settlements for this symbol (venues differ: 8 h, 4 h,
    1 h), so rates can be normalised with :meth:`rate_per_hour`.
    """

    key: InstrumentKey
    rate: Decimal
    interval_ms: int
    next_funding_ts_ms: int
    mark_price: Decimal
    index_price: Decimal
    ts_ms: int = 0

    def rate_per_hour(self) -> Decimal:
        return self.rate * HOUR_MS / Decimal(self.interval_ms)

    def expected_over(self, horizon_ms: int) -> Decimal:
        """Rate accrued over ``horizon_ms`` at the current rate (pro rata)."""
        return self.rate * Decimal(horizon_ms) / Decimal(self.interval_ms)


class FundingPayment(msgspec.Struct, frozen=True, kw_only=True):
    """A settled payment; ``amount`` > 0 received, < 0 paid."""

    key: InstrumentKey
    amount: Decimal
    asset: str
    rate: Decimal = Decimal(0)
    ts_ms: int = 0
