"""OKX error codes and HTTP statuses → ``exchanges.errors`` (reference §3).

One table for the envelope ``code`` and the per-item ``sCode`` of order operations (the same
code space), used by the REST client and the WebSocket order operations. Precedence: rate
limits first (50011/50061 or HTTP 429, whatever else), then the specific code, then the HTTP
status class. Codes that say the request may have been executed (50004 endpoint timeout,
51054/51149 order timeouts, 50026 system error) are *unknown outcomes*: reconcile by
``clOrdId``, never resend; 50001/50013 (service unavailable, busy) were not executed.
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
    WouldTakeLiquidity,
)

__all__ = ["map_error", "VENUE", "DEFAULT_RETRY_AFTER_S"]

VENUE = "okx"
DEFAULT_RETRY_AFTER_S = 2.0  # OKX's rate-limit windows are 2 s

_RATE = frozenset({50011, 50061, 60014})
# 50026 "System error": nothing says the request was not executed, so it is treated as unknown
_UNKNOWN_OUTCOME = frozenset({50004, 50026, 51054, 51149})
_NOT_EXECUTED = frozenset({50001, 50013, 50005, 50156})
_TIMESTAMP = frozenset({50102, 60006})
# bad key/sign/passphrase/environment, IP not whitelisted, permissions, WS login failures
_AUTH = frozenset(
    {50100, 50101, 50103, 50104, 50105, 50106, 50107, 50110, 50111, 50112, 50113, 50114, 50120, 50121,
     60004, 60005, 60007, 60009, 60011, 60024}
)  # fmt: skip
_NOT_FOUND = frozenset({51400, 51401, 51402, 51603, 51410})
_FUNDS = frozenset({51008, 51127, 51131, 59108})
_DUPLICATE = frozenset({51016})
_NOT_FILLABLE = frozenset({51169, 51170})
_WOULD_TAKE = frozenset({51019})
# refused for the market's or account's state: price limits, size limits, max pending orders
_STATE_REJECT = frozenset({51006, 51137, 51138, 51102, 51202, 51201, 51004, 51010, 51024})


def _class_for_code(code: int) -> type[ExchangeError] | None:
    if code in _UNKNOWN_OUTCOME:
        return UnknownOutcome
    if code in _NOT_EXECUTED:
        return ServiceUnavailable
    if code in _TIMESTAMP:
        return TimestampOutOfWindow
    if code in _AUTH:
        return AuthError
    if code in _FUNDS:
        return InsufficientFunds
    if code in _DUPLICATE:
        return DuplicateClientId
    if code in _NOT_FILLABLE:
        return NotFillable
    if code in _WOULD_TAKE:
        return WouldTakeLiquidity
    if code in _NOT_FOUND:
        return OrderNotFound
    if code in _STATE_REJECT:
        return OrderRejected
    if 50000 <= code < 60000 or 60012 <= code <= 60018:
        return InvalidRequest  # parameters, instruments, sizes, prices
    return None


def map_error(
    http_status: int | None,
    code: int | None,
    msg: str,
    retry_after_s: float | None = None,
) -> ExchangeError:
    """Translate one OKX failure (request level or one order item) into our error tree."""
    text = msg or (f"HTTP {http_status}" if http_status is not None else "error")
    if http_status == 418:
        return IpBanned(text, retry_after_s=retry_after_s, venue_code=code, http_status=http_status, venue=VENUE)
    if http_status == 429 or (code is not None and code in _RATE):
        wait = retry_after_s if retry_after_s is not None else DEFAULT_RETRY_AFTER_S
        return RateLimited(text, retry_after_s=wait, venue_code=code, http_status=http_status, venue=VENUE)
    if code is not None:
        cls = _class_for_code(code)
        if cls is not None:
            return cls(text, venue_code=code, http_status=http_status, venue=VENUE)
    if http_status is not None and http_status >= 500:
        return UnknownOutcome(text, venue_code=code, http_status=http_status, venue=VENUE)
    if http_status in (401, 403):
        return AuthError(text, venue_code=code, http_status=http_status, venue=VENUE)
    if http_status is not None and 400 <= http_status < 500:
        return InvalidRequest(text, venue_code=code, http_status=http_status, venue=VENUE)
    return UnknownOutcome(text, venue_code=code, http_status=http_status, venue=VENUE)
