"""Placement with an unknown outcome, the venue-agnostic part: find the order, never resend.

Every adapter places with a client id. When the outcome is unknown (timeout, 5xx, dropped
connection, a duplicate-id refusal) it looks the order up by that id a few times with backoff
(:func:`search_placed`) *within the placement call*; an order found under the id must be the
one asked for (:func:`order_matches`), otherwise the id belongs to someone else. What a "not
found" proves differs by venue, so that step stays in each adapter: only a venue guarantee
(Binance USD-M: after ``timestamp + recvWindow`` the matching engine refuses the request,
-5028) lets an adapter answer "not placed" (REJECTED). Otherwise it raises
:class:`UnknownOutcome` and stops.

From then on the runner's order actor (``exchange_runner.actors.order``) is the single owner of
the order's fate: it marks it UNKNOWN and keeps asking the venue (with backoff, then at a slow
cadence) until the venue says what happened — through the adapter's ``resolve_unknown``
(:class:`exchanges.base.ResolvesUnknown`) when the venue documents how a lost placement is
settled (Bybit: re-send under the same orderLinkId while young; OKX: "not found" after the
request's expTime is final), by client id otherwise. Nothing turns an unknown outcome into a
rejection by a timer alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import NamedTuple, Protocol

from strategy_client.model import InstrumentKey, Order, OrderRequest, OrderStatus, OrderType, RejectCode, Side

from .errors import ExchangeError, RateLimited, ServiceUnavailable, TransportError, UnknownOutcome

__all__ = [
    "TRANSIENT",
    "Search",
    "order_matches",
    "foreign_id_detail",
    "search_placed",
    "outcome_unknown",
    "not_placed",
]

#: Failures of a lookup that say nothing about the order: try again.
TRANSIENT = (TransportError, UnknownOutcome, ServiceUnavailable, RateLimited)


class Search(NamedTuple):
    order: Order | None  # ours, found by client id
    not_found: bool  # at least one lookup answered "no such order"
    last: ExchangeError | None  # the last transient failure, if any


class _Asked(Protocol):
    """What was asked for: an ``OrderRequest``, or the ``Order`` the runner tracks for it."""

    @property
    def key(self) -> InstrumentKey: ...
    @property
    def side(self) -> Side: ...
    @property
    def type(self) -> OrderType: ...
    @property
    def qty(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...


def order_matches(order: Order, request: _Asked) -> bool:
    """Is ``order`` (found by client id) the one ``request`` asked for?"""
    if order.key != request.key or order.side is not request.side or order.type is not request.type:
        return False
    if order.qty != request.qty:
        return False
    return request.type is OrderType.MARKET or order.price == request.price


def not_placed(request: OrderRequest, client_id: str, *, reason: str, created_ms: int, now_ms: int) -> Order:
    """The verdict once a venue guarantee proves the order was never placed: REJECTED with
    :attr:`RejectCode.NOT_PLACED` (nothing filled, no venue id). Only the adapter knows when
    that guarantee holds (Binance USD-M recvWindow, OKX expTime); this is the one way to say it."""
    return Order.from_request(
        request,
        client_id,
        status=OrderStatus.REJECTED,
        created_ts_ms=created_ms,
        updated_ts_ms=now_ms,
        reject_reason=f"not placed: {reason}",
        reject_code=RejectCode.NOT_PLACED,
    )


def foreign_id_detail(client_id: str, order: Order) -> str:
    return (
        f"client id {client_id} belongs to a different order ({order.side} {order.qty} "
        f"@ {order.price}, venue id {order.venue_id}, {order.status})"
    )


async def search_placed(
    lookup: Callable[[], Awaitable[Order | None]],
    *,
    attempts: int,
    backoff_s: float,
    sleep: Callable[[float], Awaitable[None]],
) -> Search:
    """Up to ``attempts`` lookups, waiting ``backoff_s × 2^n`` before each; stops at the order."""
    not_found = False
    last: ExchangeError | None = None
    for attempt in range(attempts):
        await sleep(backoff_s * (2**attempt))
        try:
            order = await lookup()
        except TRANSIENT as exc:
            last = exc
            continue
        if order is not None:
            return Search(order, not_found, last)
        not_found = True
    return Search(None, not_found, last)


def outcome_unknown(client_id: str, cause: ExchangeError, last: ExchangeError | None, venue: str) -> UnknownOutcome:
    return UnknownOutcome(
        f"order {client_id}: outcome unknown after reconciliation (cause: {cause}; last: {last or cause}) "
        "— reconcile before resending",
        venue=venue,
    )
