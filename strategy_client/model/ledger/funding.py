"""Funding settlement of one perp position."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["funding_payment"]


def funding_payment(size: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """What a position of signed ``size`` receives at a settlement (negative = pays):
    ``−size × mark × rate`` — a positive rate makes longs pay shorts. Not rounded."""
    return -(size * mark * rate)
