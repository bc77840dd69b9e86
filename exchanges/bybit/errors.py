"""Bybit retCodes and HTTP statuses → ``exchanges.errors`` (reference §3).

Precedence: the HTTP status of the gateway first (403 = IP limit / ban, 429 = system
protection, 5xx without an envelope = outcome unknown), then the envelope's ``retCode``.
``10016`` (server error / restarting) and ``10000`` (server timeout) leave the outcome of a
write unknown: the caller reconciles by ``orderLinkId`` and never resends blindly. ``110017``
is a reduce-only refusal when its text says so, else a quantity that truncates to zero.
"""

from __future__ import annotations

from exchanges.errors import (
    AuthError,
    DuplicateClientId,
    ExchangeError,
    InsufficientFunds,
    InvalidRequest,
    IpBanned,
    NotFillable,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    ServiceUnavailable,
    TimestampOutOfWindow,
    UnknownOutcome,
)

__all__ = ["map_error", "LEVERAGE_NOT_MODIFIED", "VENUE"]

VENUE = "bybit"
LEVERAGE_NOT_MODIFIED = 110043

_RATE_CODES = frozenset({10006, 10018, 170005, 170222})
_TIMESTAMP_CODES = frozenset({10002})
# invalid key (wrong environment), bad sign, permission denied, auth failed, IP not whitelisted,
# key expired
_AUTH_CODES = frozenset({10003, 10004, 10005, 10007, 10009, 10010, 33004})
_UNKNOWN_OUTCOME_CODES = frozenset({10000, 10016})
_UNAVAILABLE_CODES = frozenset({10019, 110079})  # service restarting; order being processed
# order not exists / too late to cancel; already completed or cancelled; spot: does not exist
_NOT_FOUND_CODES = frozenset({110001, 110008, 110010, 170142, 170213})
_DUPLICATE_CODES = frozenset({110072, 170141})
_FUNDS_CODES = frozenset({110004, 110006, 110007, 110012, 110044, 110045, 110052, 170033, 170131})
_STATE_CODES = frozenset({110020, 110021, 110022, 110023, 110024, 170124})


def _class_for_code(code: int, msg: str) -> type[ExchangeError]:
    if code in _UNKNOWN_OUTCOME_CODES:
        return UnknownOutcome
    if code in _UNAVAILABLE_CODES:
        return ServiceUnavailable
    if code in _TIMESTAMP_CODES:
        return TimestampOutOfWindow
    if code in _AUTH_CODES:
        return AuthError
    if code in _NOT_FOUND_CODES:
        return OrderNotFound
    if code in _DUPLICATE_CODES:
        return DuplicateClientId
    if code in _FUNDS_CODES:
        return InsufficientFunds
    if code == 110017:
        return NotFillable if "reduce" in msg.lower() else InvalidRequest
    if code in _STATE_CODES:
        return OrderRejected
    if 110000 <= code <= 119999 or 170000 <= code <= 179999:
        # order checks (price band, notional, decimals...): the request as sent cannot pass
        return InvalidRequest if code in (110003, 110094) or code >= 170000 else OrderRejected
    return InvalidRequest


def map_error(
    http_status: int | None,
    code: int | None,
    msg: str,
    *,
    retry_after_s: float | None = None,
) -> ExchangeError:
    """Translate one Bybit failure into the exception the caller should act on."""
    text = msg or (f"HTTP {http_status}" if http_status is not None else "error")
    if http_status == 403:
        return IpBanned(
            f"HTTP 403 (IP rate limit or access denied): {text}",
            retry_after_s=retry_after_s,
            venue_code=code,
            http_status=http_status,
            venue=VENUE,
        )
    if http_status == 429 or (code is not None and code in _RATE_CODES):
        return RateLimited(text, retry_after_s=retry_after_s, venue_code=code, http_status=http_status, venue=VENUE)
    if code is not None and code != 0:
        cls = _class_for_code(code, text)
        return cls(text, venue_code=code, http_status=http_status, venue=VENUE)
    if http_status is not None and http_status >= 500:
        return UnknownOutcome(text, venue_code=code, http_status=http_status, venue=VENUE)
    if http_status is not None and 400 <= http_status < 500:
        return InvalidRequest(text, venue_code=code, http_status=http_status, venue=VENUE)
    return UnknownOutcome(text, venue_code=code, http_status=http_status, venue=VENUE)
