"""How the offline OKX venue writes numbers: JSON strings, plain decimals, no exponent.

OKX sends every number as a string without trailing zeros (``"64000"``, ``"0.4"``,
``"-0.00512"``); an empty string where a value does not apply (``"avgPx":""`` before a fill).
The same Decimal always gives the same text, which the book checksum relies on.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["num", "num_or_empty", "money", "ms"]

_ZERO = Decimal(0)
_MONEY = Decimal("0.00000001")


def num(value: Decimal | int) -> str:
    """``Decimal("64000.00")`` → ``"64000"``, ``Decimal("0.010")`` → ``"0.01"``, 0 → ``"0"``."""
    if isinstance(value, int):
        return str(value)
    if value == _ZERO:
        return "0"
    text = format(value.normalize(), "f")
    return text


def num_or_empty(value: Decimal | None) -> str:
    """``""`` for None and for zero (OKX leaves e.g. ``avgPx`` and ``fillPx`` empty then)."""
    if value is None or value == _ZERO:
        return ""
    return num(value)


def money(value: Decimal) -> str:
    """An amount of money (balances, PnL, margin, fees) to 8 decimals, as OKX shows them; the
    engine keeps them exact."""
    return num(value.quantize(_MONEY, rounding=ROUND_HALF_EVEN))


def ms(value: int) -> str:
    """Epoch milliseconds as OKX sends them: a string."""
    return str(value)
