"""Why the engine refuses a request: a venue-neutral reason the dialects map to venue codes.

The reasons are finer than the model's refusal vocabulary (a dialect needs ``LOT_SIZE`` apart
from ``PRICE_FILTER`` to answer with the venue's exact code and words); :data:`REJECT_CODES`
says which :class:`strategy_client.model.RejectCode` each one is.
"""

from __future__ import annotations

from enum import StrEnum

from strategy_client.model import RejectCode

__all__ = ["RejectReason", "SimReject", "REJECT_CODES"]


class RejectReason(StrEnum):
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    INVALID_QTY = "INVALID_QTY"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_ORDER = "INVALID_ORDER"
    LOT_SIZE = "LOT_SIZE"
    PRICE_FILTER = "PRICE_FILTER"
    MIN_NOTIONAL = "MIN_NOTIONAL"
    MAX_QTY = "MAX_QTY"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    REDUCE_ONLY_REJECTED = "REDUCE_ONLY_REJECTED"
    DUPLICATE_CLIENT_ID = "DUPLICATE_CLIENT_ID"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    INVALID_LEVERAGE = "INVALID_LEVERAGE"
    PERCENT_PRICE = "PERCENT_PRICE"
    MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"


#: Each engine reason in the model's refusal vocabulary (one row per reason; a test checks).
REJECT_CODES: dict[RejectReason, RejectCode] = {
    RejectReason.UNKNOWN_SYMBOL: RejectCode.UNKNOWN_INSTRUMENT,
    RejectReason.UNKNOWN_ACCOUNT: RejectCode.AUTH,
    RejectReason.INVALID_QTY: RejectCode.INVALID,
    RejectReason.INVALID_PRICE: RejectCode.INVALID,
    RejectReason.INVALID_ORDER: RejectCode.INVALID,
    RejectReason.LOT_SIZE: RejectCode.FILTER,
    RejectReason.PRICE_FILTER: RejectCode.FILTER,
    RejectReason.MIN_NOTIONAL: RejectCode.FILTER,
    RejectReason.MAX_QTY: RejectCode.FILTER,
    RejectReason.PERCENT_PRICE: RejectCode.FILTER,
    RejectReason.INSUFFICIENT_BALANCE: RejectCode.INSUFFICIENT_FUNDS,
    RejectReason.INSUFFICIENT_MARGIN: RejectCode.INSUFFICIENT_FUNDS,
    RejectReason.POST_ONLY_WOULD_TAKE: RejectCode.WOULD_TAKE_LIQUIDITY,
    RejectReason.FOK_NOT_FILLABLE: RejectCode.NOT_FILLABLE,
    RejectReason.REDUCE_ONLY_REJECTED: RejectCode.REDUCE_ONLY,
    RejectReason.DUPLICATE_CLIENT_ID: RejectCode.DUPLICATE_CLIENT_ID,
    RejectReason.UNKNOWN_ORDER: RejectCode.NOT_FOUND,
    RejectReason.INVALID_LEVERAGE: RejectCode.INVALID,
    RejectReason.MAX_OPEN_ORDERS: RejectCode.TOO_MANY_ORDERS,
}


class SimReject(Exception):
    """The engine refused a request; nothing changed (no order was created, no funds moved)."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail

    @property
    def code(self) -> RejectCode:
        """The refusal in the model's vocabulary."""
        return REJECT_CODES[self.reason]
