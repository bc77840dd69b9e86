"""Instrument: what a venue lets us trade and the filters an order must pass."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .enums import InstrumentStatus
from .key import InstrumentKey

__all__ = ["Instrument"]

ZERO = Decimal(0)
ONE = Decimal(1)


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """A tradable instrument with the venue's filters, all as exact decimals.

    Quantities are always in **base units**, on every venue, so cross-venue hedges are exact:
    ``step_size``, ``min_qty``, ``max_qty`` and the market filters too. Where a venue sizes
    orders in contracts (OKX swaps: ``lotSz``/``minSz`` contracts of ``ctVal`` base units) the
    adapter converts exactly (``step_size = lotSz × ctVal``, ``min_qty = minSz × ctVal``) and
    ``contract_size`` keeps ``ctVal`` (base units per contract; 1 where the venue sizes orders
    in base units). ``max_qty``/``max_price`` of 0 mean "no limit".
    """

    key: InstrumentKey
    base: str
    quote: str
    settle: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal = ZERO
    max_qty: Decimal = ZERO
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    market_step_size: Decimal = ZERO
    market_min_qty: Decimal = ZERO
    market_max_qty: Decimal = ZERO
    contract_size: Decimal = ONE
    status: InstrumentStatus = InstrumentStatus.TRADING

    @property
    def is_trading(self) -> bool:
        return self.status is InstrumentStatus.TRADING

    def market_filters(self) -> tuple[Decimal, Decimal, Decimal]:
        """(step, min, max) quantity filters for MARKET orders (falls back to LOT_SIZE)."""
        step = self.market_step_size or self.step_size
        lo = self.market_min_qty or self.min_qty
        hi = self.market_max_qty or self.max_qty
        return step, lo, hi
