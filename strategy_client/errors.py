"""The client's exception tree: the wire's (see :mod:`strategy_client.wire.errors`) plus the
few errors only a client can raise. Everything a CoreApi call raises is a :class:`CoreApiError`::

    CoreApiError
    ├── RequestTimeout        no reply within the call's timeout (retryable); never raised for
    │                         submit_order/cancel_order, whose unanswered calls are OutcomeUnknown
    ├── RunnerUnavailable     no runner registered / runner gone / not connected (retryable)
    │   └── DiscoveryError    Redis (the runner directory) could not be read
    ├── ProtocolMismatch      client and runner speak different protocol versions (names both)
    ├── InvalidRequest        bad argument, unknown method, bad params, unknown instrument
    │   ├── NotFound          the order (or other object) asked for does not exist
    │   └── AmbiguousRoute    several runners serve the exchange: bind one or address it by name
    ├── VenueRejected         the venue refused (``venue_code``, ``venue_message``)
    ├── RiskRejected          the runner's pre-trade risk gate refused the order (never sent);
    │                         the message names the limit and its numbers (docs/risk.md)
    ├── VenueUnavailable      the venue could not be reached / rate limited (retryable)
    ├── OutcomeUnknown        an order command may have reached the venue and its answer is lost
    │                         (the runner's timeout, or this client's own timeout or lost
    │                         connection): never resend; the runner tracks the order (UNKNOWN)
    │                         until the venue says — watch the exec topic or call get_order
    ├── RunnerInternalError   a bug in the runner; the runner keeps running
    └── BadReply              the runner's reply could not be decoded or was of the wrong type

``err.retryable`` says whether the same call may simply be made again (the runner's reply
decides when it sent one); ``err.code`` is the runner's :class:`ErrorCode` when the runner
answered with an error.
"""

from __future__ import annotations

from .wire.errors import (
    CoreApiError,
    ErrorCode,
    Forbidden,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    ProtocolMismatch,
    RequestTimeout,
    RiskRejected,
    RunnerInternalError,
    RunnerUnavailable,
    VenueRejected,
    VenueUnavailable,
)

__all__ = [
    "AmbiguousRoute",
    "BadReply",
    "CoreApiError",
    "DiscoveryError",
    "ErrorCode",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "OutcomeUnknown",
    "ProtocolMismatch",
    "RequestTimeout",
    "RiskRejected",
    "RunnerInternalError",
    "RunnerUnavailable",
    "VenueRejected",
    "VenueUnavailable",
]


class DiscoveryError(RunnerUnavailable):
    """The runner directory (Redis) could not be read."""


class AmbiguousRoute(InvalidRequest):
    """Several runners serve one exchange and none is bound to it."""


class BadReply(CoreApiError):
    """A reply that could not be decoded, or not the reply type the request calls for."""
