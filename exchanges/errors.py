"""The error tree every venue adapter raises; venue codes are translated at the boundary.

::

    ExchangeError                     base; .retryable, .venue_code, .venue_message
    ├── TransportError                 could not talk to the venue; request not delivered (retryable)
    ├── UnknownOutcome                 delivered, outcome unknown: timeout, 5xx, dropped connection
    │                                  (retryable for reads; for orders: reconcile by client id)
    ├── ServiceUnavailable             venue says it did not execute; try later (retryable)
    ├── RateLimited                    429 / weight exceeded; .retry_after_s (retryable after waiting)
    │   └── IpBanned                   418; .retry_after_s (not retryable until lifted)
    ├── TimestampOutOfWindow           -1021/-5028: resync the clock and retry once (retryable)
    ├── AuthError                      bad key, signature or permissions (not retryable)
    ├── InvalidRequest                 bad parameters, filters, unknown symbol (not retryable)
    ├── OrderRejected                  venue refused the order (not retryable)
    │   ├── InsufficientFunds          balance or margin
    │   ├── WouldTakeLiquidity         post-only would cross (expected outcome)
    │   ├── NotFillable                FOK not fillable / reduce-only knocked out (expected outcome)
    │   └── DuplicateClientId          a live order has this client id: query it, do not resend
    ├── OrderNotFound                  query/cancel of an order the venue does not know
    ├── ListenKeyExpired               user-data key unknown or expired: create a new one
    └── MalformedPayload               venue sent something we cannot decode (not retryable)

:data:`REJECT_CODES` gives each class its word in the model's refusal vocabulary
(:class:`strategy_client.model.RejectCode`); :func:`reject_code` looks an error up by its class,
most specific first.
"""

from __future__ import annotations

from strategy_client.model import RejectCode

__all__ = [
    "ExchangeError",
    "TransportError",
    "UnknownOutcome",
    "ServiceUnavailable",
    "RateLimited",
    "IpBanned",
    "TimestampOutOfWindow",
    "AuthError",
    "InvalidRequest",
    "OrderRejected",
    "InsufficientFunds",
    "WouldTakeLiquidity",
    "NotFillable",
    "DuplicateClientId",
    "OrderNotFound",
    "ListenKeyExpired",
    "MalformedPayload",
    "REJECT_CODES",
    "reject_code",
]


class ExchangeError(Exception):
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        venue_code: int | str | None = None,
        http_status: int | None = None,
        venue: str = "",
    ) -> None:
        super().__init__(message)
        self.venue_message = message
        self.venue_code = venue_code
        self.http_status = http_status
        self.venue = venue

    def __str__(self) -> str:
        parts = []
        if self.venue:
            parts.append(self.venue)
        if self.venue_code is not None:
            parts.append(f"code {self.venue_code}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        prefix = f"[{', '.join(parts)}] " if parts else ""
        return f"{prefix}{self.venue_message}"


class TransportError(ExchangeError):
    retryable = True


class UnknownOutcome(ExchangeError):
    retryable = True


class ServiceUnavailable(ExchangeError):
    retryable = True


class RateLimited(ExchangeError):
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        venue_code: int | str | None = None,
        http_status: int | None = None,
        venue: str = "",
    ) -> None:
        super().__init__(message, venue_code=venue_code, http_status=http_status, venue=venue)
        self.retry_after_s = retry_after_s


class IpBanned(RateLimited):
    retryable = False


class TimestampOutOfWindow(ExchangeError):
    retryable = True


class AuthError(ExchangeError):
    pass


class InvalidRequest(ExchangeError):
    pass


class OrderRejected(ExchangeError):
    pass


class InsufficientFunds(OrderRejected):
    pass


class WouldTakeLiquidity(OrderRejected):
    pass


class NotFillable(OrderRejected):
    pass


class DuplicateClientId(OrderRejected):
    pass


class OrderNotFound(ExchangeError):
    pass


class ListenKeyExpired(ExchangeError):
    retryable = True


class MalformedPayload(ExchangeError):
    pass


#: Each error class's refusal code (an error takes its nearest class's entry).
REJECT_CODES: dict[type[ExchangeError], RejectCode] = {
    ExchangeError: RejectCode.OTHER,
    TransportError: RejectCode.NOT_SENT,
    RateLimited: RejectCode.TOO_MANY_ORDERS,
    AuthError: RejectCode.AUTH,
    InvalidRequest: RejectCode.INVALID,
    InsufficientFunds: RejectCode.INSUFFICIENT_FUNDS,
    WouldTakeLiquidity: RejectCode.WOULD_TAKE_LIQUIDITY,
    NotFillable: RejectCode.NOT_FILLABLE,
    DuplicateClientId: RejectCode.DUPLICATE_CLIENT_ID,
    OrderNotFound: RejectCode.NOT_FOUND,
}


def reject_code(exc: ExchangeError) -> RejectCode:
    """``exc``'s refusal code: the entry of its nearest class in :data:`REJECT_CODES`."""
    for cls in type(exc).__mro__:
        code = REJECT_CODES.get(cls)
        if code is not None:
            return code
    return RejectCode.OTHER
