"""Amend of a resting LIMIT order: priority kept on a resize down, lost on a new price or a
larger size, a crossing price trades, funds and margin follow, refusals change nothing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.sim.engine import ExecType, OrderChanged, RejectReason, SimEvent, SimReject, SimVenue
from strategy_client.model import MarketKind, OrderStatus, Side, TimeInForce

from .helpers import best, limit, market, of_type

SPOT, PERP = MarketKind.SPOT, MarketKind.PERP


def _level_queue(venue: SimVenue, kind: MarketKind, side: Side, price: D) -> list[int]:
    """Order ids resting at ``price`` in queue order (engine internals: the test's one peek)."""
    book = venue._core.books[(kind, "BTCUSDT")]
    return [e.order.order_id for e in book.side(side).queues.get(price, []) if e.order is not None and e.qty > 0]


def test_resize_down_keeps_priority_new_price_or_more_loses_it(venue: SimVenue, events: list[SimEvent]) -> None:
    bid, _ = best(venue, PERP)
    price = bid - 50
    first = limit(venue, "alice", PERP, Side.BUY, "0.3", price)
    second = limit(venue, "bob", PERP, Side.BUY, "0.3", price)
    smaller = venue.amend_order("alice", PERP, "BTCUSDT", order_id=first.order_id, qty=D("0.2"))
    assert smaller.qty == D("0.2") and smaller.order_id == first.order_id
    assert _level_queue(venue, PERP, Side.BUY, price) == [first.order_id, second.order_id]
    venue.amend_order("alice", PERP, "BTCUSDT", order_id=first.order_id, qty=D("0.4"))
    assert _level_queue(venue, PERP, Side.BUY, price) == [second.order_id, first.order_id]
    moved = venue.amend_order("alice", PERP, "BTCUSDT", client_order_id=None, order_id=first.order_id, price=price - 10)
    assert moved.price == price - 10 and _level_queue(venue, PERP, Side.BUY, price) == [second.order_id]
    amended = [e for e in of_type(events, OrderChanged) if e.exec_type is ExecType.AMENDED]  # type: ignore[union-attr]
    assert len(amended) == 3 and amended[-1].order.price == price - 10  # type: ignore[union-attr]
    assert venue.get_order("alice", PERP, "BTCUSDT", order_id=first.order_id).qty == D("0.4")


def test_crossing_price_trades_as_taker_and_spot_lock_follows(venue: SimVenue) -> None:
    bid, ask = best(venue, SPOT)
    before = venue.spot_balances("alice")["USDT"]
    order = limit(venue, "alice", SPOT, Side.BUY, "0.1", bid - 100)
    assert venue.spot_balances("alice")["USDT"][1] == before[1] + D("0.1") * (bid - 100)
    done = venue.amend_order("alice", SPOT, "BTCUSDT", order_id=order.order_id, price=ask + 100)
    assert done.status is OrderStatus.FILLED and done.fills[0].price == ask and not done.fills[0].is_maker
    assert venue.spot_balances("alice")["USDT"][1] == before[1]  # nothing left locked


def test_refusals_change_nothing(venue: SimVenue) -> None:
    bid, ask = best(venue, PERP)
    post = limit(venue, "alice", PERP, Side.BUY, "0.2", bid - 20, tif=TimeInForce.POST_ONLY)
    cases = [
        (dict(order_id=post.order_id, price=ask + 10), RejectReason.POST_ONLY_WOULD_TAKE),
        (dict(order_id=post.order_id, qty=D("0.2")), RejectReason.INVALID_ORDER),  # unchanged
        (dict(order_id=post.order_id, qty=D("0.0001")), RejectReason.LOT_SIZE),
        (dict(order_id=post.order_id, qty=D("900")), RejectReason.INSUFFICIENT_MARGIN),
        (dict(order_id=999_999, qty=D("0.1")), RejectReason.UNKNOWN_ORDER),
    ]
    for kwargs, reason in cases:
        with pytest.raises(SimReject) as info:
            venue.amend_order("alice", PERP, "BTCUSDT", **kwargs)  # type: ignore[arg-type]
        assert info.value.reason is reason, kwargs
        now = venue.get_order("alice", PERP, "BTCUSDT", order_id=post.order_id)
        assert (now.qty, now.price, now.status) == (D("0.2"), bid - 20, OrderStatus.NEW)
    filled = market(venue, "alice", PERP, Side.SELL, "0.01")
    with pytest.raises(SimReject) as info:
        venue.amend_order("alice", PERP, "BTCUSDT", order_id=filled.order_id, qty=D("0.02"))
    assert info.value.reason is RejectReason.UNKNOWN_ORDER
