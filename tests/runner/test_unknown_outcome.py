"""The order actor owns every order's fate: an unknown outcome is UNKNOWN (published, listed,
queryable) until the venue says, never REJECTED by a timer. Real offline Binance venue, real
adapter, real PUB socket; only the runner process around the actor is left out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import zmq

from exchange_runner.actors.order import OrderManager, Submit
from exchange_runner.publisher import Publisher
from exchanges import errors as xerr
from exchanges.base import OrderUpdate, StreamStatus
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.parse import perp_key, spot_key
from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from exchanges.credentials import Credentials
from exchanges.sim.faults import FaultRequest
from strategy_client.model import Exchange, OrderRequest, OrderStatus, OrderType, RejectCode, Side, TimeInForce
from strategy_client.wire import GetOpenOrders, GetOrder, OrderEvent, OrderEventKind, RunnerStatusEvent, TopicKind
from tests.helpers import eventually, free_port, free_port_pair
from tests.integration.rawsub import Sub

D = Decimal
PERP, SPOT = perp_key("BTCUSDT"), spot_key("BTCUSDT")


class Rig:
    def __init__(self, sim: BinanceSim, adapter: BinanceAdapter, orders: OrderManager, sub: Sub) -> None:
        self.sim = sim
        self.adapter = adapter
        self.orders = orders
        self.sub = sub

    def events(self, client_id: str) -> list[OrderEvent]:
        return [e for e in self.sub.of(OrderEvent) if isinstance(e, OrderEvent) and e.order.client_id == client_id]

    async def get(self, key: Any, client_id: str) -> Any:
        return (await self.orders.ask(GetOrder(key=key, client_id=client_id), 5)).order


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sim = BinanceSim(port_base=free_port_pair(), seed=5, options=BinanceSimOptions(hang_ms=3000), step_ms=50)
    async with sim:
        sim.venue.pause(True)
        adapter = BinanceAdapter(
            sim.urls,
            Credentials(sim.api_key, sim.api_secret),
            use_ws_api=False,
            reconcile_attempts=1,
            reconcile_backoff_s=0.05,
        )
        await adapter.start()
        instruments = {i.key: i for i in await adapter.load_instruments()}
        pub_sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        pub_sock.bind(endpoint)
        publisher = Publisher(pub_sock, Exchange.BINANCE)
        sub = Sub(endpoint)
        # the subscription is live once a probe gets through (no slow-joiner losses)
        probe = RunnerStatusEvent(exchange=Exchange.BINANCE, status="probe")

        def probed() -> bool:
            publisher.publish(TopicKind.STATUS, probe)
            return bool(sub.of(RunnerStatusEvent))

        await eventually(probed, interval=0.02, what="subscriber connected")
        orders = OrderManager(
            adapter, publisher, instruments, fill_grace_s=0.2, unknown_retry_s=0.05, unknown_slow_s=0.2
        )
        task = asyncio.create_task(orders.run())
        try:
            yield Rig(sim, adapter, orders, sub)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sub.close()
            pub_sock.close(linger=0)
            await adapter.close()


async def test_a_venue_slower_than_the_caller_gives_unknown_then_the_fill(rig: Rig) -> None:
    """The caller's deadline passes before the venue answers (it fills): UNKNOWN → FILLED,
    published in that order; never REJECTED, never a retryable failure."""
    rig.sim.faults.arm(FaultRequest(delay_ms=1500, host="futures"))
    req = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=D("0.010"), client_id="slow-1")
    t0 = time.monotonic()
    with pytest.raises(xerr.UnknownOutcome, match="slow-1"):
        await rig.orders.ask(Submit(req, answer_by=time.monotonic() + 0.3), 5)
    assert time.monotonic() - t0 < 1.0  # answered at the caller's deadline, not the venue's pace
    assert (await rig.get(PERP, "slow-1")).status is OrderStatus.UNKNOWN
    assert [o.client_id for o in (await rig.orders.ask(GetOpenOrders(), 5)).orders] == ["slow-1"]
    await eventually(lambda: rig.events("slow-1"), what="UNKNOWN published")
    assert rig.events("slow-1")[0].kind is OrderEventKind.UNKNOWN

    rig.sim.faults.arm(FaultRequest(delay_ms=0))

    async def filled() -> bool:
        return bool((await rig.get(PERP, "slow-1")).status is OrderStatus.FILLED)

    await eventually(filled, timeout=15, interval=0.05, what="the venue's fill")
    await eventually(lambda: rig.events("slow-1")[-1].order.status is OrderStatus.FILLED, what="FILL published")
    statuses = [e.order.status for e in rig.events("slow-1")]
    assert statuses[0] is OrderStatus.UNKNOWN and statuses[-1] is OrderStatus.FILLED
    assert OrderStatus.REJECTED not in statuses and OrderStatus.PENDING not in statuses
    assert rig.orders.unknown_outcomes == 1
    assert (await rig.orders.ask(GetOpenOrders(), 5)).orders == ()


async def test_an_order_the_venue_never_saw_stays_unknown(rig: Rig) -> None:
    """A 504 gateway page (the venue did not execute it, but nothing says so on spot): the
    order stays UNKNOWN while "not found" answers pile up; no timer turns it into REJECTED."""
    rig.sim.faults.arm(FaultRequest(fail_next=1, fail_status=504, host="spot", path_prefix="/api/v3/order"))
    req = OrderRequest(key=SPOT, side=Side.BUY, type=OrderType.MARKET, qty=D("0.010"), client_id="ghost-1")
    with pytest.raises(xerr.UnknownOutcome):
        await rig.orders.ask(Submit(req), 10)
    assert rig.sim.faults.fired.get("fail") == 1
    # old behaviour: REJECTED "not found at venue after unknown outcome" once a give-up timer ran out
    await eventually(lambda: rig.orders.unknown_not_found >= 8, timeout=15, what="repeated not-found answers")
    order = await rig.get(SPOT, "ghost-1")
    assert order.status is OrderStatus.UNKNOWN
    assert [o.client_id for o in (await rig.orders.ask(GetOpenOrders(key=SPOT), 5)).orders] == ["ghost-1"]
    assert [e.kind for e in rig.events("ghost-1")] == [OrderEventKind.UNKNOWN]
    assert "ghost-1" in rig.orders._chasing  # still asking, at the slow cadence


async def test_the_stream_answers_before_the_deadline(rig: Rig) -> None:
    """The venue's reply is slow but its user stream already told the fill: at the caller's
    deadline the actor answers with that, not with an unknown outcome."""
    stream = rig.adapter.stream_user_events()
    live: set[str] = set()

    async def pump() -> None:
        async for ev in stream:
            if isinstance(ev, StreamStatus):
                if ev.connected:
                    live.add(ev.stream)
            elif isinstance(ev, OrderUpdate):
                await rig.orders.executions.put(ev)

    task = asyncio.create_task(pump())
    try:
        await eventually(lambda: "binance:perp:user" in live, what="futures user stream")
        rig.sim.faults.arm(FaultRequest(delay_ms=1500, host="futures"))
        req = OrderRequest(key=PERP, side=Side.SELL, type=OrderType.MARKET, qty=D("0.010"), client_id="told-1")
        order = await rig.orders.ask(Submit(req, answer_by=time.monotonic() + 0.8), 5)
        assert order.client_id == "told-1" and order.status is OrderStatus.FILLED
        assert all(e.kind is not OrderEventKind.UNKNOWN for e in rig.events("told-1"))
    finally:
        rig.sim.faults.arm(FaultRequest(delay_ms=0))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_submit_queued_past_its_deadline_is_not_sent(rig: Rig) -> None:
    req = OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=D("0.010"), client_id="late-1")
    order = await rig.orders.ask(Submit(req, answer_by=time.monotonic() - 0.01), 5)
    assert order.status is OrderStatus.REJECTED and "not sent" in order.reject_reason
    assert order.reject_code is RejectCode.NOT_SENT
    assert rig.orders.submitted == 0
    with pytest.raises(xerr.OrderNotFound):
        await rig.adapter.get_order(PERP, client_id="late-1")


async def test_a_venue_refusal_is_rejected_with_its_code(rig: Rig) -> None:
    """A post-only order that would cross: the venue refuses it; the order is REJECTED with the
    venue's words and the one-vocabulary code, published like any other change."""
    book = await rig.adapter.fetch_order_book(PERP, 5)
    assert book.best_ask is not None
    req = OrderRequest(
        key=PERP,
        side=Side.BUY,
        type=OrderType.LIMIT,
        tif=TimeInForce.POST_ONLY,
        qty=D("0.010"),
        price=book.best_ask.price,
        client_id="cross-1",
    )
    with pytest.raises(xerr.WouldTakeLiquidity):
        await rig.orders.ask(Submit(req), 5)
    order = await rig.get(PERP, "cross-1")
    assert order.status is OrderStatus.REJECTED and order.reject_code is RejectCode.WOULD_TAKE_LIQUIDITY
    await eventually(lambda: rig.events("cross-1"), what="REJECT published")
    assert rig.events("cross-1")[-1].kind is OrderEventKind.REJECT
    assert rig.events("cross-1")[-1].order.reject_code is RejectCode.WOULD_TAKE_LIQUIDITY
