"""RFC 9457 problem documents: every error the gateway answers, with the wire's error code.

:class:`ApiError` is the one exception the handlers raise; :func:`from_core` translates the
client library's :class:`~strategy_client.errors.CoreApiError` tree (the wire's codes) into it.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from strategy_client.errors import (
    AmbiguousRoute,
    BadReply,
    CoreApiError,
    OutcomeUnknown,
    RequestTimeout,
    RunnerUnavailable,
)

from .models import Problem

__all__ = ["ApiError", "problem_response", "from_core", "STATUS_BY_CODE", "PROBLEM_TYPE"]

PROBLEM_TYPE = "https://tradebus.dev/problems/"
CONTENT_TYPE = "application/problem+json"

STATUS_BY_CODE: dict[str, int] = {
    "bad_json": 400,
    "bad_params": 400,
    "decode_error": 400,
    "bad_frame": 400,
    "oversized": 400,
    "invalid_params": 400,
    "unknown_instrument": 400,
    "unknown_method": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "idempotency_conflict": 409,
    "ambiguous_route": 409,
    "venue_rejected": 422,
    "risk_rejected": 422,
    "rate_limited": 429,
    "internal": 500,
    "version_mismatch": 502,
    "bad_reply": 502,
    "no_runner": 503,
    "unavailable": 503,
    "venue_unavailable": 503,
    "timeout": 504,
    "outcome_unknown": 504,
}


class ApiError(Exception):
    """An error answered as a problem document (``code`` decides the status)."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        reject_code: str | None = None,
        venue_code: str = "",
        venue_message: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.status = status or STATUS_BY_CODE.get(code, 500)
        self.problem = Problem(
            type=PROBLEM_TYPE + code,
            title=code.replace("_", " "),
            status=self.status,
            detail=detail,
            code=code,
            retryable=retryable,
            reject_code=reject_code,
            venue_code=venue_code,
            venue_message=venue_message,
            retry_after_s=retry_after_s,
        )


def from_core(exc: CoreApiError) -> ApiError:
    """The client library's error as a problem (its wire code, reject code, venue words)."""
    if isinstance(exc, AmbiguousRoute):
        code = "ambiguous_route"
    elif isinstance(exc, OutcomeUnknown):
        code = "outcome_unknown"
    elif isinstance(exc, RequestTimeout):
        code = "timeout"
    elif exc.code is not None:
        code = exc.code.value
    elif isinstance(exc, RunnerUnavailable):
        code = "no_runner"
    else:
        code = "bad_reply" if isinstance(exc, BadReply) else "invalid_params"
    return ApiError(
        code,
        str(exc),
        retryable=exc.retryable,
        reject_code=None if exc.reject_code is None else exc.reject_code.value,
        venue_code=exc.venue_code,
        venue_message=exc.venue_message,
    )


def problem_response(err: ApiError, instance: str) -> web.Response:
    problem = msgspec.structs.replace(err.problem, instance=instance)
    headers = {}
    if problem.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, int(problem.retry_after_s + 0.999)))
    return web.Response(
        body=msgspec.json.encode(problem), status=err.status, content_type=CONTENT_TYPE, headers=headers
    )
