"""Decimal → Binance wire text: strings, never exponents, with each product's precision.

Spot prints every price, quantity and balance with 8 decimals (``"0.01000000"``). USD-M
futures print prices and quantities with the symbol's ``pricePrecision`` /
``quantityPrecision`` (the decimals of tick and step size) and money with up to 8 decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["EIGHT", "decimals_of", "fixed", "spot", "plain", "money"]

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


def spot(value: Decimal) -> str:
    """Spot wire form: 8 decimals (``Decimal("0.01")`` → ``"0.01000000"``)."""
    return format(value.quantize(EIGHT, rounding=ROUND_HALF_EVEN), "f")


def plain(value: Decimal) -> str:
    """Exact text without exponent and without trailing zeros (``1E-8`` → ``"0.00000001"``)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def money(value: Decimal) -> str:
    """Futures money (balances, PnL, fees): at most 8 decimals, trailing zeros removed."""
    return plain(value.quantize(EIGHT, rounding=ROUND_HALF_EVEN))
