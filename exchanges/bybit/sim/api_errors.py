"""Bybit error replies the offline venue sends: the v5 envelope with ``retCode != 0``.

Business errors travel with HTTP 200 (reference §3); :func:`from_reject` maps the engine's
venue-neutral :class:`~exchanges.sim.engine.errors.RejectReason` to Bybit's codes per category
(``linear`` 110xxx, ``spot`` 170xxx). Codes the reference marks unverified are named in
``docs/simulator-bybit.md``.
"""

from __future__ import annotations

from typing import Literal

from exchanges.sim.engine.errors import RejectReason, SimReject

__all__ = [
    "Category",
    "BybitApiError",
    "param_error",
    "missing",
    "bad_symbol",
    "order_not_exists",
    "from_reject",
    "CATEGORIES",
]

Category = Literal["spot", "linear"]
CATEGORIES: tuple[Category, Category] = ("spot", "linear")


class BybitApiError(Exception):
    """A request the venue refuses: ``{"retCode", "retMsg", "result": {}, ...}``.

    ``http_status`` is 200 for business errors; ``reset_ms`` (10006) fills
    ``X-Bapi-Limit-Reset-Timestamp``.
    """

    def __init__(self, code: int, msg: str, http_status: int = 200, *, reset_ms: int | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.reset_ms = reset_ms


def param_error(detail: str) -> BybitApiError:
    return BybitApiError(10001, detail)


def missing(name: str) -> BybitApiError:
    return BybitApiError(10001, f"params error: {name} is required")


def bad_symbol(symbol: str = "") -> BybitApiError:
    return BybitApiError(10001, f"params error: symbol invalid{': ' + symbol if symbol else ''}")


def order_not_exists(category: Category) -> BybitApiError:
    if category == "spot":
        return BybitApiError(170213, "Order does not exist.")
    return BybitApiError(110001, "order not exists or too late to cancel")


_LINEAR: dict[RejectReason, tuple[int, str]] = {
    RejectReason.UNKNOWN_SYMBOL: (10001, "params error: symbol invalid"),
    RejectReason.UNKNOWN_ACCOUNT: (10003, "API key is invalid."),
    RejectReason.INVALID_QTY: (10001, "params error: qty invalid"),
    RejectReason.INVALID_PRICE: (10001, "params error: price invalid"),
    RejectReason.INVALID_ORDER: (10001, "params error: invalid order"),
    RejectReason.LOT_SIZE: (10001, "Qty invalid"),
    RejectReason.PRICE_FILTER: (10001, "Price invalid"),
    RejectReason.MIN_NOTIONAL: (110094, "Order does not meet minimum order value"),
    RejectReason.MAX_QTY: (10001, "The number of contracts exceeds maximum limit allowed: too large"),
    RejectReason.INSUFFICIENT_BALANCE: (110007, "ab not enough for new order"),
    RejectReason.INSUFFICIENT_MARGIN: (110007, "ab not enough for new order"),
    RejectReason.REDUCE_ONLY_REJECTED: (110017, "Reduce-only rule not satisfied"),
    RejectReason.DUPLICATE_CLIENT_ID: (110072, "OrderLinkedID is duplicate"),
    RejectReason.UNKNOWN_ORDER: (110001, "order not exists or too late to cancel"),
    RejectReason.INVALID_LEVERAGE: (10001, "leverage invalid"),
    RejectReason.PERCENT_PRICE: (110003, "Order price has exceeded the allowed range"),
    RejectReason.MAX_OPEN_ORDERS: (110020, "Not allowed to have more than 500 active orders"),
}

_SPOT: dict[RejectReason, tuple[int, str]] = {
    RejectReason.UNKNOWN_SYMBOL: (170121, "Invalid symbol."),
    RejectReason.UNKNOWN_ACCOUNT: (10003, "API key is invalid."),
    RejectReason.INVALID_QTY: (170136, "Order quantity lower than the minimum."),
    RejectReason.INVALID_PRICE: (170134, "Order price has too many decimals."),
    RejectReason.INVALID_ORDER: (10001, "params error: invalid order"),
    RejectReason.LOT_SIZE: (170137, "Order quantity has too many decimals."),
    RejectReason.PRICE_FILTER: (170134, "Order price has too many decimals."),
    RejectReason.MIN_NOTIONAL: (170140, "Order value exceeded lower limit."),
    RejectReason.MAX_QTY: (170135, "Order quantity exceeded upper limit."),
    RejectReason.INSUFFICIENT_BALANCE: (170131, "Insufficient balance."),
    RejectReason.INSUFFICIENT_MARGIN: (170131, "Insufficient balance."),
    RejectReason.REDUCE_ONLY_REJECTED: (10001, "params error: reduceOnly is not supported for spot"),
    RejectReason.DUPLICATE_CLIENT_ID: (170141, "Duplicate clientOrderId."),
    RejectReason.UNKNOWN_ORDER: (170213, "Order does not exist."),
    RejectReason.INVALID_LEVERAGE: (10001, "leverage invalid"),
    RejectReason.PERCENT_PRICE: (170193, "Buy order price cannot be higher than the limit."),
    RejectReason.MAX_OPEN_ORDERS: (170124, "Order amount too large."),
}


def from_reject(category: Category, exc: SimReject) -> BybitApiError:
    """The Bybit error for an engine refusal of a ``category`` request."""
    table = _SPOT if category == "spot" else _LINEAR
    code, msg = table.get(exc.reason, (10001, "params error"))
    if category == "spot" and exc.reason is RejectReason.PERCENT_PRICE and "sell" in exc.detail:
        code, msg = 170194, "Sell order price cannot be lower than the limit."
    return BybitApiError(code, msg)
