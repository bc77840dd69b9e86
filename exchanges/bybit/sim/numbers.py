"""Decimal → Bybit wire text: strings, never exponents.

Prices carry the tick's decimals (``"64210.40"`` for a 0.10 tick), quantities the step's
(``"0.010"``); money (balances, fees, PnL) is printed exactly with at most 8 decimals and no
trailing zeros; rates with 8 decimals at most. Timestamps inside ``result``/``data`` are
strings of ms.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["decimals_of", "fixed", "plain", "money", "Format"]

EIGHT = Decimal("0.00000001")


def decimals_of(step: Decimal) -> int:
    """Number of decimals a tick/step size carries (``0.10`` → 2, ``1`` → 0)."""
    exponent = step.as_tuple().exponent
    if not isinstance(exponent, int):
        return 0
    return max(0, -exponent)


def fixed(value: Decimal, places: int) -> str:
    """``value`` with exactly ``places`` decimals, no exponent."""
    quantum = Decimal(1).scaleb(-places)
    return format(value.quantize(quantum, rounding=ROUND_HALF_EVEN), "f")


def plain(value: Decimal) -> str:
    """Exact text without exponent and without trailing zeros (``1E-8`` → ``"0.00000001"``)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def money(value: Decimal) -> str:
    """Balances, fees and PnL: at most 8 decimals, trailing zeros removed."""
    return plain(value.quantize(EIGHT, rounding=ROUND_HALF_EVEN))


class Format:
    """One instrument's wire precision: prices with the tick's decimals, quantities with the step's."""

    __slots__ = ("price_places", "qty_places")

    def __init__(self, tick_size: Decimal, step_size: Decimal) -> None:
        self.price_places = decimals_of(tick_size)
        self.qty_places = decimals_of(step_size)

    def price(self, value: Decimal | None) -> str:
        if value is None or value == 0:
            return "0"
        return fixed(value, self.price_places)

    def qty(self, value: Decimal) -> str:
        return fixed(value, self.qty_places)

    def value(self, value: Decimal) -> str:
        return money(value)
