"""Trading fees and what a spot fill does to the base and quote balances."""

from __future__ import annotations

from decimal import Decimal

from ..enums import Side

__all__ = ["SpotDeltas", "fee_amount", "spot_deltas"]

_BUY = Side.BUY  # a module constant: enum attribute access is slow on Python 3.11, and this is per fill


def fee_amount(qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """The fee of a perp fill (margin asset) or of a spot sell (quote asset): notional × rate."""
    return qty * price * rate


SpotDeltas = tuple[Decimal, Decimal, Decimal, bool]
"""``(base, quote, fee, fee_in_base)``: the net change of the account's base and quote totals
(free + locked) by one spot fill, its fee, and whether that fee is in base (a buy) or quote.
A plain tuple: the simulator settles every spot fill through it."""


def spot_deltas(side: Side, qty: Decimal, price: Decimal, rate: Decimal) -> SpotDeltas:
    """A spot fill pays its fee in the asset it receives (Binance's ``commissionAsset`` without
    a fee-token discount): a buy gets ``qty − qty × rate`` base for ``qty × price`` quote, a sell
    gets ``qty × price × (1 − rate)`` quote for ``qty`` base."""
    notional = qty * price
    if side is _BUY:
        fee = qty * rate
        return qty - fee, -notional, fee, True
    fee = notional * rate
    return -qty, notional - fee, fee, False
