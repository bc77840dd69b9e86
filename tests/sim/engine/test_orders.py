"""Order lifecycle: statuses, cumulative fields, client ids, queries, cancels, self-trades."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.sim.engine import (
    ExecType,
    ExpireReason,
    OrderChanged,
    RejectReason,
    SimEvent,
    SimReject,
    SimVenue,
)
from strategy_client.model import MarketKind, OrderStatus, OrderType, Side, TimeInForce

from .helpers import best, limit, make_venue, market, of_type

SPOT, PERP = MarketKind.SPOT, MarketKind.PERP


def order_events(events: list[SimEvent], order_id: int) -> list[OrderChanged]:
    return [e for e in of_type(events, OrderChanged) if e.order.order_id == order_id]  # type: ignore[union-attr]


def test_market_order_walks_levels_with_consistent_cumulative_fields(
    venue: SimVenue, events: list[SimEvent]
) -> None:
    asks = venue.book(SPOT, "BTCUSDT", 3).asks
    o = market(venue, "alice", SPOT, Side.BUY, "1.2")
    assert o.status is OrderStatus.FILLED
    assert [f.price for f in o.fills] == [asks[0][0], asks[1][0], asks[2][0]]
    assert [f.qty for f in o.fills] == [D("0.5"), D("0.5"), D("0.2")]
    assert o.executed_qty == sum(f.qty for f in o.fills) == D("1.2")
    assert o.cum_quote == sum(f.price * f.qty for f in o.fills)
    assert o.avg_price == o.cum_quote / o.executed_qty
    assert all(not f.is_maker for f in o.fills)
    kinds = [e.exec_type for e in order_events(events, o.order_id)]
    assert kinds == [ExecType.NEW, ExecType.TRADE, ExecType.TRADE, ExecType.TRADE]
    statuses = [e.order.status for e in order_events(events, o.order_id)]
    assert statuses == [
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]


def test_limit_partial_fill_then_rests_then_cancel(venue: SimVenue, events: list[SimEvent]) -> None:
    _, ask = best(venue, SPOT)
    o = limit(venue, "alice", SPOT, Side.BUY, "0.8", ask, cid="p1")
    assert o.status is OrderStatus.PARTIALLY_FILLED
    assert o.executed_qty == D("0.5")
    assert venue.book(SPOT, "BTCUSDT", 1).bids[0] == (ask, D("0.3"))
    assert [x.order_id for x in venue.open_orders("alice", SPOT, "BTCUSDT")] == [o.order_id]
    c = venue.cancel_order("alice", SPOT, "BTCUSDT", client_order_id="p1")
    assert c.status is OrderStatus.CANCELED
    assert c.executed_qty == D("0.5")
    assert venue.open_orders("alice", SPOT) == []
    assert venue.get_order("alice", SPOT, "BTCUSDT", o.order_id).status is OrderStatus.CANCELED
    kinds = [e.exec_type for e in order_events(events, o.order_id)]
    assert kinds == [ExecType.NEW, ExecType.TRADE, ExecType.CANCELED]
    with pytest.raises(SimReject) as info:
        venue.cancel_order("alice", SPOT, "BTCUSDT", order_id=o.order_id)
    assert info.value.reason is RejectReason.UNKNOWN_ORDER


def test_ioc_leftover_expires(venue: SimVenue, events: list[SimEvent]) -> None:
    _, ask = best(venue, SPOT)
    o = limit(venue, "alice", SPOT, Side.BUY, "0.7", ask, tif=TimeInForce.IOC)
    assert o.status is OrderStatus.EXPIRED
    assert o.expire_reason is ExpireReason.IOC_REMAINDER
    assert o.executed_qty == D("0.5")
    assert [e.exec_type for e in order_events(events, o.order_id)] == [
        ExecType.NEW,
        ExecType.TRADE,
        ExecType.EXPIRED,
    ]
    assert venue.book(SPOT, "BTCUSDT", 1).bids[0][0] < ask  # nothing rested
    nothing = limit(venue, "alice", SPOT, Side.BUY, "0.1", "50000", tif=TimeInForce.IOC)
    assert nothing.status is OrderStatus.EXPIRED and nothing.executed_qty == 0


def test_fok_fills_completely(venue: SimVenue) -> None:
    asks = venue.book(SPOT, "BTCUSDT", 2).asks
    o = limit(venue, "alice", SPOT, Side.BUY, "0.9", asks[1][0], tif=TimeInForce.FOK)
    assert o.status is OrderStatus.FILLED and o.executed_qty == D("0.9")


def test_post_only_rests_as_maker(venue: SimVenue) -> None:
    bid, ask = best(venue, SPOT)
    o = limit(venue, "alice", SPOT, Side.SELL, "0.1", ask - D("0.01"), tif=TimeInForce.POST_ONLY)
    assert o.status is OrderStatus.NEW
    fill = market(venue, "bob", SPOT, Side.BUY, "0.1")
    assert fill.fills[0].price == ask - D("0.01")
    done = venue.get_order("alice", SPOT, "BTCUSDT", o.order_id)
    assert done.status is OrderStatus.FILLED and done.fills[0].is_maker
    assert bid < ask


def test_client_ids_unique_among_open_orders_only(venue: SimVenue) -> None:
    a = limit(venue, "alice", SPOT, Side.BUY, "0.01", "50000", cid="same")
    with pytest.raises(SimReject) as info:
        limit(venue, "alice", SPOT, Side.BUY, "0.01", "50001", cid="same")
    assert info.value.reason is RejectReason.DUPLICATE_CLIENT_ID
    # another account, another kind or another symbol may use it
    limit(venue, "bob", SPOT, Side.BUY, "0.01", "50000", cid="same")
    limit(venue, "alice", PERP, Side.BUY, "0.01", "50000", cid="same")
    limit(venue, "alice", SPOT, Side.BUY, "0.01", "2000", cid="same", symbol="ETHUSDT")
    venue.cancel_order("alice", SPOT, "BTCUSDT", order_id=a.order_id)
    b = limit(venue, "alice", SPOT, Side.BUY, "0.01", "50002", cid="same")  # reuse after final
    assert venue.get_order("alice", SPOT, "BTCUSDT", client_order_id="same").order_id == b.order_id
    assert venue.get_order("alice", SPOT, "BTCUSDT", order_id=a.order_id).status is OrderStatus.CANCELED


def test_get_order_checks_owner_and_ids(venue: SimVenue) -> None:
    o = limit(venue, "alice", SPOT, Side.BUY, "0.01", "50000", cid="mine")
    for kwargs in (
        {"account": "bob", "kind": SPOT, "symbol": "BTCUSDT", "order_id": o.order_id},
        {"account": "alice", "kind": PERP, "symbol": "BTCUSDT", "order_id": o.order_id},
        {"account": "alice", "kind": SPOT, "symbol": "ETHUSDT", "order_id": o.order_id},
        {
            "account": "alice",
            "kind": SPOT,
            "symbol": "BTCUSDT",
            "order_id": o.order_id,
            "client_order_id": "other",
        },
        {"account": "alice", "kind": SPOT, "symbol": "BTCUSDT", "client_order_id": "nope"},
    ):
        with pytest.raises(SimReject) as info:
            venue.get_order(**kwargs)  # type: ignore[arg-type]
        assert info.value.reason is RejectReason.UNKNOWN_ORDER
    with pytest.raises(SimReject) as info:
        venue.get_order("alice", SPOT, "BTCUSDT")
    assert info.value.reason is RejectReason.INVALID_ORDER


def test_generated_client_id_and_snapshots_are_independent(venue: SimVenue) -> None:
    o = limit(venue, "alice", SPOT, Side.BUY, "0.01", "50000")
    assert o.client_order_id == f"sim-{o.order_id}"
    o.status = OrderStatus.FILLED  # a caller scribbling on its copy changes nothing
    assert venue.get_order("alice", SPOT, "BTCUSDT", o.order_id).status is OrderStatus.NEW


def test_cancel_all(venue: SimVenue) -> None:
    ids = {limit(venue, "alice", PERP, Side.BUY, "0.01", str(50000 + i)).order_id for i in range(3)}
    limit(venue, "alice", PERP, Side.BUY, "0.01", "2000", symbol="ETHUSDT")
    done = venue.cancel_all("alice", PERP, "BTCUSDT")
    assert {o.order_id for o in done} == ids
    assert all(o.status is OrderStatus.CANCELED for o in done)
    assert len(venue.open_orders("alice", PERP)) == 1
    assert venue.futures_account("alice").open_order_initial_margin > 0


def test_self_trade_expires_the_resting_order(venue: SimVenue, events: list[SimEvent]) -> None:
    _, ask = best(venue, SPOT)
    mine = limit(venue, "alice", SPOT, Side.SELL, "0.1", ask - D("0.01"))
    o = market(venue, "alice", SPOT, Side.BUY, "0.2")
    assert o.status is OrderStatus.FILLED
    assert all(f.price >= ask for f in o.fills)  # never traded with itself
    gone = venue.get_order("alice", SPOT, "BTCUSDT", mine.order_id)
    assert gone.status is OrderStatus.EXPIRED and gone.expire_reason is ExpireReason.SELF_TRADE
    assert venue.spot_balances("alice")["BTC"][1] == 0  # the lock was released


def test_quote_qty_market_buy(venue: SimVenue) -> None:
    usdt_before = venue.spot_balances("alice")["USDT"][0]
    o = venue.place_order(
        "alice",
        SPOT,
        "BTCUSDT",
        Side.BUY,
        OrderType.MARKET,
        TimeInForce.GTC,
        None,
        None,
        "q",
        quote_qty=D("45000"),
    )
    assert o.status is OrderStatus.FILLED
    assert o.qty == o.executed_qty
    assert o.quote_qty == D("45000")
    assert o.cum_quote <= D("45000")
    ask = venue.book(SPOT, "BTCUSDT", 1).asks[0][0]
    assert D("45000") - o.cum_quote < ask * D("0.00001") * 2  # spent to within a step
    assert venue.spot_balances("alice")["USDT"][0] == usdt_before - o.cum_quote
    with pytest.raises(SimReject) as info:
        venue.place_order(
            "alice",
            SPOT,
            "BTCUSDT",
            Side.BUY,
            OrderType.MARKET,
            TimeInForce.GTC,
            None,
            None,
            "",
            quote_qty=D("1000000"),
        )
    assert info.value.reason is RejectReason.INSUFFICIENT_BALANCE  # the whole book costs ~600k


def test_market_order_on_an_empty_book_expires(venue: SimVenue) -> None:
    venue.set_liquidity(SPOT, "ETHUSDT", D("0"))
    o = market(venue, "alice", SPOT, Side.SELL, "1", symbol="ETHUSDT")
    assert o.status is OrderStatus.EXPIRED and o.executed_qty == 0
    assert o.expire_reason is ExpireReason.BOOK_EXHAUSTED


def test_user_to_user_trade_conserves_quantity(venue: SimVenue, events: list[SimEvent]) -> None:
    bid, ask = best(venue, SPOT)
    mid = ((bid + ask) / 2).quantize(D("0.01"))
    m = limit(venue, "bob", SPOT, Side.SELL, "0.3", mid)
    t = limit(venue, "alice", SPOT, Side.BUY, "0.3", mid)
    assert t.status is OrderStatus.FILLED
    maker = venue.get_order("bob", SPOT, "BTCUSDT", m.order_id)
    assert maker.status is OrderStatus.FILLED
    assert maker.fills[0].trade_id == t.fills[0].trade_id
    assert maker.fills[0].is_maker and not t.fills[0].is_maker
    tape = venue.recent_trades(SPOT, "BTCUSDT")
    assert tape[-1].maker_order_id == m.order_id and tape[-1].taker_order_id == t.order_id
    assert tape[-1].buyer_is_maker is False
    assert [f.trade_id for f in venue.trades("bob", SPOT, "BTCUSDT")] == [t.fills[0].trade_id]


def test_all_orders_lists_open_and_final(venue: SimVenue) -> None:
    a = limit(venue, "alice", SPOT, Side.BUY, "0.01", "50000")
    b = market(venue, "alice", SPOT, Side.BUY, "0.01")
    c = limit(venue, "alice", SPOT, Side.BUY, "0.01", "50001")
    venue.cancel_order("alice", SPOT, "BTCUSDT", order_id=c.order_id)
    limit(venue, "bob", SPOT, Side.BUY, "0.01", "50000")
    got = venue.all_orders("alice", SPOT, "BTCUSDT")
    assert [(o.order_id, o.status) for o in got] == [
        (a.order_id, OrderStatus.NEW),
        (b.order_id, OrderStatus.FILLED),
        (c.order_id, OrderStatus.CANCELED),
    ]
    assert [o.order_id for o in venue.all_orders("alice", SPOT, "BTCUSDT", limit=2)] == [
        b.order_id,
        c.order_id,
    ]
    assert [
        o.order_id for o in venue.all_orders("alice", SPOT, "BTCUSDT", from_order_id=b.order_id, limit=1)
    ] == [b.order_id]


def test_final_orders_are_forgotten_oldest_first() -> None:
    small, _ = make_venue(max_final_orders=2)
    ids = [market(small, "alice", SPOT, Side.BUY, "0.001").order_id for _ in range(3)]
    with pytest.raises(SimReject) as info:
        small.get_order("alice", SPOT, "BTCUSDT", ids[0])
    assert info.value.reason is RejectReason.UNKNOWN_ORDER
    assert [o.order_id for o in small.all_orders("alice", SPOT, "BTCUSDT")] == ids[1:]
    assert small.get_order("alice", SPOT, "BTCUSDT", ids[2]).status is OrderStatus.FILLED


def test_quote_qty_market_sell(venue: SimVenue) -> None:
    bids = venue.book(SPOT, "BTCUSDT", 2).bids
    o = venue.place_order(
        "alice",
        SPOT,
        "BTCUSDT",
        Side.SELL,
        OrderType.MARKET,
        TimeInForce.GTC,
        None,
        None,
        "",
        quote_qty=D("45000"),
    )
    assert o.status is OrderStatus.FILLED
    assert [f.price for f in o.fills] == [bids[0][0], bids[1][0]]
    assert o.cum_quote <= D("45000") < o.cum_quote + bids[1][0] * D("0.00001")
    assert venue.spot_balances("alice")["BTC"] == (D("1") - o.executed_qty, D("0"))
