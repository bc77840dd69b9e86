"""Binance error codes and HTTP statuses → ``exchanges.errors`` (reference §5).

Codes are stable *per product* (-2026 means ORDER_ARCHIVED on spot and
REDUCE_ONLY_ORDER_TYPE_NOT_SUPPORTED on futures), so the product is part of the key.
Precedence: rate limits and bans first (they come with HTTP 429/418 whatever the code), then
the specific code, then the HTTP status class. A 5xx without a code that says "not executed"
is an *unknown outcome*: the caller must reconcile, never resend.

Used by the REST client and by the WS-API client (``error.code``/``error.msg``, with the
WS-API ``status`` as ``http_status``).
"""

from __future__ import annotations

from typing import Literal

from exchanges.errors import (
    AuthError,
    DuplicateClientId,
    ExchangeError,
    InsufficientFunds,
    InvalidRequest,
    IpBanned,
    ListenKeyExpired,
    NotFillable,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    ServiceUnavailable,
    TimestampOutOfWindow,
    UnknownOutcome,
    WouldTakeLiquidity,
)

__all__ = ["Product", "map_error"]

Product = Literal["spot", "futures"]

_UNKNOWN_OUTCOME_CODES = frozenset({-1000, -1006, -1007})
# "Internal error; unable to process your request" / "Server is currently overloaded": not executed
_NOT_EXECUTED_CODES = frozenset({-1001, -1008})
_RATE_CODES = frozenset({-1003, -1015, -1034})
_TIMESTAMP_CODES = frozenset({-1021, -5028})
# bad key/signature/permissions; futures -2017 "API Keys are locked"
_AUTH_CODES = frozenset({-1002, -1022, -2014, -2015, -2017})
_NOT_FOUND_CODES = frozenset({-2011, -2013})
_DUPLICATE_CODES = frozenset({-4116})
# -2018 balance insufficient, -2019 margin insufficient
_FUNDS_CODES = frozenset({-2018, -2019})
# FOK not fillable, ReduceOnly rejected, futures "Unable to fill"
_NOT_FILLABLE_CODES = frozenset({-5021, -2022, -2020})
_WOULD_TAKE_CODES = frozenset({-5022})
# refused for the account's or market's current state (not a malformed request): no order exists.
# -2021 would trigger immediately, -2023 liquidation mode, -2024 position not sufficient,
# -2025 max open orders, -2027/-2028 leverage vs position, -4118 reduce-only margin check,
# -4131 counterparty price outside PERCENT_PRICE
_STATE_REJECT_CODES = frozenset({-2021, -2023, -2024, -2025, -2027, -2028, -4118, -4131})
# spot filter failures and unsupported-parameter codes outside the -11xx block
_PARAM_CODES = frozenset({-1013, -1014, -1020, -1099})

_FUTURES_NOT_EXECUTED_503 = ("service unavailable", "internal error")


def _make(cls: type[ExchangeError], msg: str, product: Product, status: int | None, code: int | None) -> ExchangeError:
    return cls(msg, venue_code=code, http_status=status, venue=f"binance-{product}")


def _class_2010(msg: str) -> type[ExchangeError]:
    low = msg.lower()
    if "insufficient balance" in low:
        return InsufficientFunds
    if "duplicate order" in low:
        return DuplicateClientId
    if "would immediately match" in low:
        return WouldTakeLiquidity
    return OrderRejected


def _class_for_code(product: Product, code: int, msg: str) -> type[ExchangeError] | None:
    """The class for a known code, or None to fall through to the HTTP status."""
    if code in _UNKNOWN_OUTCOME_CODES:
        return UnknownOutcome
    if code in _NOT_EXECUTED_CODES:
        return ServiceUnavailable
    if code in _TIMESTAMP_CODES:
        return TimestampOutOfWindow
    if code in _AUTH_CODES:
        return AuthError
    if code == -1125:
        return ListenKeyExpired
    if code == -2010:
        return _class_2010(msg)
    if code in _FUNDS_CODES:
        return InsufficientFunds
    if code in _NOT_FILLABLE_CODES:
        return NotFillable
    if code in _WOULD_TAKE_CODES:
        return WouldTakeLiquidity
    if code in _DUPLICATE_CODES:
        return DuplicateClientId
    if code in _NOT_FOUND_CODES:
        return OrderNotFound
    if code == -2026:
        # spot: ORDER_ARCHIVED (too old to query); futures: reduce-only not supported for the type
        return OrderNotFound if product == "spot" else InvalidRequest
    if code in _STATE_REJECT_CODES:
        return OrderRejected
    if -1199 <= code <= -1100 or code in _PARAM_CODES or code <= -4000:
        # parameter errors, filter failures, futures -4xxx validation (tick, step, leverage...)
        return InvalidRequest
    return None


def map_error(
    product: Product,
    http_status: int | None,
    code: int | None,
    msg: str,
    retry_after_s: float | None = None,
) -> ExchangeError:
    """Translate one Binance failure into the exception the caller should act on."""
    text = msg or (f"HTTP {http_status}" if http_status is not None else "error")
    venue = f"binance-{product}"
    if http_status == 418:
        return IpBanned(text, retry_after_s=retry_after_s, venue_code=code, http_status=http_status, venue=venue)
    if http_status == 429 or (code is not None and code in _RATE_CODES):
        return RateLimited(text, retry_after_s=retry_after_s, venue_code=code, http_status=http_status, venue=venue)
    if code is not None:
        cls = _class_for_code(product, code, text)
        if cls is not None:
            return _make(cls, text, product, http_status, code)
    if http_status is not None and http_status >= 500:
        if product == "futures" and http_status == 503 and text.strip().lower().startswith(_FUTURES_NOT_EXECUTED_503):
            return _make(ServiceUnavailable, text, product, http_status, code)
        return _make(UnknownOutcome, text, product, http_status, code)
    if http_status == 408:
        # futures: timeout waiting for the backend; the request may have been executed
        return _make(UnknownOutcome, text, product, http_status, code)
    if http_status in (401, 403):
        # 401 bad key; 403 the WAF refused the request: not retryable, not a parameter problem
        return _make(AuthError, text, product, http_status, code)
    if (http_status is not None and 400 <= http_status < 500) or (code is not None and code < 0):
        return _make(InvalidRequest, text, product, http_status, code)
    return _make(UnknownOutcome, text, product, http_status, code)
