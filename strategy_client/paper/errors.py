"""Why a paper venue refuses an order or a call (translated into each caller's error tree)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RejectCode", "PaperRejected"]


class RejectCode(StrEnum):
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    FILTER = "filter"  # tick/step/min-notional
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NO_LIQUIDITY = "no_liquidity"  # no book to fill against
    WOULD_TAKE_LIQUIDITY = "would_take_liquidity"  # post-only crossing the book
    REDUCE_ONLY = "reduce_only"  # would increase or open a position
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    NOT_FOUND = "not_found"
    INVALID = "invalid"


class PaperRejected(Exception):
    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def is_not_found(self) -> bool:
        return self.code is RejectCode.NOT_FOUND
