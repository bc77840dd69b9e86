"""Trading fees and what a spot fill does to the base and quote balances."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from ..enums import Side

__all__ = ["SpotDeltas", "fee_amount", "spot_deltas"]


def fee_amount(qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """The fee of a perp fill (margin asset) or of a spot sell (quote asset): notional × rate."""
    return qty * price * rate


class SpotDeltas(NamedTuple):
    """Net change of the account's base and quote totals (free + locked) by one spot fill."""

    base: Decimal
    quote: Decimal
    fee: Decimal
    fee_in_base: bool  # True: the fee is in the base asset (a buy), else in the quote asset


def spot_deltas(side: Side, qty: Decimal, price: Decimal, rate: Decimal) -> SpotDeltas:
    """A spot fill pays its fee in the asset it receives (Binance's ``commissionAsset`` without
    a fee-token discount): a buy gets ``qty − qty × rate`` base for ``qty × price`` quote, a sell
    gets ``qty × price × (1 − rate)`` quote for ``qty`` base."""
    notional = qty * price
    if side is Side.BUY:
        fee = qty * rate
        return SpotDeltas(qty - fee, -notional, fee, True)
    fee = notional * rate
    return SpotDeltas(-qty, notional - fee, fee, False)
