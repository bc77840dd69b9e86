"""Open-order initial margin of one perp in cross, one-way mode."""

from __future__ import annotations

from decimal import Decimal

from ..enums import Side

__all__ = ["Exposure", "PositionMargin", "added_order_margin", "order_initial_margin", "position_margin"]

_BUY = Side.BUY  # a module constant: enum attribute access is slow on Python 3.11, and this is per fill

ZERO = Decimal(0)


class Exposure:
    """Remaining quantity and notional of an account's open orders on one perp, per side."""

    __slots__ = ("buy_qty", "buy_notional", "sell_qty", "sell_notional")

    def __init__(self) -> None:
        self.buy_qty = ZERO
        self.buy_notional = ZERO
        self.sell_qty = ZERO
        self.sell_notional = ZERO

    def add(self, side: Side, qty: Decimal, price: Decimal) -> None:
        if side is _BUY:
            self.buy_qty += qty
            self.buy_notional += qty * price
        else:
            self.sell_qty += qty
            self.sell_notional += qty * price

    def remove(self, side: Side, qty: Decimal, price: Decimal) -> None:
        self.add(side, -qty, price)

    @property
    def empty(self) -> bool:
        return self.buy_qty == 0 and self.sell_qty == 0

    def initial_margin(self, size: Decimal, leverage: int) -> Decimal:
        if self.empty:
            return ZERO
        return order_initial_margin(size, self.buy_qty, self.buy_notional, self.sell_qty, self.sell_notional, leverage)


def order_initial_margin(
    size: Decimal,
    buy_qty: Decimal,
    buy_notional: Decimal,
    sell_qty: Decimal,
    sell_notional: Decimal,
    leverage: int,
) -> Decimal:
    """Initial margin of the open orders of one symbol given the position ``size``: on each
    side only the quantity that would not close the position counts (at the side's average
    price), and the larger side counts."""
    buy_im = ZERO
    sell_im = ZERO
    if buy_qty > 0:
        excess = buy_qty - max(ZERO, -size)
        if excess > 0:
            buy_im = excess * buy_notional / buy_qty
    if sell_qty > 0:
        excess = sell_qty - max(ZERO, size)
        if excess > 0:
            sell_im = excess * sell_notional / sell_qty
    return max(buy_im, sell_im) / leverage


def added_order_margin(
    size: Decimal, exposure: Exposure | None, side: Side, qty: Decimal, price: Decimal, leverage: int
) -> Decimal:
    """How much the open-order initial margin of the symbol grows if an order of ``qty`` at
    ``price`` joins ``exposure`` (≤ 0: the order needs no margin, e.g. it only reduces)."""
    bq = exposure.buy_qty if exposure else ZERO
    bn = exposure.buy_notional if exposure else ZERO
    sq = exposure.sell_qty if exposure else ZERO
    sn = exposure.sell_notional if exposure else ZERO
    before = order_initial_margin(size, bq, bn, sq, sn, leverage)
    if side is _BUY:
        after = order_initial_margin(size, bq + qty, bn + qty * price, sq, sn, leverage)
    else:
        after = order_initial_margin(size, bq, bn, sq + qty, sn + qty * price, leverage)
    return after - before


PositionMargin = tuple[Decimal, Decimal, Decimal]
"""``(unrealized, initial margin, maintenance margin)`` of one position (a plain tuple: summed
for every position on every margin summary)."""


def position_margin(size: Decimal, entry: Decimal, mark: Decimal, leverage: int, mmr: Decimal) -> PositionMargin:
    """A position's unrealised PnL ``size × (mark − entry)``, initial margin ``|size| × mark /
    leverage`` and maintenance margin ``|size| × mark × mmr``."""
    notional = abs(size) * mark
    return size * (mark - entry), notional / leverage, notional * mmr
