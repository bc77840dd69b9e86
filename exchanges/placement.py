"""Placement with an unknown outcome, the venue-agnostic part: find the order, never resend.

Every adapter places with a client id. When the outcome is unknown (timeout, 5xx, dropped
connection, a duplicate-id refusal) it looks the order up by that id a few times with backoff
(:func:`search_placed`); an order found under the id must be the one asked for
(:func:`order_matches`), otherwise the id belongs to someone else. What a "not found" finally
proves differs by venue, so that last step stays in each adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

from strategy_client.model import Order, OrderRequest, OrderType

from .errors import ExchangeError, RateLimited, ServiceUnavailable, TransportError, UnknownOutcome

__all__ = ["TRANSIENT", "Search", "order_matches", "foreign_id_detail", "search_placed", "outcome_unknown"]

#: Failures of a lookup that say nothing about the order: try again.
TRANSIENT = (TransportError, UnknownOutcome, ServiceUnavailable, RateLimited)


class Search(NamedTuple):
    order: Order | None  # ours, found by client id
    not_found: bool  # at least one lookup answered "no such order"
    last: ExchangeError | None  # the last transient failure, if any


def order_matches(order: Order, request: OrderRequest) -> bool:
    """Is ``order`` (found by client id) the one ``request`` asked for?"""
    if order.key != request.key or order.side is not request.side or order.type is not request.type:
        return False
    if order.qty != request.qty:
        return False
    return request.type is OrderType.MARKET or order.price == request.price


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
