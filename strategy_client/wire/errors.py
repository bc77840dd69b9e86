"""Error codes carried in error replies, and the client-side exception tree.

Every failed command gets an :class:`ErrorReply` with one of these codes. Clients turn it into
an exception from the tree below (``strategy_client.errors`` re-exports it)::

    CoreApiError
    ├── RequestTimeout        no reply within the call's timeout (a read or set_leverage: ask again)
    ├── RunnerUnavailable     no runner registered / runner gone / connection refused
    ├── ProtocolMismatch      client and runner speak different protocol versions
    ├── Forbidden             this client's key lacks the role the method needs (docs/security.md)
    ├── InvalidRequest        bad frame, unknown method, bad params, unknown instrument
    │   └── NotFound          the order (or other object) asked for does not exist
    ├── VenueRejected         the venue refused (venue_code, venue_message)
    ├── RiskRejected          the runner's risk gate refused the order; never sent (docs/risk.md)
    ├── VenueUnavailable      the venue could not be reached / rate limited (retryable)
    ├── OutcomeUnknown        an order command (submit/cancel) may have reached the venue and its
    │                         answer is lost (the runner's, or this client's own timeout or lost
    │                         connection). Never resend: the runner tracks the order (status
    │                         UNKNOWN) until the venue says; learn its fate from the ``exec``
    │                         topic or get_order (not retryable)
    └── RunnerInternalError   a bug in the runner; the runner keeps running
"""

from __future__ import annotations

from enum import StrEnum

from ..model import RejectCode

__all__ = [
    "ErrorCode",
    "CoreApiError",
    "RequestTimeout",
    "RunnerUnavailable",
    "ProtocolMismatch",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "VenueRejected",
    "VenueUnavailable",
    "OutcomeUnknown",
    "RiskRejected",
    "RunnerInternalError",
    "error_class",
]


class ErrorCode(StrEnum):
    DECODE_ERROR = "decode_error"  # frame could not be decoded
    BAD_FRAME = "bad_frame"  # wrong number of frames
    VERSION_MISMATCH = "version_mismatch"
    UNKNOWN_METHOD = "unknown_method"
    INVALID_PARAMS = "invalid_params"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    OVERSIZED = "oversized"
    NOT_FOUND = "not_found"
    VENUE_REJECTED = "venue_rejected"
    VENUE_UNAVAILABLE = "venue_unavailable"
    RATE_LIMITED = "rate_limited"
    OUTCOME_UNKNOWN = "outcome_unknown"
    UNAVAILABLE = "unavailable"  # runner not ready / shutting down
    INTERNAL = "internal"
    FORBIDDEN = "forbidden"  # the client's key lacks the role (read/trade/admin) the method needs
    RISK_REJECTED = "risk_rejected"  # the runner's pre-trade risk gate refused the order (docs/risk.md)


class CoreApiError(Exception):
    """``retryable`` is the class's default; an error reply's own ``retryable`` overrides it
    (e.g. ``rate_limited`` from a ban is not retryable)."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        venue_code: str = "",
        venue_message: str = "",
        retryable: bool | None = None,
        reject_code: RejectCode | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.venue_code = venue_code
        self.venue_message = venue_message
        self.reject_code = reject_code  # a refusal's reason in the model's vocabulary
        if retryable is not None:
            self.retryable = retryable


class RequestTimeout(CoreApiError):
    retryable = True


class RunnerUnavailable(CoreApiError):
    retryable = True


class ProtocolMismatch(CoreApiError):
    pass


class Forbidden(CoreApiError):
    pass


class InvalidRequest(CoreApiError):
    pass


class RiskRejected(CoreApiError):
    """The runner's risk gate refused the order (never sent); ``message`` is one line naming the
    limit and its numbers. Not retryable: the same order is refused again until the limits,
    the trading state or the account change."""


class NotFound(InvalidRequest):
    pass


class VenueRejected(CoreApiError):
    pass


class VenueUnavailable(CoreApiError):
    retryable = True


class OutcomeUnknown(CoreApiError):
    pass


class RunnerInternalError(CoreApiError):
    pass


_BY_CODE: dict[ErrorCode, type[CoreApiError]] = {
    ErrorCode.DECODE_ERROR: InvalidRequest,
    ErrorCode.BAD_FRAME: InvalidRequest,
    ErrorCode.VERSION_MISMATCH: ProtocolMismatch,
    ErrorCode.UNKNOWN_METHOD: InvalidRequest,
    ErrorCode.INVALID_PARAMS: InvalidRequest,
    ErrorCode.UNKNOWN_INSTRUMENT: InvalidRequest,
    ErrorCode.OVERSIZED: InvalidRequest,
    ErrorCode.NOT_FOUND: NotFound,
    ErrorCode.VENUE_REJECTED: VenueRejected,
    ErrorCode.VENUE_UNAVAILABLE: VenueUnavailable,
    ErrorCode.RATE_LIMITED: VenueUnavailable,
    ErrorCode.OUTCOME_UNKNOWN: OutcomeUnknown,
    ErrorCode.UNAVAILABLE: RunnerUnavailable,
    ErrorCode.INTERNAL: RunnerInternalError,
    ErrorCode.FORBIDDEN: Forbidden,
    ErrorCode.RISK_REJECTED: RiskRejected,
}


def error_class(code: ErrorCode) -> type[CoreApiError]:
    return _BY_CODE.get(code, RunnerInternalError)
