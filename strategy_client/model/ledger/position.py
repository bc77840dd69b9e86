"""A one-way net position and what a fill does to it."""

from __future__ import annotations

from decimal import Decimal

from ..enums import Side

__all__ = ["NetPosition"]

_BUY = Side.BUY  # a module constant: enum attribute access is slow on Python 3.11, and this is per fill

ZERO = Decimal(0)


class NetPosition:
    """Signed ``size`` (> 0 long), volume-weighted ``entry``, the realised PnL so far (before
    fees) and the fees of the open part (for the break-even price)."""

    __slots__ = ("size", "entry", "realized", "open_fees", "update_ms")

    def __init__(self) -> None:
        self.size = ZERO
        self.entry = ZERO
        self.realized = ZERO
        self.open_fees = ZERO
        self.update_ms = 0

    def apply(self, side: Side, qty: Decimal, price: Decimal, fee: Decimal, ts_ms: int) -> Decimal:
        """Apply a fill; returns the realised PnL (before fees) of the part that reduced.

        Adding: VWAP entry. Reducing: ``(price − entry) × closed × sign(size)``, entry kept.
        Flipping: the old position closes as above and the rest opens at ``price`` (its share
        of the fee becomes the new open fees)."""
        signed = qty if side is _BUY else -qty
        size = self.size
        realized = ZERO
        if size == 0 or (size > 0) == (signed > 0):
            new = size + signed
            self.entry = (abs(size) * self.entry + qty * price) / abs(new)
            self.size = new
            self.open_fees += fee
        else:
            closing = min(qty, abs(size))
            direction = 1 if size > 0 else -1
            realized = (price - self.entry) * closing * direction
            left = abs(size) - closing
            opening = qty - closing
            self.open_fees = self.open_fees * left / abs(size)
            if left > 0:
                self.size = size + signed
            elif opening > 0:
                self.size = opening if signed > 0 else -opening
                self.entry = price
                self.open_fees = fee * opening / qty
            else:
                self.size = ZERO
                self.entry = ZERO
                self.open_fees = ZERO
        self.realized += realized
        self.update_ms = ts_ms
        return realized

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.size * (mark - self.entry)

    def break_even(self) -> Decimal:
        if self.size == 0:
            return ZERO
        return self.entry + self.open_fees / self.size
