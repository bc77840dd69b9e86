"""The client's exception tree (defined with the wire protocol, re-exported here)."""

from .wire.errors import (
    CoreApiError,
    ErrorCode,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    ProtocolMismatch,
    RequestTimeout,
    RunnerInternalError,
    RunnerUnavailable,
    VenueRejected,
    VenueUnavailable,
)

__all__ = [
    "CoreApiError",
    "ErrorCode",
    "InvalidRequest",
    "NotFound",
    "OutcomeUnknown",
    "ProtocolMismatch",
    "RequestTimeout",
    "RunnerInternalError",
    "RunnerUnavailable",
    "VenueRejected",
    "VenueUnavailable",
]
