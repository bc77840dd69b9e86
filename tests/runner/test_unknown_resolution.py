"""UNKNOWN orders are settled by what the venue documents (issue 12): the order actor's chase asks
the adapter's ``resolve_unknown``. Real offline Bybit / OKX venues, real adapters, real PUB
socket; the venue's own books (``GET /_sim/orders``) prove how many orders exist."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import zmq

from exchange_runner.actors.order import OrderManager, Submit
from exchange_runner.publisher import Publisher
from exchanges import errors as xerr
from exchanges.bybit.adapter import BybitAdapter
from exchanges.bybit.sim import BybitSim
from exchanges.credentials import Credentials
from exchanges.okx.adapter import OkxAdapter
from exchanges.okx.sim import OkxSim, OkxSimOptions
from exchanges.sim.faults import FaultRequest
from strategy_client.model import (
    Exchange,
    InstrumentKey,
    MarketKind,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from strategy_client.wire import CancelOrder, GetOrder
from tests.helpers import eventually, free_port

D = Decimal
PERP = InstrumentKey.parse("bybit:perp:BTCUSDT")
CREATE = "/v5/order/create"


class Rig:
    def __init__(self, sim: BybitSim, adapter: BybitAdapter, orders: OrderManager) -> None:
        self.sim, self.adapter, self.orders = sim, adapter, orders

    async def get(self, client_id: str) -> Order:
        order: Order = (await self.orders.ask(GetOrder(key=PERP, client_id=client_id), 5)).order
        return order

    async def venue_orders(self, client_id: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            books = (await http.get(f"{self.sim.urls.rest}/_sim/orders")).json()
        return [o for o in books["orders"] if o["client_order_id"] == client_id]


async def make_rig(resend_window_ms: int | None = None, retry_s: float = 0.05) -> AsyncIterator[Rig]:
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
            adapter, Publisher(sock, Exchange.BYBIT), instruments, unknown_retry_s=retry_s, unknown_slow_s=0.4
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
async def slow_rig() -> AsyncIterator[Rig]:
    async for r in make_rig(retry_s=0.5):
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


async def test_bybit_an_unknown_order_asked_to_cancel_is_never_re_sent(slow_rig: Rig) -> None:
    """Someone cancels the UNKNOWN order (the venue has none: not found): the chase must not
    place it afterwards — it only queries."""
    slow_rig.sim.faults.arm(FaultRequest(fail_next=1, fail_status=503, host="futures", path_prefix=CREATE))
    with pytest.raises(xerr.UnknownOutcome):
        await slow_rig.orders.ask(Submit(_limit("cxl-1")), 10)
    with pytest.raises(xerr.OrderNotFound):
        await slow_rig.orders.ask(CancelOrder(key=PERP, client_id="cxl-1"), 10)
    await eventually(lambda: slow_rig.orders.unknown_not_found >= 3, timeout=10, what="chase queries")
    assert (await slow_rig.get("cxl-1")).status is OrderStatus.UNKNOWN
    assert await slow_rig.venue_orders("cxl-1") == []


# -- OKX: expTime ----------------------------------------------------------------------------

OKX_PERP = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.PERP)
OKX_PLACE = "/api/v5/trade/order"


class LateWire(httpx.AsyncBaseTransport):
    """The network between the adapter and the venue: when armed, the next place request is held
    ``delay_s`` on its way in (it reaches the venue late), and the venue's reply is lost on the
    way back (the client sees a read timeout). The venue's real answer is kept in ``answers``."""

    def __init__(self, delay_s: float) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.delay_s = delay_s
        self.armed = False
        self.answers: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not (self.armed and request.method == "POST" and request.url.path == OKX_PLACE):
            return await self.inner.handle_async_request(request)
        self.armed = False
        await asyncio.sleep(self.delay_s)
        response = await self.inner.handle_async_request(request)
        self.answers.append(await response.aread())
        raise httpx.ReadTimeout("the reply was lost", request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class OkxRig:
    def __init__(self, sim: OkxSim, wire: LateWire, orders: OrderManager) -> None:
        self.sim, self.wire, self.orders = sim, wire, orders

    async def get(self, client_id: str) -> Order:
        order: Order = (await self.orders.ask(GetOrder(key=OKX_PERP, client_id=client_id), 5)).order
        return order

    async def venue_orders(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            books = (await http.get(f"{self.sim.urls.rest}/_sim/orders")).json()
        return list(books["orders"])


@pytest.fixture
async def okx() -> AsyncIterator[OkxRig]:
    sim = OkxSim(port=free_port(), seed=13, step_ms=50, options=OkxSimOptions(ws_connects_per_s=0))
    async with sim:
        sim.venue.pause(True)
        wire = LateWire(delay_s=0.6)
        adapter = OkxAdapter(
            sim.urls,
            Credentials(sim.api_key, sim.api_secret, sim.passphrase),
            transport=wire,
            use_ws_orders=False,
            reconcile_attempts=0,  # the actor's chase settles it
            exp_time_ms=300,
            exp_slack_ms=200,
        )
        await adapter.start()
        instruments = {i.key: i for i in await adapter.load_instruments()}
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        sock.bind(f"tcp://127.0.0.1:{free_port()}")
        orders = OrderManager(
            adapter, Publisher(sock, Exchange.OKX), instruments, unknown_retry_s=0.05, unknown_slow_s=0.4
        )
        task = asyncio.create_task(orders.run())
        try:
            yield OkxRig(sim, wire, orders)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            sock.close(linger=0)
            await adapter.close()


def _okx_market(client_id: str) -> OrderRequest:
    return OrderRequest(key=OKX_PERP, side=Side.BUY, type=OrderType.MARKET, qty=D("0.01"), client_id=client_id)


async def test_okx_lost_reply_past_exptime_is_rejected_not_placed(okx: OkxRig) -> None:
    """The request reached OKX after its expTime (the venue did not process it) and the reply was
    lost: UNKNOWN, then — once expTime + slack has passed and the venue has no such clOrdId —
    REJECTED ``not_placed``. Old code: UNKNOWN for ever ("not found" is not "not placed")."""
    okx.wire.armed = True
    with pytest.raises(xerr.UnknownOutcome):
        await okx.orders.ask(Submit(_okx_market("late-okx-1")), 10)
    assert len(okx.wire.answers) == 1 and b'"50102"' in okx.wire.answers[0]  # the venue honoured expTime

    async def settled() -> bool:
        return (await okx.get("late-okx-1")).status is OrderStatus.REJECTED

    await eventually(settled, timeout=10, interval=0.05, what="REJECTED not_placed")
    order = await okx.get("late-okx-1")
    assert order.reject_code is RejectCode.NOT_PLACED and "expTime" in order.reject_reason
    assert await okx.venue_orders() == []


async def test_okx_an_order_that_was_placed_is_found(okx: OkxRig) -> None:
    """Placed, then the connection dropped before the reply: UNKNOWN, then found by clOrdId —
    never REJECTED, however late."""
    okx.sim.faults.arm(FaultRequest(unknown_next=1, unknown_mode="drop", path_prefix=OKX_PLACE))  # type: ignore[arg-type]
    with pytest.raises(xerr.UnknownOutcome):
        await okx.orders.ask(Submit(_okx_market("kept-okx-1")), 10)
    assert okx.sim.faults.fired.get("unknown_outcome") == 1

    async def filled() -> bool:
        return (await okx.get("kept-okx-1")).status is OrderStatus.FILLED

    await eventually(filled, timeout=10, interval=0.05, what="the placed order found")
    assert len(await okx.venue_orders()) == 1
