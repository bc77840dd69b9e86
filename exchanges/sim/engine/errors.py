"""Why the engine refuses a request: a venue-neutral reason the dialects map to venue codes."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RejectReason", "SimReject"]


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


class SimReject(Exception):
    """The engine refused a request; nothing changed (no order was created, no funds moved)."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
