"""UNKNOWN orders are settled by what the venue documents (issue 12): the order actor's chase asks
the adapter's ``resolve_unknown``. Real offline Bybit venue, real adapter, real PUB socket; the
venue's own books (``GET /_sim/orders``) prove how many orders exist."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import zmq

from exchange_runner.actors.order import GetOrderMsg, OrderManager, Submit
from exchange_runner.publisher import Publisher
from exchanges import errors as xerr
from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.sim import BybitSim
from exchanges.credentials import Credentials
from exchanges.sim.faults import FaultRequest
from strategy_client.model import Exchange, InstrumentKey, Order, OrderRequest, OrderStatus, OrderType, Side
from tests.helpers import eventually, free_port

D = Decimal
PERP = InstrumentKey.parse("bybit:perp:BTCUSDT")
CREATE = "/v5/order/create"


class Rig:
    def __init__(self, sim: BybitSim, adapter: BybitAdapter, orders: OrderManager) -> None:
        self.sim, self.adapter, self.orders = sim, adapter, orders

    async def get(self, client_id: str) -> Order:
        order: Order = await self.orders.ask(GetOrderMsg(PERP, client_id), 5)
        return order

    async def venue_orders(self, client_id: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            books = (await http.get(f"{self.sim.urls.rest}/_sim/orders")).json()
        return [o for o in books["orders"] if o["client_order_id"] == client_id]


async def make_rig(resend_window_ms: int | None = None) -> AsyncIterator[Rig]:
    sim = BybitSim(port=free_port(), seed=11, step_ms=50)
    async with sim:
        sim.venue.pause(True)
        # no search inside the placement call: the actor's chase is what settles the order
        adapter = BybitAdapter(
            sim.urls, Credentials(sim.api_key, sim.api_secret), reconcile_attempts=0, resend_window_ms=resend_window_ms
        )
        await adapter.start()
        instruments = {i.key: i for i in await adapter.load_instruments()}
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        sock.bind(f"tcp://127.0.0.1:{free_port()}")
        orders = OrderManager(
            adapter, Publisher(sock, Exchange.BYBIT), instruments, unknown_retry_s=0.05, unknown_slow_s=0.4
        )
        task = asyncio.create_task(orders.run())
        try:
            yield Rig(sim, adapter, orders)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            sock.close(linger=0)
            await adapter.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async for r in make_rig():
        yield r


@pytest.fixture
async def late_rig() -> AsyncIterator[Rig]:
    async for r in make_rig(resend_window_ms=0):
        yield r


def _limit(client_id: str) -> OrderRequest:
    return OrderRequest(
        key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=D("0.010"), price=D("20000"), client_id=client_id
    )


async def test_bybit_5xx_before_execution_is_placed_once_by_the_resend(rig: Rig) -> None:
    """10016 / HTTP 503 before execution: no order at the venue, so UNKNOWN; Bybit says "retry
    with the same orderLinkId" — the chase re-sends it and the order is placed exactly once.
    Old code: "not found" every 30 s for ever, the order UNKNOWN for the rest of the run."""
    rig.sim.faults.arm(FaultRequest(fail_next=1, fail_status=503, host="futures", path_prefix=CREATE))
    with pytest.raises(xerr.UnknownOutcome):
        await rig.orders.ask(Submit(_limit("busy-1")), 10)
    assert rig.sim.faults.fired.get("fail") == 1

    async def resolved() -> bool:
        return (await rig.get("busy-1")).status is OrderStatus.NEW

    await eventually(resolved, timeout=10, interval=0.05, what="the re-sent order at the venue")
    found = await rig.venue_orders("busy-1")
    assert len(found) == 1 and found[0]["status"] == "new"
    assert (await rig.get("busy-1")).venue_id


async def test_bybit_5xx_after_execution_resolves_to_the_existing_order(rig: Rig) -> None:
    """Accepted, then 10016: the re-send is refused as a duplicate (110072) and the order read
    back — the one order the venue has, never a second."""
    rig.sim.faults.arm(FaultRequest(unknown_next=1, unknown_mode="error", host="futures", path_prefix=CREATE))  # type: ignore[arg-type]
    with pytest.raises(xerr.UnknownOutcome):
        await rig.orders.ask(Submit(_limit("taken-1")), 10)
    assert rig.sim.faults.fired.get("unknown_outcome") == 1
    assert len(await rig.venue_orders("taken-1")) == 1  # the original was placed

    async def resolved() -> bool:
        return (await rig.get("taken-1")).status is OrderStatus.NEW

    await eventually(resolved, timeout=10, interval=0.05, what="the original order found")
    found = await rig.venue_orders("taken-1")
    assert len(found) == 1
    assert (await rig.get("taken-1")).venue_id  # the venue's order id, learnt from the read-back


async def test_bybit_past_the_resend_window_is_only_queried(late_rig: Rig) -> None:
    """Past the window nothing is re-sent: the order stays UNKNOWN, the venue has none."""
    late_rig.sim.faults.arm(FaultRequest(fail_next=1, fail_status=503, host="futures", path_prefix=CREATE))
    with pytest.raises(xerr.UnknownOutcome):
        await late_rig.orders.ask(Submit(_limit("late-1")), 10)
    await eventually(lambda: late_rig.orders.unknown_not_found >= 4, timeout=10, what="not-found answers")
    assert (await late_rig.get("late-1")).status is OrderStatus.UNKNOWN
    assert await late_rig.venue_orders("late-1") == []
