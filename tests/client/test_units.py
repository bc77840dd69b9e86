"""The client's pure parts: argument checks, sequence verdicts, the queue policy, filters, records."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import msgspec
import pytest

from strategy_client.coerce import check_order
from strategy_client.errors import InvalidRequest
from strategy_client.events import EventFilter, EventQueue, Gap, Received, Snapshot, as_kinds
from strategy_client.model import (
    Exchange,
    Fill,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.model.book import BookLevel
from strategy_client.model.order import InvalidOrderRequest
from strategy_client.records import EventList, to_record
from strategy_client.sequence import SeqTracker, Verdict
from strategy_client.wire import BookEvent, OrderEvent, OrderEventKind, TopicKind

from .helpers import PERP, SPOT


def received(kind: TopicKind, seq: int, event: object = None) -> Received:
    book = OrderBook(
        key=PERP,
        bids=(BookLevel(Decimal("100.5"), Decimal("2")),),
        asks=(BookLevel(Decimal("101.5"), Decimal("1")),),
        venue_ts_ms=1,
        local_ts_ns=2,
    )
    return Received(
        runner="r",
        topic=f"{kind.value}|binance|perp|BTCUSDT|",
        kind=kind,
        exchange=Exchange.BINANCE,
        key=PERP,
        seq=seq,
        sent_ns=10,
        recv_ns=20 + seq,
        event=event or BookEvent(book=book),  # type: ignore[arg-type]
    )


def order_event() -> OrderEvent:
    order = Order(
        key=SPOT,
        client_id="c-1",
        venue_id="9",
        side=Side.BUY,
        type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        price=Decimal("0.00000010"),
        qty=Decimal("3"),
        filled_qty=Decimal("3"),
        status=OrderStatus.FILLED,
    )
    fill = Fill(
        key=SPOT,
        client_id="c-1",
        venue_id="9",
        trade_id="t",
        side=Side.BUY,
        price=Decimal("0.00000010"),
        qty=Decimal("3"),
        fee=Decimal("0.001"),
        fee_asset="BNB",
        is_maker=True,
        ts_ms=5,
    )
    return OrderEvent(kind=OrderEventKind.FILL, order=order, fill=fill)


def test_order_checks_name_the_field() -> None:
    base = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.01"), price=Decimal(100))
    checked = check_order(base)
    assert checked.client_id.startswith("tb-") and len(checked.client_id) <= 36
    assert check_order(checked) is checked  # already valid: no copy
    loose = OrderRequest(key="binance:perp:btcusdt", side="SELL", type="limit", qty="0.5", price=101)  # type: ignore[arg-type]
    fixed = check_order(loose)
    assert fixed.key == PERP and fixed.side is Side.SELL and fixed.qty == Decimal("0.5") and fixed.price == Decimal(101)
    bad: dict[str, dict[str, object]] = {
        "order.qty: floats are not exact": {"qty": 0.5},
        "order.qty: must be a positive number": {"qty": "0"},
        "order.qty: is out of range": {"qty": "1e9999"},
        "order.price: 'abc' is not a number": {"price": "abc"},
        "order.side: 'long' is not one of buy, sell": {"side": "long"},
        "order.key: unknown exchange 'ftx'": {"key": "ftx:perp:BTCUSDT"},
        "order.price: a limit order needs a price": {"price": None},
    }
    for message, change in bad.items():
        with pytest.raises(InvalidRequest, match=re.escape(message)):
            check_order(msgspec.structs.replace(base, **change))
    # a Decimal no venue would take is refused when the request is made
    with pytest.raises(InvalidOrderRequest, match=re.escape("order.qty must be a positive number")):
        msgspec.structs.replace(base, qty=Decimal(0))


def test_sequence_verdicts() -> None:
    t = b"ob|binance|perp|BTCUSDT|"
    seq = SeqTracker()
    assert seq.check(t, 7) == (Verdict.FIRST, 7)
    seq.accept(t, 7)
    assert seq.check(t, 8) == (Verdict.OK, 8)
    assert seq.check(t, 10) == (Verdict.GAP, 8)
    assert seq.check(t, 3) == (Verdict.RESET, 8)
    assert seq.check(t, 0) == (Verdict.OK, 0)  # unsequenced
    assert seq.seed(t, 20)  # a snapshot newer than what was applied
    assert seq.check(t, 19) == (Verdict.STALE, 21) and seq.check(t, 20)[0] is Verdict.STALE
    assert seq.check(t, 21) == (Verdict.OK, 21)
    seq.accept(t, 21)
    assert not seq.seed(t, 21)  # not newer than what was delivered
    assert seq.check(t, 5)[0] is Verdict.RESET  # live again: backwards means a restart


async def test_queue_drops_market_data_first_and_never_orders() -> None:
    q = EventQueue(3)
    book1, book2 = received(TopicKind.BOOK, 1), received(TopicKind.BOOK, 2)
    ex1, ex2, ex3 = (received(TopicKind.EXECUTION, i, order_event()) for i in (1, 2, 3))
    for item in (book1, ex1, book2):
        assert q.put_nowait(item)
    assert q.put_nowait(ex2)  # full: the oldest book goes
    assert q.dropped == 1 and [q.get_nowait(), q.get_nowait(), q.get_nowait()] == [ex1, book2, ex2]
    for item in (ex1, ex2, ex3):
        q.put_nowait(item)
    assert q.put_nowait(book1) and q.dropped == 2  # nothing to drop but the newcomer book
    assert not q.put_nowait(ex1)  # an order never drops: the producer must wait
    waiting = asyncio.create_task(q.put(ex1))
    await asyncio.sleep(0)
    assert not waiting.done() and q.waits == 1
    assert await q.get() is ex1
    await waiting
    assert [q.get_nowait() for _ in range(3)] == [ex2, ex3, ex1]
    assert await q.get(0.01) is None  # timeout
    q.close()
    assert await q.get() is None


def test_filters_make_prefix_subscriptions() -> None:
    everything = EventFilter.of()
    assert everything.prefixes(Exchange.BINANCE) == [
        b"acct|binance|",
        b"bar|binance|",
        b"exec|binance|",
        b"fund|binance|",
        b"ob|binance|",
        b"pos|binance|",
        b"risk|binance|",
        b"status|binance|",
        b"tick|binance|",
        b"trade|binance|",
    ]
    one = EventFilter.of(keys="binance:perp:BTCUSDT")
    assert one.prefixes(Exchange.BINANCE) == [
        b"exec|binance|perp|BTCUSDT|",
        b"fund|binance|perp|BTCUSDT|",
        b"ob|binance|perp|BTCUSDT|",
        b"pos|binance|perp|BTCUSDT|",
    ]
    assert one.prefixes(Exchange.OKX) == [] and one.exchanges() == frozenset({Exchange.BINANCE})
    acct = EventFilter.of(kinds=["account", "orders"], keys=[PERP])
    assert acct.prefixes(Exchange.BINANCE) == [b"acct|binance|", b"exec|binance|perp|BTCUSDT|"]
    assert acct.wants(TopicKind.EXECUTION, PERP) and not acct.wants(TopicKind.EXECUTION, SPOT)
    assert not acct.wants(TopicKind.BOOK, PERP)
    with pytest.raises(InvalidRequest, match="kinds: unknown event kind 'candles'"):
        as_kinds("candles")
    assert as_kinds(["trades", "tick", "bars"]) == {TopicKind.TRADE, TopicKind.TICKER, TopicKind.BAR}


def test_records_are_flat_and_keep_decimals_exact() -> None:
    row = to_record(received(TopicKind.EXECUTION, 4, order_event()))
    assert row["event"] == "order" and row["kind"] == "fill" and row["topic_kind"] == "exec"
    assert row["key"] == "binance:perp:BTCUSDT" and row["order.key"] == "binance:spot:BTCUSDT"
    assert row["order.price"] == Decimal("1.0E-7") and row["fill.fee_asset"] == "BNB"
    assert row["order.status"] == "filled" and row["order.side"] == "buy"
    assert to_record(received(TopicKind.EXECUTION, 4, order_event()), "str")["order.price"] == "0.00000010"
    book = to_record(received(TopicKind.BOOK, 1), "float")
    assert book["bid"] == 100.5 and book["mid"] == 101.0 and book["book.asks"] == [[101.5, 1.0]]
    gap = Gap(
        runner="r",
        topic="ob|binance|perp|BTCUSDT|",
        kind=TopicKind.BOOK,
        exchange=Exchange.BINANCE,
        key=PERP,
        expected=5,
        received=8,
        reason="gap",
    )
    assert gap.lost == 3 and to_record(gap)["item"] == "gap" and not to_record(gap)["resynced"]
    snap = Snapshot(runner="r", exchange=Exchange.BINANCE, reason="initial", orders=())
    assert to_record(snap)["orders"] == [] and to_record(snap)["positions"] is None
    events = EventList([received(TopicKind.BOOK, 1), gap, received(TopicKind.EXECUTION, 2, order_event())])
    assert len(events.events()) == 2 and len(events.of("order")) == 1 and len(events.records()) == 3
