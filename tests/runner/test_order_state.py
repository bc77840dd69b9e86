from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from exchange_runner.actors.order_state import OrderTable, merge_order
from exchanges.base import ExecType
from strategy_client.model import (
    FINAL_STATUSES,
    Exchange,
    Fill,
    InstrumentKey,
    MarketKind,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.wire import OrderEventKind

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
D = Decimal


def order(status: OrderStatus, filled: str = "0", cid: str = "c1", vid: str = "9") -> Order:
    return Order(
        key=KEY,
        client_id=cid,
        venue_id=vid,
        side=Side.BUY,
        type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        price=D("100"),
        qty=D("1"),
        filled_qty=D(filled),
        status=status,
    )


def fill(tid: str, qty: str) -> Fill:
    return Fill(
        key=KEY,
        client_id="c1",
        venue_id="9",
        trade_id=tid,
        side=Side.BUY,
        price=D("100"),
        qty=D(qty),
        fee=D("0.01"),
        fee_asset="USDT",
        is_maker=True,
        ts_ms=1,
    )


def test_lifecycle_events_in_order() -> None:
    book = OrderTable()
    book.track(order(OrderStatus.PENDING, vid=""))
    ev = book.apply(order(OrderStatus.NEW))
    assert ev is not None and ev.kind is OrderEventKind.NEW
    ev = book.apply(order(OrderStatus.PARTIALLY_FILLED, "0.4"), fill("t1", "0.4"), ExecType.TRADE)
    assert ev is not None and ev.kind is OrderEventKind.PARTIAL_FILL and ev.fill is not None
    # the same fill again (e.g. replayed after reconnect) is not reported twice
    assert book.apply(order(OrderStatus.PARTIALLY_FILLED, "0.4"), fill("t1", "0.4"), ExecType.TRADE) is None
    ev = book.apply(order(OrderStatus.FILLED, "1"), fill("t2", "0.6"), ExecType.TRADE)
    assert ev is not None and ev.kind is OrderEventKind.FILL
    assert book.get("c1") is not None and book.get("c1").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert book.open_orders() == []
    assert book.accounted_fill_qty["c1"] == D("1")


def test_stale_updates_never_move_an_order_back() -> None:
    book = OrderTable()
    book.apply(order(OrderStatus.PARTIALLY_FILLED, "0.5"))
    assert book.apply(order(OrderStatus.NEW)) is None
    book.apply(order(OrderStatus.CANCELED, "0.5"))
    assert book.apply(order(OrderStatus.PARTIALLY_FILLED, "0.5")) is None
    assert book.get("c1").status is OrderStatus.CANCELED  # type: ignore[union-attr]


def test_venue_id_kept_when_a_later_update_lacks_it() -> None:
    merged = merge_order(order(OrderStatus.NEW, vid="42"), order(OrderStatus.CANCELED, vid=""))
    assert merged is not None and merged.venue_id == "42"


statuses = st.sampled_from(list(OrderStatus))


@given(st.lists(st.tuples(statuses, st.integers(0, 10)), max_size=30))
def test_any_update_sequence_is_monotonic(updates: list[tuple[OrderStatus, int]]) -> None:
    book = OrderTable()
    last_filled = D(0)
    final_seen: OrderStatus | None = None
    for status, tenths in updates:
        book.apply(order(status, str(D(tenths) / 10)))
        cur = book.get("c1")
        assert cur is not None
        assert cur.filled_qty >= last_filled
        last_filled = cur.filled_qty
        if final_seen is not None:
            assert cur.status is final_seen
        if cur.status.is_final:
            final_seen = cur.status


def test_final_orders_are_bounded() -> None:
    book = OrderTable(keep_final=3)
    for i in range(10):
        book.apply(msgspec.structs.replace(order(OrderStatus.FILLED, "1"), client_id=f"c{i}", venue_id=str(i)))
    assert len(book.final) == 3 and book.get("c0") is None and book.get("c9") is not None
    assert book.client_id_for("0") is None and book.client_id_for("9") == "c9"


def test_unknown_is_left_only_for_what_the_venue_says() -> None:
    book = OrderTable()
    book.track(order(OrderStatus.PENDING, vid=""))
    assert book.open_orders() == []  # a placement in flight is not listed
    ev = book.mark_unknown("c1", 5)
    assert ev is not None and ev.kind is OrderEventKind.UNKNOWN and ev.order.status is OrderStatus.UNKNOWN
    assert [o.client_id for o in book.open_orders()] == ["c1"]  # it may rest at the venue: listed
    assert book.mark_unknown("c1", 6) is None  # once
    assert book.apply(order(OrderStatus.PENDING, vid="")) is None  # never back to PENDING
    ev = book.apply(order(OrderStatus.NEW))
    assert ev is not None and ev.kind is OrderEventKind.NEW and ev.order.status is OrderStatus.NEW
    assert book.mark_unknown("c1", 7) is None  # the venue spoke: no longer unknown
    ev = book.apply(order(OrderStatus.FILLED, "1"), fill("t1", "1"), ExecType.TRADE)
    assert ev is not None and ev.kind is OrderEventKind.FILL


@given(st.sampled_from([OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, *sorted(FINAL_STATUSES)]))
def test_any_venue_answer_moves_unknown_forward(status: OrderStatus) -> None:
    known = msgspec.structs.replace(order(OrderStatus.UNKNOWN, vid=""), status=OrderStatus.UNKNOWN)
    filled = "0.5" if status is OrderStatus.PARTIALLY_FILLED else "1" if status is OrderStatus.FILLED else "0"
    merged = merge_order(known, order(status, filled))
    assert merged is not None and merged.status is status
    assert merge_order(order(status, filled), known) is None  # and nothing moves back to UNKNOWN
