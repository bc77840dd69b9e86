"""What "reduces exposure" means, exactly, for spot and perpetual orders.

Exposure on an instrument is its signed position in base units: the perp position's size
(> 0 long, < 0 short), or for spot the base asset's total balance (free + locked).

An order **reduces** exposure iff, however much of it and of the open orders on its side fill,
the position moves toward zero and never past it:

* the position is not zero, and the order's side is opposite to it (a sell against a long, a
  buy against a short); and
* ``qty + open_same_side <= |position|`` — this order plus every open (or unresolved) order on
  the same side, all filled, cannot cross zero. An order larger than the position (what is left
  of it after the open orders) would open the other side: it does **not** reduce.
* A **perp** order flagged ``reduce_only`` on the opposite side reduces whatever its size:
  Binance, Bybit and OKX never let a reduce-only order increase a position (the venue caps it to
  the position or rejects it), so its worst case is a flat position.
* ``reduce_only`` means nothing on **spot** (no venue supports it there): only the size counts.
* With no position, nothing reduces (a reduce-only order then has nothing to reduce).

Orders on the other side that are open do not count in the order's favour: they may be
cancelled at any time, so a demanding gate gives them no credit.
"""

from __future__ import annotations

from decimal import Decimal

from strategy_client.model import MarketKind, Side

__all__ = ["reduces_exposure"]


def reduces_exposure(
    kind: MarketKind,
    position: Decimal,
    side: Side,
    qty: Decimal,
    reduce_only: bool,
    open_same_side: Decimal,
) -> bool:
    if not position:
        return False
    if (position > 0) == (side is Side.BUY):
        return False
    if reduce_only and kind is MarketKind.PERP:
        return True
    return qty + open_same_side <= abs(position)
