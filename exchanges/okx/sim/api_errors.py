"""Error replies of the offline OKX venue (reference §3): envelope codes, per-item ``sCode``.

A request-level failure is ``{"code":"<n>","msg":"...","data":[]}`` with the HTTP status OKX
uses for that code. Order operations never fail at request level for a business reason:
each item carries ``sCode``/``sMsg`` and the envelope says ``"1"`` (all failed) or ``"2"``
(some failed). :func:`from_reject` maps the engine's venue-neutral refusals to those codes.
"""

from __future__ import annotations

from exchanges.sim.engine import RejectReason, SimReject

__all__ = [
    "OkxApiError",
    "ItemError",
    "param_error",
    "param_empty",
    "no_instrument",
    "from_reject",
    "RATE_LIMITED",
    "SUB_ACCOUNT_RATE_LIMITED",
    "NOT_FOUND_AMEND",
    "NOT_FOUND_CANCEL",
    "NOT_FOUND_QUERY",
    "EXP_TIME_PATHS",
    "exp_time_refusal",
]


class OkxApiError(Exception):
    """A request the venue refuses as a whole; ``code`` is OKX's (a string on the wire)."""

    def __init__(self, code: int, msg: str, http_status: int = 400, *, retry_after_s: int | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.retry_after_s = retry_after_s


class ItemError(Exception):
    """One order operation refused (``sCode``/``sMsg``/``subCode`` of its item)."""

    def __init__(self, code: int, msg: str, sub_code: str = "") -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.sub_code = sub_code


RATE_LIMITED = (50011, "Too Many Requests")
SUB_ACCOUNT_RATE_LIMITED = (50061, "Sub-account rate limit exceeded")
NOT_FOUND_AMEND = (51503, "Order modification failed as the order has been filled, canceled or does not exist.")
NOT_FOUND_CANCEL = (51400, "Order cancellation failed as the order has been filled, canceled or does not exist.")
NOT_FOUND_QUERY = (51603, "Order does not exist")


def param_error(name: str) -> ItemError:
    return ItemError(51000, f"Parameter {name} error")


def param_empty(name: str) -> ItemError:
    return ItemError(50014, f"Parameter {name} can not be empty.")


def no_instrument() -> ItemError:
    return ItemError(51001, "Instrument ID, code, or spread ID doesn't exist.")


def from_reject(
    reject: SimReject,
    *,
    settle: str,
    spend: str,
    max_buy: str = "",
    min_sell: str = "",
    for_cancel: bool = False,
    is_market: bool = False,
) -> ItemError:
    """The item error for an engine refusal (``spend``: the asset a spot order needs)."""
    match reject.reason:
        case RejectReason.UNKNOWN_SYMBOL:
            return no_instrument()
        case RejectReason.UNKNOWN_ORDER:
            return ItemError(*(NOT_FOUND_CANCEL if for_cancel else NOT_FOUND_QUERY))
        case RejectReason.INSUFFICIENT_BALANCE:
            return ItemError(51008, f"Order failed. Insufficient {spend} balance in account.", "1000")
        case RejectReason.INSUFFICIENT_MARGIN:
            return ItemError(51008, f"Order failed. Insufficient {settle} margin in account", "1001")
        case RejectReason.LOT_SIZE:
            return ItemError(51121, "Order quantity must be a multiple of the lot size.")
        case RejectReason.MAX_QTY:
            if is_market:
                return ItemError(51202, "Market order amount exceeds the maximum amount.")
            return param_error("sz")
        case RejectReason.MIN_NOTIONAL:
            return ItemError(51020, "Your order should meet or exceed the minimum order amount.")
        case RejectReason.PERCENT_PRICE:
            return ItemError(
                51006,
                f"Order price is not within the price limit (max buy price: {max_buy}, min sell price: {min_sell})",
            )
        case RejectReason.PRICE_FILTER | RejectReason.INVALID_PRICE:
            return param_error("px")
        case RejectReason.INVALID_QTY:
            return param_error("sz")
        case RejectReason.REDUCE_ONLY_REJECTED:
            return ItemError(
                51169,
                "Order failed because you don't have any positions in this direction for this contract to reduce "
                "or close.",
            )
        case RejectReason.DUPLICATE_CLIENT_ID:
            return ItemError(51016, "Duplicated client order ID")
        case RejectReason.MAX_OPEN_ORDERS:
            return ItemError(51102, "Pending order count exceeds the upper limit.")
        case RejectReason.INVALID_LEVERAGE:
            return param_error("lever")
        case _:
            return ItemError(51000, f"Parameter error: {reject.detail or reject.reason.value}")


#: the endpoints OKX applies the ``expTime`` header to (place and amend)
EXP_TIME_PATHS = frozenset(
    {
        "/api/v5/trade/order",
        "/api/v5/trade/batch-orders",
        "/api/v5/trade/amend-order",
        "/api/v5/trade/amend-batch-orders",
    }
)


def exp_time_refusal(exp_time: str, now_ms: int, *, ws: bool) -> OkxApiError | None:
    """OKX: a place request carrying ``expTime`` is not processed once the venue's clock is past
    it. The refusal's code is not documented: 50102 "Timestamp request expired" here (60006 on
    the WebSocket), like a stale request timestamp — nothing was executed (docs/simulator-okx.md)."""
    if not exp_time.isdigit():
        return OkxApiError(50014 if ws else 51000, "Parameter expTime error", 400)
    if now_ms <= int(exp_time):
        return None
    return OkxApiError(60006 if ws else 50102, "Timestamp request expired", 401)
