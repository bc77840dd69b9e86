"""One vocabulary for what happens to orders, shared by every venue, the paper venue, the
offline simulators and the runner: why an update was sent (:class:`ExecType`) and why an order
or an order command was refused (:class:`RejectCode`).

Each venue boundary translates into these with a declarative table, never an ``isinstance``
ladder: the adapters' error tree (``exchanges.errors.REJECT_CODES``), the simulator engine's
fine-grained reasons (``exchanges.sim.engine.errors.REJECT_CODES``), and the paper venue, which
raises these codes directly. The wire's ``ErrorCode`` (``strategy_client.wire.errors``) is the
command-level answer; a ``venue_rejected`` reply carries the venue's own code and words beside it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ExecType", "RejectCode"]


class ExecType(StrEnum):
    """Why an order update was sent (the venue's execution type, normalised)."""

    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    AMENDED = "amended"


class RejectCode(StrEnum):
    """Why an order (or a command on one) was refused."""

    UNKNOWN_INSTRUMENT = "unknown_instrument"  # no such symbol / not listed / not a perp
    INVALID = "invalid"  # parameters the venue does not accept (type, tif, leverage, client id...)
    FILTER = "filter"  # tick, step, min/max quantity, min notional, price band
    INSUFFICIENT_FUNDS = "insufficient_funds"  # balance or margin
    NO_LIQUIDITY = "no_liquidity"  # nothing to fill against
    WOULD_TAKE_LIQUIDITY = "would_take_liquidity"  # post-only would cross (an expected outcome)
    NOT_FILLABLE = "not_fillable"  # FOK cannot fill completely (an expected outcome)
    REDUCE_ONLY = "reduce_only"  # would open or increase a position
    DUPLICATE_CLIENT_ID = "duplicate_client_id"  # a live order holds the id: query it, do not resend
    NOT_FOUND = "not_found"  # no such order (cancel/query)
    TOO_MANY_ORDERS = "too_many_orders"  # open-order or rate limit on orders
    AUTH = "auth"  # key, signature or permission refused
    NOT_SENT = "not_sent"  # the runner did not send it (e.g. the caller's deadline passed first)
    NOT_PLACED = "not_placed"  # sent, but the venue's documented deadline passed: it cannot have been placed
    OTHER = "other"  # the venue refused for a reason outside this list (its words say which)
