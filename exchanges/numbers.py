"""Decimal → the number text a venue accepts for an order's quantity or price.

Venues count the decimals of the text they receive, not the value: Binance refuses
``quantity=0.0100`` on a 0.001-step symbol with -1111 ("Precision is over the maximum defined
for this asset") although 0.01 is on the grid. A quantity computed on another venue's finer lot
carries such trailing zeros, so every adapter renders through :func:`venue_decimal`:

* the value in the instrument's precision (the exponent of its step/tick size) when it is on
  that precision: ``0.0100`` with step ``0.001`` → ``"0.010"``, ``10`` with step ``1`` → ``"10"``;
* otherwise (or without a step) the exact value without trailing zeros — the venue then refuses
  an off-grid value by its own filter; nothing is rounded here;
* never an exponent (``Decimal.normalize()`` turns ``10`` into ``1E+1``; ``format(.., "f")``
  keeps it ``10``).
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["venue_decimal"]


def _places(step: Decimal) -> int:
    """Decimals of a step/tick size (``0.001`` → 3, ``0.10`` → 1, ``10`` → 0)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def venue_decimal(value: Decimal, step: Decimal | None = None) -> str:
    """``value`` as plain text in ``step``'s precision when it fits, else exact and minimal."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    if value == 0:
        return "0"
    if step is not None and step > 0:
        quantum = Decimal(1).scaleb(-_places(step))
        fitted = value.quantize(quantum)
        if fitted == value:
            return format(fitted, "f")
    return format(value.normalize(), "f")
