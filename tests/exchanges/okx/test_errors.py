"""OKX codes and HTTP statuses → the error tree, each retryable or not."""

from __future__ import annotations

import pytest

from exchanges import errors as e
from exchanges.okx.errors import map_error


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (429, 50011, e.RateLimited),
        (200, 50011, e.RateLimited),
        (200, 50061, e.RateLimited),
        (418, None, e.IpBanned),
        (400, 50004, e.UnknownOutcome),
        (500, 51149, e.UnknownOutcome),
        (500, 50026, e.UnknownOutcome),
        (503, 50001, e.ServiceUnavailable),
        (429, 50013, e.RateLimited),
        (401, 50102, e.TimestampOutOfWindow),
        (401, 50113, e.AuthError),
        (401, 50105, e.AuthError),
        (401, 50101, e.AuthError),
        (200, 51008, e.InsufficientFunds),
        (200, 51016, e.DuplicateClientId),
        (200, 51400, e.OrderNotFound),
        (200, 51603, e.OrderNotFound),
        (200, 51169, e.NotFillable),
        (200, 51006, e.OrderRejected),
        (400, 51000, e.InvalidRequest),
        (400, 51001, e.InvalidRequest),
        (400, 50014, e.InvalidRequest),
        (200, 51121, e.InvalidRequest),
        (502, None, e.UnknownOutcome),
        (401, None, e.AuthError),
        (404, None, e.InvalidRequest),
    ],
)
def test_mapping(status: int, code: int | None, cls: type[e.ExchangeError]) -> None:
    err = map_error(status, code, "msg", None)
    assert type(err) is cls and err.venue == "okx" and err.venue_code == code and err.http_status == status


def test_retryability_and_retry_after() -> None:
    limited = map_error(429, 50011, "Too Many Requests", None)
    assert isinstance(limited, e.RateLimited) and limited.retryable and limited.retry_after_s == 2.0
    assert map_error(429, 50011, "x", 7.0).retry_after_s == 7.0  # type: ignore[attr-defined]
    assert not map_error(200, 51008, "x").retryable
    assert map_error(400, 50004, "x").retryable
    assert "[okx, code 51008, HTTP 200] Insufficient" in str(map_error(200, 51008, "Insufficient USDT margin"))
