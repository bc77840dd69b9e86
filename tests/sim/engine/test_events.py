"""Event delivery: order within a call, snapshots, re-entrant listeners, failing listeners."""

from __future__ import annotations

from decimal import Decimal as D

from exchanges.sim.engine import (
    BalancesChanged,
    BookUpdated,
    ExecType,
    OrderChanged,
    SimEvent,
    SimVenue,
    TradeExecuted,
)
from strategy_client.model import MarketKind, OrderStatus, Side

from .helpers import best, limit, market

SPOT, PERP = MarketKind.SPOT, MarketKind.PERP


def names(events: list[SimEvent]) -> list[str]:
    out = []
    for e in events:
        if isinstance(e, OrderChanged):
            out.append(f"{e.account}:{e.exec_type.value.upper()}")
        else:
            out.append(type(e).__name__)
    return out


def test_order_of_events_in_a_sweep(venue: SimVenue, events: list[SimEvent]) -> None:
    _, ask = best(venue, SPOT)
    limit(venue, "bob", SPOT, Side.SELL, "0.1", ask - D("0.01"))
    events.clear()
    market(venue, "alice", SPOT, Side.BUY, "0.3")
    assert names(events) == [
        "alice:NEW",
        "TradeExecuted",
        "bob:TRADE",
        "alice:TRADE",  # bob's order is the maker
        "TradeExecuted",
        "alice:TRADE",  # the market maker's quote
        "BalancesChanged",
        "BalancesChanged",
        "BookUpdated",
    ]
    accounts = [e.account for e in events if isinstance(e, BalancesChanged)]
    assert accounts == ["bob", "alice"]


def test_order_snapshots_are_taken_at_each_event(venue: SimVenue, events: list[SimEvent]) -> None:
    o = market(venue, "alice", SPOT, Side.BUY, "0.7")
    snaps = [e.order for e in events if isinstance(e, OrderChanged)]
    assert [s.executed_qty for s in snaps] == [D("0"), D("0.5"), D("0.7")]
    assert [len(s.fills) for s in snaps] == [0, 1, 2]
    fills = [e.fill for e in events if isinstance(e, OrderChanged) and e.exec_type is ExecType.TRADE]
    assert fills == o.fills


def test_trade_events_and_tape(venue: SimVenue, events: list[SimEvent]) -> None:
    bid, _ = best(venue, PERP)
    market(venue, "alice", PERP, Side.SELL, "0.2")
    trades = [e.trade for e in events if isinstance(e, TradeExecuted)]
    assert len(trades) == 1 and trades[0].price == bid and trades[0].buyer_is_maker
    assert venue.recent_trades(PERP, "BTCUSDT") == trades
    assert venue.recent_trades(PERP, "BTCUSDT", 0) == []


def test_reentrant_listener_keeps_a_total_order(venue: SimVenue) -> None:
    seen: list[SimEvent] = []

    def hedge(ev: SimEvent) -> None:
        seen.append(ev)
        if isinstance(ev, OrderChanged) and ev.account == "alice" and ev.order.status is OrderStatus.FILLED:
            venue.place_order(
                "bob",
                ev.order.kind,
                ev.order.symbol,
                Side.SELL,
                ev.order.type,
                ev.order.tif,
                D("0.1"),
                None,
                "",
            )

    venue.listen(hedge)
    market(venue, "alice", SPOT, Side.BUY, "0.1")
    order_names = names(seen)
    # alice's whole call is delivered before bob's hedge events start
    assert order_names.index("BookUpdated") < order_names.index("bob:NEW")
    assert order_names.count("BookUpdated") == 2
    assert venue.spot_balances("bob")["BTC"][0] == D("0.9")


def test_failing_listener_is_counted_and_others_still_hear(venue: SimVenue) -> None:
    heard: list[SimEvent] = []

    def broken(ev: SimEvent) -> None:
        raise RuntimeError("listener bug")

    venue.listen(broken)
    venue.listen(heard.append)
    o = market(venue, "alice", SPOT, Side.BUY, "0.1")
    assert o.status is OrderStatus.FILLED
    assert venue.listener_errors == len(heard) > 0


def test_unsubscribe(venue: SimVenue) -> None:
    heard: list[SimEvent] = []
    stop = venue.listen(heard.append)
    market(venue, "alice", SPOT, Side.BUY, "0.1")
    n = len(heard)
    stop()
    stop()  # idempotent
    market(venue, "alice", SPOT, Side.BUY, "0.1")
    assert len(heard) == n


def test_book_updated_lists_changed_levels(venue: SimVenue, events: list[SimEvent]) -> None:
    before = venue.book(SPOT, "ETHUSDT", 1).update_id
    o = limit(venue, "alice", SPOT, Side.BUY, "0.5", "2500", symbol="ETHUSDT")
    ups = [e for e in events if isinstance(e, BookUpdated)]
    assert len(ups) == 1
    assert ups[0].bids == [(D("2500"), D("0.5"))] and ups[0].asks == []
    assert ups[0].first_update_id == ups[0].update_id == before + 1 == ups[0].prev_update_id + 1
    venue.cancel_order("alice", SPOT, "ETHUSDT", order_id=o.order_id)
    assert [e.bids for e in events if isinstance(e, BookUpdated)][-1] == [(D("2500"), D("0"))]
