"""The command and market-data fast paths: an idle actor answers at once, queued messages keep
their order, the ROUTER's started path replies from a future, the feed hands out batches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import zmq
import zmq.asyncio

from exchange_runner.actors.base import Actor, Envelope
from exchange_runner.bus import DropOldestQueue
from exchange_runner.zmq_server import Pending, ZmqServer
from strategy_client.model import Exchange
from strategy_client.wire import (
    ErrorCode,
    ErrorReply,
    GetAccountSnapshot,
    GetAllPositions,
    Header,
    Ping,
    Pong,
    Reply,
    Request,
    decode_reply,
    encode,
)
from tests.helpers import eventually


class Recorder(Actor[Any]):
    """Answers ints with themselves, "boom" with an error, "coro" through a coroutine."""

    def __init__(self) -> None:
        super().__init__("rec", inbox_size=4)
        self.seen: list[Any] = []

    def _handle(self, msg: Any) -> Any:
        self.seen.append(msg)
        if msg == "boom":
            raise ValueError("boom")
        if msg == "coro":

            async def later() -> str:
                await asyncio.sleep(0)
                return "done later"

            return later()
        return msg


@pytest.fixture
async def actor() -> AsyncIterator[Recorder]:
    rec = Recorder()
    task = asyncio.create_task(rec.run())
    await eventually(lambda: rec._idle, what="actor idle")
    yield rec
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_idle_actor_answers_at_once(actor: Recorder) -> None:
    fut = actor.ask_nowait(1)
    assert fut is not None and fut.done() and fut.result() == 1
    assert actor.handled_at_once == 1
    bad = actor.ask_nowait("boom")
    assert bad is not None and isinstance(bad.exception(), ValueError)
    later = actor.ask_nowait("coro")
    assert later is not None and not later.done()  # the loop awaits the coroutine next
    assert await asyncio.wait_for(later, 2) == "done later"
    assert await actor.ask(7, 2) == 7


async def test_a_busy_actor_queues_and_keeps_order(actor: Recorder) -> None:
    await actor.tell("first")  # queued: the loop has not run yet
    fut = actor.ask_nowait(2)
    assert fut is not None and not fut.done()
    assert await asyncio.wait_for(fut, 2) == 2
    assert actor.seen == ["first", 2] and actor.handled_at_once == 0


async def test_full_inbox_refuses_nowait(actor: Recorder) -> None:
    for i in range(4):
        actor.inbox.try_put(Envelope(i, None))
    assert actor.ask_nowait(99) is None
    await eventually(lambda: actor.inbox.depth == 0, what="inbox drained")


async def test_drop_oldest_batches() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(3)
    waiter = asyncio.create_task(q.get_batch())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.put_nowait(1)
    assert await asyncio.wait_for(waiter, 1) == [1]
    for i in range(5):
        q.put_nowait(i)
    assert await q.get_batch() == [2, 3, 4] and q.dropped == 2 and q.depth == 0


# -- ZmqServer: the started path -------------------------------------------------------------


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, zmq.asyncio.Context, dict[str, Any]]]:
    state: dict[str, Any] = {"handled": 0, "pending": []}
    pong = Pong(exchange=Exchange.BINANCE, runner_version="t", protocol_version=1)

    async def handler(req: Request, header: Header) -> Reply:
        state["handled"] += 1
        return pong

    def starter(req: Request, header: Header) -> Reply | Pending | None:
        if isinstance(req, Ping):
            return pong
        if isinstance(req, GetAllPositions):
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            state["pending"].append(fut)

            def finish(f: asyncio.Future[Any]) -> Reply:
                exc = f.exception()
                if exc is not None:
                    return ErrorReply(code=ErrorCode.VENUE_UNAVAILABLE, message=type(exc).__name__)
                return pong

            return Pending(fut, finish, header.timeout_ms / 1000 if header.timeout_ms else 5.0)
        return None

    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    server = ZmqServer(router, handler, starter=starter, max_in_flight=2)
    task = asyncio.create_task(server.serve())
    state["server"] = server
    yield f"tcp://127.0.0.1:{port}", ctx, state
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    router.close(linger=0)
    ctx.term()


async def _call(ctx: zmq.asyncio.Context, endpoint: str, request: Request, timeout_ms: int = 0) -> Reply:
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)
    try:
        await dealer.send_multipart([encode(Header(id="x", timeout_ms=timeout_ms)), encode(request)])
        frames = await asyncio.wait_for(dealer.recv_multipart(), 5)
    finally:
        dealer.close(linger=0)
    return decode_reply(frames[1])


async def test_started_replies_now_or_from_the_future(served: tuple[str, zmq.asyncio.Context, dict[str, Any]]) -> None:
    endpoint, ctx, state = served
    assert isinstance(await _call(ctx, endpoint, Ping()), Pong)
    call = asyncio.create_task(_call(ctx, endpoint, GetAllPositions(exchange=Exchange.BINANCE)))
    await eventually(lambda: state["pending"], what="request started")
    assert not call.done()
    state["pending"][0].set_result(None)
    assert isinstance(await call, Pong)
    assert state["handled"] == 0 and state["server"].started == 1 and state["server"].in_flight == 0


async def test_started_request_times_out(served: tuple[str, zmq.asyncio.Context, dict[str, Any]]) -> None:
    endpoint, ctx, state = served
    reply = await _call(ctx, endpoint, GetAllPositions(exchange=Exchange.BINANCE), timeout_ms=50)
    assert isinstance(reply, ErrorReply) and reply.message == "TimeoutError"
    assert state["server"].in_flight == 0


async def test_requests_the_starter_declines_use_the_handler(
    served: tuple[str, zmq.asyncio.Context, dict[str, Any]],
) -> None:
    endpoint, ctx, state = served
    assert isinstance(await _call(ctx, endpoint, GetAccountSnapshot(exchange=Exchange.BINANCE)), Pong)
    assert state["handled"] == 1
