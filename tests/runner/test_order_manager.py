"""OrderManager, unit by unit: a fake venue adapter and an injected clock (no process, no
network). The deadline cases move the clock instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import zmq

from exchange_runner.actors.order import RECONCILE_PER_INSTRUMENT_MAX, OrderManager, Reconcile, Submit
from exchange_runner.refusals import BadParams, ClientIdInUse
from exchanges import errors as xerr
from strategy_client.model import (
    Exchange,
    InstrumentKey,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from strategy_client.wire import GetOpenOrders, GetOrder, OrderEvent, OrderEventKind, TopicKind
from tests.helpers import eventually
from tests.runner.fakes import PERP, SPOT, FakeAdapter, FakeClock, RecordingPublisher, instrument, running

D = Decimal


class Rig:
    def __init__(self, clock: FakeClock, adapter: FakeAdapter, publisher: RecordingPublisher) -> None:
        self.clock = clock
        self.adapter = adapter
        self.publisher = publisher
        self.orders = OrderManager(
            adapter,
            publisher,
            {SPOT: instrument(SPOT), PERP: instrument(PERP)},
            unknown_retry_s=0.01,
            unknown_slow_s=0.05,
            monotonic=clock.monotonic,
            wall_ms=clock.wall_ms,
        )

    def events(self, client_id: str) -> list[OrderEvent]:
        return [
            e
            for kind, e in self.publisher.events
            if kind is TopicKind.EXECUTION and isinstance(e, OrderEvent) and e.order.client_id == client_id
        ]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    ctx: zmq.Context[Any] = zmq.Context()
    clock = FakeClock()
    publisher = RecordingPublisher(ctx)
    rig = Rig(clock, FakeAdapter(clock), publisher)
    try:
        async with running(rig.orders):
            yield rig
    finally:
        publisher.close()
        ctx.term()


def _limit(cid: str, key: InstrumentKey = PERP) -> OrderRequest:
    return OrderRequest(key=key, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.01"), price=D("90"), client_id=cid)


async def test_a_submit_is_tracked_published_and_stamped_by_the_injected_clock(rig: Rig) -> None:
    order = await rig.orders.ask(Submit(_limit("c-1")), 5)
    assert order.status is OrderStatus.NEW and order.created_ts_ms == rig.clock.wall
    assert [e.kind for e in rig.events("c-1")] == [OrderEventKind.NEW]
    assert (await rig.orders.ask(GetOrder(key=PERP, client_id="c-1"), 5)).order.venue_id == order.venue_id


async def test_a_request_queued_past_its_deadline_is_never_sent(rig: Rig) -> None:
    """The caller gave up while the submit waited: REJECTED (not sent) — the one certain "not
    placed" — and nothing reaches the venue. The clock moves; nothing sleeps."""
    answer_by = rig.clock.monotonic() + 1.0
    rig.clock.advance(2.0)
    order = await rig.orders.ask(Submit(_limit("late-1"), answer_by=answer_by), 5)
    assert order.status is OrderStatus.REJECTED and order.reject_code is RejectCode.NOT_SENT
    assert rig.adapter.placed == []
    assert [e.kind for e in rig.events("late-1")] == [OrderEventKind.REJECT]


async def test_within_its_deadline_it_is_sent(rig: Rig) -> None:
    answer_by = rig.clock.monotonic() + 1.0
    rig.clock.advance(0.5)
    order = await rig.orders.ask(Submit(_limit("soon-1"), answer_by=answer_by), 5)
    assert order.status is OrderStatus.NEW and [r.client_id for r in rig.adapter.placed] == ["soon-1"]


async def test_refusals_before_sending(rig: Rig) -> None:
    unknown = InstrumentKey(exchange=Exchange.BINANCE, symbol="DOGEUSDT", kind=MarketKind.SPOT)
    with pytest.raises(BadParams, match="unknown instrument"):
        await rig.orders.ask(Submit(_limit("x-1", unknown)), 5)
    rig.adapter.hold = asyncio.Event()
    first = asyncio.create_task(rig.orders.ask(Submit(_limit("dup-1")), 5))
    await eventually(lambda: rig.adapter.placed, what="the first placement sent")
    with pytest.raises(ClientIdInUse, match="dup-1"):
        await rig.orders.ask(Submit(_limit("dup-1")), 5)
    rig.adapter.hold.set()
    assert (await first).status is OrderStatus.NEW
    assert len(rig.adapter.placed) == 1


async def test_a_venue_refusal_is_a_known_rejection(rig: Rig) -> None:
    rig.adapter.fail_place = xerr.ExchangeError("insufficient margin", venue="binance", venue_code="-2019")
    rig.clock.advance(3.0)
    with pytest.raises(xerr.ExchangeError, match="insufficient margin"):
        await rig.orders.ask(Submit(_limit("no-1")), 5)
    rejected = await eventually(
        lambda: next((e for e in rig.events("no-1") if e.kind is OrderEventKind.REJECT), None), what="REJECT"
    )
    assert rejected.order.updated_ts_ms == rig.clock.wall
    assert (await rig.orders.ask(GetOpenOrders(), 5)).orders == ()


async def test_a_lost_answer_is_unknown_until_the_venue_says(rig: Rig) -> None:
    rig.adapter.lose_answer = True
    with pytest.raises(xerr.UnknownOutcome):
        await rig.orders.ask(Submit(_limit("lost-1")), 5)
    # the chase asks the venue by client id: the order did reach it
    await eventually(lambda: [e.kind for e in rig.events("lost-1")] == [OrderEventKind.UNKNOWN, OrderEventKind.NEW])
    assert rig.orders.unknown_outcomes == 1 and rig.orders.unknown_now == 0
    got = (await rig.orders.ask(GetOrder(key=PERP, client_id="lost-1"), 5)).order
    assert got.status is OrderStatus.NEW


async def test_open_orders_by_instrument_and_kind(rig: Rig) -> None:
    await rig.orders.ask(Submit(_limit("p-1", PERP)), 5)
    await rig.orders.ask(Submit(_limit("s-1", SPOT)), 5)
    every = (await rig.orders.ask(GetOpenOrders(), 5)).orders
    assert sorted(o.client_id for o in every) == ["p-1", "s-1"]
    spot = (await rig.orders.ask(GetOpenOrders(kind=MarketKind.SPOT), 5)).orders
    assert [o.client_id for o in spot] == ["s-1"]
    perp = (await rig.orders.ask(GetOpenOrders(key=PERP), 5)).orders
    assert [o.client_id for o in perp] == ["p-1"]


async def test_a_reconcile_asks_per_instrument_while_there_are_few(rig: Rig) -> None:
    """A one-symbol open-orders query costs the venue a fraction of an every-symbol one (Binance:
    weight 1 / 6 against 40 / 80), and a reconcile runs after every user-stream reconnect."""
    await rig.orders.ask(Submit(_limit("p-9", PERP)), 5)
    assert await rig.orders.ask(Reconcile("test"), 5) == 1  # the open order is listed
    assert sorted(rig.adapter.open_order_queries, key=str) == sorted([(SPOT.kind, SPOT), (PERP.kind, PERP)], key=str)
    many = {
        InstrumentKey(exchange=Exchange.BINANCE, kind=MarketKind.PERP, symbol=f"C{i}USDT"): instrument(PERP)
        for i in range(RECONCILE_PER_INSTRUMENT_MAX + 1)
    }
    wide = OrderManager(rig.adapter, rig.publisher, many)
    rig.adapter.open_order_queries.clear()
    async with running(wide):
        await wide.ask(Reconcile("test"), 5)
    assert rig.adapter.open_order_queries == [(MarketKind.PERP, None)]  # one query for the whole kind
