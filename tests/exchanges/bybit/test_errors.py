"""Bybit retCodes and HTTP statuses → our typed, retryable-or-not errors."""

from __future__ import annotations

import pytest

from exchanges.bybit.errors import map_error
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


@pytest.mark.parametrize(
    ("status", "code", "msg", "cls", "retryable"),
    [
        (200, 10001, "params error", InvalidRequest, False),
        (200, 10002, "invalid request, please check your server timestamp", TimestampOutOfWindow, True),
        (200, 10003, "API key is invalid.", AuthError, False),
        (200, 10004, "Error sign", AuthError, False),
        (200, 10005, "Permission denied", AuthError, False),
        (200, 10010, "Unmatched IP", AuthError, False),
        (200, 10006, "Too many visits!", RateLimited, True),
        (200, 10016, "Internal System Error.", UnknownOutcome, True),
        (200, 110001, "order not exists or too late to cancel", OrderNotFound, False),
        (200, 170213, "Order does not exist.", OrderNotFound, False),
        (200, 110072, "OrderLinkedID is duplicate", DuplicateClientId, False),
        (200, 170141, "Duplicate clientOrderId.", DuplicateClientId, False),
        (200, 110007, "ab not enough for new order", InsufficientFunds, False),
        (200, 170131, "Insufficient balance.", InsufficientFunds, False),
        (200, 110017, "Reduce-only rule not satisfied", NotFillable, False),
        (200, 110017, "orderQty will be truncated to zero.", InvalidRequest, False),
        (200, 110003, "Order price has exceeded the allowed range", InvalidRequest, False),
        (200, 110094, "Order does not meet minimum order value", InvalidRequest, False),
        (200, 170137, "Order quantity has too many decimals.", InvalidRequest, False),
        (200, 110020, "Not allowed to have more than 500 active orders", OrderRejected, False),
        (200, 110079, "order is being processed", ServiceUnavailable, True),
        (403, None, "access too frequent", IpBanned, False),
        (429, None, "", RateLimited, True),
        (502, None, "<html>502 Bad Gateway</html>", UnknownOutcome, True),
        (503, 10016, "Server is busy", UnknownOutcome, True),
    ],
)
def test_mapping(status: int, code: int | None, msg: str, cls: type[ExchangeError], retryable: bool) -> None:
    err = map_error(status, code, msg, retry_after_s=1.5)
    assert type(err) is cls and err.retryable is retryable and err.venue == "bybit"
    assert err.venue_code == code and err.http_status == status
    if isinstance(err, RateLimited):
        assert err.retry_after_s == 1.5
