"""What the manual REPL prints for a failure: one line, its cause named.

``describe_error`` turns any exception a command can raise — a grammar mistake
(:class:`~.commands.CommandError`), a check of the session's own (:class:`SessionError`), an
order no rounding can fit (:class:`~strategy_client.model.FilterViolation`), or the client's
error tree (venue rejection with the venue's code and message, runner unavailable, timeout, ...)
— into the text after ``error:``.
"""

from __future__ import annotations

from strategy_client.errors import (
    AmbiguousRoute,
    BadReply,
    CoreApiError,
    DiscoveryError,
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
from strategy_client.model import FilterViolation

from .commands import CommandError

__all__ = ["SessionError", "describe_error", "error_label"]


class SessionError(Exception):
    """A command the session refuses or could not complete (unknown instrument, halted
    instrument, rejected order, some cancels failed); the message says which and why."""


# most specific first: the first class the error is an instance of names it
_LABELS: tuple[tuple[type[CoreApiError], str], ...] = (
    (RequestTimeout, "timeout"),
    (DiscoveryError, "runner directory unreachable"),
    (RunnerUnavailable, "runner unavailable"),
    (ProtocolMismatch, "protocol mismatch"),
    (AmbiguousRoute, "several runners"),
    (NotFound, "not found"),
    (InvalidRequest, "invalid request"),
    (RiskRejected, "risk rejected"),
    (VenueRejected, "venue rejected"),
    (VenueUnavailable, "venue unavailable"),
    (OutcomeUnknown, "outcome unknown"),
    (RunnerInternalError, "runner internal error"),
    (BadReply, "bad reply from the runner"),
)


def error_label(exc: CoreApiError) -> str:
    for cls, label in _LABELS:
        if isinstance(exc, cls):
            return label
    return "failed"


def describe_error(exc: BaseException) -> str:
    """The text after ``error:`` for ``exc`` (one line)."""
    if isinstance(exc, CommandError | SessionError):
        text = str(exc)
    elif isinstance(exc, FilterViolation):
        text = f"order not sent — {exc}"
    elif isinstance(exc, CoreApiError):
        label = error_label(exc)
        if exc.venue_code:
            text = f"{label} (venue code {exc.venue_code}): {exc.venue_message or exc}"
        else:
            text = f"{label}: {exc.venue_message or exc}"
    else:
        text = f"internal error ({type(exc).__name__}: {exc}); this is a bug in the REPL, please report it"
    return " ".join(text.split())  # one line, whatever the message held
