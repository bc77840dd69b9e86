"""map_error: Binance codes and HTTP statuses → exchanges.errors (reference §5)."""

from __future__ import annotations

import pytest

from exchanges.binance.errors import map_error
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

TABLE: list[tuple[str, int | None, int | None, str, type[ExchangeError]]] = [
    # rate limits and bans win over the code they come with
    (
        "spot",
        429,
        -1003,
        "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.",
        RateLimited,
    ),
    ("futures", 429, -1003, "Too many requests.", RateLimited),
    ("spot", 418, -1003, "Way too much request weight used; IP banned until 1752149000000.", IpBanned),
    ("spot", 400, -1015, "Too many new orders; current limit is 50 orders per 10 SECOND.", RateLimited),
    # unknown outcome
    ("spot", 500, None, "", UnknownOutcome),
    ("spot", 502, None, "Bad Gateway", UnknownOutcome),
    ("spot", 503, None, "Service Unavailable.", UnknownOutcome),
    ("futures", 500, -1000, "An unknown error occured while processing the request.", UnknownOutcome),
    ("futures", 503, None, "Unknown error, please check your request or try again later.", UnknownOutcome),
    ("futures", 400, -1007, "Timeout waiting for response from backend server.", UnknownOutcome),
    ("spot", 400, -1006, "An unexpected response was received from the message bus.", UnknownOutcome),
    ("futures", 408, None, "", UnknownOutcome),
    # futures 503 that says "not executed"
    ("futures", 503, None, "Service Unavailable.", ServiceUnavailable),
    ("futures", 503, -1008, "Request throttled by system-level protection.", ServiceUnavailable),
    (
        "futures",
        503,
        None,
        "Internal error; unable to process your request. Please try again.",
        ServiceUnavailable,
    ),
    (
        "spot",
        400,
        -1001,
        "Internal error; unable to process your request. Please try again.",
        ServiceUnavailable,
    ),
    # timestamps
    ("spot", 400, -1021, "Timestamp for this request is outside of the recvWindow.", TimestampOutOfWindow),
    (
        "futures",
        400,
        -5028,
        "Timestamp for this request is outside of the ME recvWindow.",
        TimestampOutOfWindow,
    ),
    # auth
    ("spot", 400, -1022, "Signature for this request is not valid.", AuthError),
    ("futures", 401, -2014, "API-key format invalid.", AuthError),
    ("spot", 401, -2015, "Invalid API-key, IP, or permissions for action.", AuthError),
    ("spot", 403, None, "", AuthError),
    # -2010 by message
    ("spot", 400, -2010, "Account has insufficient balance for requested action.", InsufficientFunds),
    ("spot", 400, -2010, "Duplicate order sent.", DuplicateClientId),
    ("spot", 400, -2010, "Order would immediately match and take.", WouldTakeLiquidity),
    ("spot", 400, -2010, "Market is closed.", OrderRejected),
    # futures order outcomes
    ("futures", 400, -2019, "Margin is insufficient.", InsufficientFunds),
    (
        "futures",
        400,
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected.",
        WouldTakeLiquidity,
    ),
    (
        "futures",
        400,
        -5021,
        "Due to the order could not be filled immediately, the FOK order has been rejected.",
        NotFillable,
    ),
    ("futures", 400, -2022, "ReduceOnly Order is rejected.", NotFillable),
    ("futures", 400, -4116, "ClientOrderId is duplicated.", DuplicateClientId),
    ("futures", 400, -2021, "Order would immediately trigger.", OrderRejected),
    (
        "futures",
        400,
        -4118,
        "ReduceOnly Order Failed. Please check your existing position and open orders",
        OrderRejected,
    ),
    # not found
    ("spot", 400, -2011, "Unknown order sent.", OrderNotFound),
    ("futures", 400, -2011, "Unknown order sent.", OrderNotFound),
    ("spot", 400, -2013, "Order does not exist.", OrderNotFound),
    # -2026 differs per product
    (
        "spot",
        400,
        -2026,
        "Order was canceled or expired with no executed qty over 90 days ago and has been archived.",
        OrderNotFound,
    ),
    ("futures", 400, -2026, "ReduceOnly Order type is not supported.", InvalidRequest),
    # listen key
    ("futures", 400, -1125, "This listenKey does not exist.", ListenKeyExpired),
    # parameters and filters
    ("spot", 400, -1013, "Filter failure: LOT_SIZE", InvalidRequest),
    ("spot", 400, -1121, "Invalid symbol.", InvalidRequest),
    ("spot", 400, -1100, "Illegal characters found in parameter 'quantity'.", InvalidRequest),
    ("spot", 400, -1111, "Precision is over the maximum defined for this asset.", InvalidRequest),
    ("futures", 400, -4014, "Price not increased by tick size.", InvalidRequest),
    (
        "futures",
        400,
        -4120,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        InvalidRequest,
    ),
    (
        "futures",
        400,
        -4164,
        "Order's notional must be no smaller than 100 (unless you choose reduce only).",
        InvalidRequest,
    ),
    ("futures", 400, -4028, "Leverage 200 is not valid", InvalidRequest),
    ("futures", 400, -4061, "Order's position side does not match user's setting.", InvalidRequest),
    # unknown code with a 4xx status is the caller's fault
    ("spot", 400, -1199, "Something new.", InvalidRequest),
    ("spot", 404, None, "Not Found", InvalidRequest),
]


@pytest.mark.parametrize(("product", "status", "code", "msg", "expected"), TABLE)
def test_map_error_table(
    product: str, status: int | None, code: int | None, msg: str, expected: type[ExchangeError]
) -> None:
    err = map_error(product, status, code, msg)  # type: ignore[arg-type]
    assert type(err) is expected
    assert err.venue_code == code
    assert err.http_status == status
    assert err.venue == f"binance-{product}"
    if msg:
        assert err.venue_message == msg


def test_retry_after_is_carried_on_rate_limits() -> None:
    limited = map_error("spot", 429, -1003, "Too much request weight used", 7.0)
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 7.0 and limited.retryable
    banned = map_error("spot", 418, -1003, "IP banned", 120.0)
    assert isinstance(banned, IpBanned) and banned.retry_after_s == 120.0
    assert not banned.retryable


def test_ws_api_style_call_without_http_status() -> None:
    # the WS-API client passes its reply ``status`` (or None) and error code/msg
    assert isinstance(map_error("futures", None, -5022, "post only"), WouldTakeLiquidity)
    assert isinstance(map_error("spot", None, -1121, "Invalid symbol."), InvalidRequest)
    assert isinstance(map_error("spot", None, None, "no reply"), UnknownOutcome)


def test_retryable_classification() -> None:
    assert map_error("spot", 500, None, "").retryable
    assert map_error("futures", 503, None, "Service Unavailable.").retryable
    assert not map_error("spot", 400, -1013, "Filter failure: PRICE_FILTER").retryable
    assert not map_error("spot", 400, -2010, "Duplicate order sent.").retryable
