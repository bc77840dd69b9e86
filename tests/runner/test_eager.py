"""exchange_runner.eager: a coroutine's first step in the caller's turn, the rest in a task —
and the order actor placing an order that way (the WS-API request is out before the submit
returns, instead of one turn of the event loop later)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from decimal import Decimal
from typing import Any

import pytest
import zmq

from exchange_runner.actors.order import OrderManager, Submit
from exchange_runner.eager import start_eager
from exchange_runner.publisher import Publisher
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.parse import perp_key
from exchanges.binance.sim import BinanceSim
from exchanges.binance.ws_api import BinanceWsApi
from exchanges.credentials import Credentials
from strategy_client.model import Exchange, Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from tests.helpers import eventually, free_port, free_port_pair


class Group:
    """A TaskGroup with an actor-style spawn: a task's unexpected failure is recorded, not fatal."""

    def __init__(self, tg: asyncio.TaskGroup) -> None:
        self.tg = tg
        self.failed: list[BaseException] = []
        self.tasks: list[asyncio.Task[Any]] = []

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        async def guard() -> None:
            try:
                await coro
            except Exception as exc:
                self.failed.append(exc)
                raise asyncio.CancelledError from exc

        task = self.tg.create_task(guard(), name=name)
        self.tasks.append(task)
        return task


def in_callback(fn: Callable[[], Any]) -> asyncio.Future[Any]:
    """Call ``fn`` from a plain loop callback (no task running), as the ROUTER reader does."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    loop.call_soon(lambda: done.set_result(fn()))
    return done


async def test_the_first_step_runs_before_start_eager_returns_then_the_task_finishes() -> None:
    trail: list[str] = []
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def work() -> str:
        trail.append("first step")
        async with asyncio.timeout(5):  # needs a current task: the spawned one
            answer = await gate
        trail.append("second step")
        return answer + "!"

    async with asyncio.TaskGroup() as tg:
        group = Group(tg)

        def start() -> asyncio.Future[str]:
            out = start_eager(group.spawn, work(), "w")
            trail.append("returned")
            return out

        out = await in_callback(start)
        assert trail == ["first step", "returned"]
        assert not out.done()
        gate.set_result("venue said yes")
        assert await out == "venue said yes!"
    assert trail == ["first step", "returned", "second step"]
    assert group.failed == []


async def test_failures_in_the_first_and_later_steps_reach_the_future() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def fails_at_once() -> None:
        raise ValueError("refused before sending")

    async def fails_later() -> None:
        await gate
        raise KeyError("lost")

    async with asyncio.TaskGroup() as tg:
        group = Group(tg)
        first = await in_callback(lambda: start_eager(group.spawn, fails_at_once(), "a"))
        later = await in_callback(lambda: start_eager(group.spawn, fails_later(), "b"))
        with pytest.raises(ValueError, match="refused before sending"):
            await first
        gate.set_result(None)
        with pytest.raises(KeyError, match="lost"):
            await later
    assert group.failed == []  # delivered to the futures, nothing left for the guard


async def test_a_timeout_inside_cancels_the_right_task_and_the_rest_is_delivered() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def slow() -> str:
        try:
            async with asyncio.timeout(0.05):
                await never
        except TimeoutError:
            return "timed out"
        return "answered"

    async with asyncio.TaskGroup() as tg:
        group = Group(tg)
        out = await in_callback(lambda: start_eager(group.spawn, slow(), "t"))
        assert await asyncio.wait_for(out, 5) == "timed out"
    assert never.cancelled()  # what the task waited on was cancelled, as a task's await is


async def test_cancelling_the_task_reaches_the_coroutine_and_the_future() -> None:
    seen: list[str] = []
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def waits() -> None:
        try:
            await never
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async with asyncio.TaskGroup() as tg:
        group = Group(tg)
        out = await in_callback(lambda: start_eager(group.spawn, waits(), "c"))
        await asyncio.sleep(0)
        group.tasks[-1].cancel()
        with pytest.raises(asyncio.CancelledError):
            await out
    assert seen == ["cancelled"]


async def test_inside_a_task_it_starts_the_ordinary_way() -> None:
    trail: list[str] = []

    async def work() -> int:
        trail.append("first step")
        return 7

    async with asyncio.TaskGroup() as tg:
        group = Group(tg)
        out = start_eager(group.spawn, work(), "x")  # called from this test's task
        assert trail == []
        assert await out == 7
    assert trail == ["first step"]


# -- the order actor over the Binance venue's WS-API -----------------------------------------------

PERP = perp_key("BTCUSDT")


@pytest.fixture
async def placed() -> AsyncIterator[tuple[BinanceSim, BinanceAdapter, OrderManager]]:
    sim = BinanceSim(port_base=free_port_pair(), seed=3)
    async with sim:
        adapter = BinanceAdapter(sim.urls, Credentials(sim.api_key, sim.api_secret), use_ws_api=True)
        await adapter.start()
        instruments = {i.key: i for i in await adapter.load_instruments()}
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        sock.bind(f"tcp://127.0.0.1:{free_port()}")
        orders = OrderManager(adapter, Publisher(sock, Exchange.BINANCE), instruments)
        task = asyncio.create_task(orders.run())
        try:
            ws = adapter.ws_api["futures"]
            await eventually(lambda: ws.connected, timeout=20, what="the futures WS-API connected")
            yield sim, adapter, orders
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            sock.close(linger=0)
            await adapter.close()


async def test_a_submit_handled_at_once_has_its_request_on_the_wire_when_it_returns(
    placed: tuple[BinanceSim, BinanceAdapter, OrderManager],
) -> None:
    """The ROUTER's fast path hands a submit to the idle order actor from a loop callback: the
    placement's request is written to the venue's WS-API before that call returns (before: one
    turn of the event loop later, in the placement task's first step)."""
    _, adapter, orders = placed
    ws = adapter.ws_api["futures"]
    assert isinstance(ws, BinanceWsApi)
    book = await adapter.fetch_order_book(PERP, 5)
    assert book.best_bid is not None
    price = (book.best_bid.price * Decimal("0.9")).quantize(Decimal("0.1"))
    req = OrderRequest(
        key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.002"), price=price, tif=TimeInForce.IOC
    )
    await eventually(lambda: orders._idle, what="the order actor idle")

    def submit() -> tuple[asyncio.Future[Any] | None, int]:
        fut = orders.ask_nowait(Submit(req))
        return fut, ws.in_flight  # requests written to the socket and awaiting the venue's answer

    fut, in_flight = await in_callback(submit)
    assert fut is not None
    assert in_flight == 1
    order = await asyncio.wait_for(fut, 20)
    assert isinstance(order, Order)
    assert order.status in (OrderStatus.EXPIRED, OrderStatus.CANCELED, OrderStatus.NEW)
    assert orders.errors == 0
