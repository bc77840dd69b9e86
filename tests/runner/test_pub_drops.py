"""PUB drops are counted (issue 12, defect 7) without one stuck subscriber costing the others.

A slow subscriber once lost 100,123 events while ``tradebus_publish_dropped_total`` read 0. The
first fix (XPUB_NODROP) counted exactly but refused each event for *every* subscriber of its
topic while any one queue was full. Now the socket drops per subscriber (libzmq), the client
library's subscriber finds its own holes by sequence number and reports them (``report_gap``),
and the runner counts what was reported. Real sockets over TCP throughout; the subscribers'
sequence numbers are the ground truth.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import zmq

from exchange_runner.config import RunnerConfig
from exchange_runner.ports import free_port, free_port_pair
from exchange_runner.publisher import Publisher, pub_socket
from exchange_runner.runner import ExchangeRunner
from exchange_runner.venues import open_venue
from strategy_client.command_client import ZmqCommandClient
from strategy_client.events import EventFilter, EventQueue, Received
from strategy_client.model import Exchange
from strategy_client.subscriber import ZmqEventSubscriber
from strategy_client.wire import (
    ErrorCode,
    ErrorReply,
    GapAck,
    GapRange,
    Header,
    ReportGap,
    RunnerStatusEvent,
    TopicKind,
    decode_header,
    decode_reply,
    encode,
    topic,
)
from tests.helpers import eventually, eventually_sync

T = TypeVar("T")
EVENT = RunnerStatusEvent(exchange=Exchange.BINANCE, status="ready", detail="x" * 200)
STATUS = topic(TopicKind.STATUS, Exchange.BINANCE)
STATUS_ONLY = EventFilter.of(kinds=[TopicKind.STATUS])


def missed(seqs: list[int]) -> int:
    """Numbers between the first and the last received that were not received."""
    return seqs[-1] - seqs[0] + 1 - len(set(seqs)) if seqs else 0


# -- a real runner, and subscribers of the client library ---------------------------------------


@pytest.fixture()
async def runner(redis_url: str) -> AsyncIterator[ExchangeRunner]:
    cfg = RunnerConfig(
        redis_url=redis_url,
        name=f"pubdrops-{os.getpid()}",
        symbols=["BTCUSDT"],
        sim_port_base=free_port_pair(),
        metrics_port=free_port(),
    )
    cfg.validate()
    async with open_venue(cfg) as adapter:
        r = ExchangeRunner(cfg, adapter)
        # small kernel buffers under its queues (set before it binds): a queue is full after its
        # SNDHWM (100,000 events) and a few KB more
        r.publisher._sock.setsockopt(zmq.SNDBUF, 4096)
        task = asyncio.create_task(r.run(), name="runner")
        try:
            await eventually(lambda: r.started.is_set() or task.done(), timeout=30, what="runner started")
            if task.done():
                task.result()
            yield r
        finally:
            r.stop()
            await asyncio.wait_for(task, 20)


@dataclass
class Reader:
    """A library subscriber on the status topic and what it received (sequence numbers)."""

    sub: ZmqEventSubscriber
    api: ZmqCommandClient
    seqs: list[int] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.api.connect()
        assert await self.sub.start()
        self.task = asyncio.get_running_loop().create_task(self._consume())

    async def _consume(self) -> None:
        async for item in self.sub:
            if isinstance(item, Received) and item.seq > 0:
                self.seqs.append(item.seq)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.sub.close()
        await self.api.close()


def reader(r: ExchangeRunner, *, kind: str, rcvhwm: int) -> Reader:
    api = ZmqCommandClient(r.router_endpoint, name=kind)
    sub = ZmqEventSubscriber(
        r.pub_endpoint,
        runner=r.config.name,
        exchange=r.exchange,
        filter=STATUS_ONLY,
        api=api,
        snapshot=False,
        sink=EventQueue(maxsize=100_000),
        rcvhwm=rcvhwm,
        client_kind=kind,
    )
    return Reader(sub, api)


class Notebook:
    """A subscriber in a process of its own kind: its own thread and event loop, which
    :meth:`pause` blocks outright (a paused notebook: nothing of it runs, nothing is read)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="notebook", daemon=True)
        self.thread.start()
        self._gate = threading.Event()

    async def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        """Run ``coro`` on the notebook's loop (this loop goes on: the runner lives here)."""
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(fut), timeout)

    def pause(self) -> None:
        self._gate.clear()
        self.loop.call_soon_threadsafe(self._gate.wait)

    def resume(self) -> None:
        self._gate.set()

    def stop(self) -> None:
        self._gate.set()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def publish_until(r: ExchangeRunner, done: Any, what: str) -> None:
    """Publish a status event now and then until ``done()``: a hole is seen only when an event
    after it arrives."""

    def probe() -> bool:
        r.publisher.publish(TopicKind.STATUS, EVENT)
        return bool(done())

    await eventually(probe, timeout=30, what=what)


async def test_a_stuck_subscriber_loses_only_its_own_events_and_every_loss_is_counted(
    runner: ExchangeRunner,
) -> None:
    pub = runner.publisher
    fast = reader(runner, kind="strategy", rcvhwm=100_000)
    notebook = Notebook()
    slow = reader(runner, kind="notebook", rcvhwm=10)  # its sockets are made on the notebook's loop
    try:
        await fast.start()
        await notebook.run(slow.start())
        await publish_until(runner, lambda: fast.seqs and slow.seqs, "both subscribers receive")
        assert pub.subscriptions_by_kind()["status"] == 2  # XPUB: each subscriber's subscription counted

        notebook.pause()
        first = pub.sequence(STATUS) + 1
        for _ in range(240):  # 120,000 events, past the runner's SNDHWM of 100,000 per subscriber;
            for _ in range(500):  # the fast one reads each 500 before the next
                pub.publish(TopicKind.STATUS, EVENT)
            target = pub.sequence(STATUS)
            await eventually(lambda: fast.seqs[-1] >= target, timeout=30, what="fast subscriber keeps up")  # noqa: B023
        last = pub.sequence(STATUS)

        # the fast subscriber got every event of the burst: nothing was held back for it
        assert [s for s in fast.seqs if first <= s <= last] == list(range(first, last + 1))
        assert fast.sub.lost == 0 and fast.sub.gaps == 0 and pub.dropped_by_client.get(("status", "strategy")) is None

        resumed = time.monotonic()
        notebook.resume()
        await publish_until(runner, lambda: slow.seqs and slow.seqs[-1] > last, "the notebook catches up")
        lost = missed(slow.seqs)  # ground truth: the notebook's own sequence numbers
        assert lost > 10_000  # it was stuck far past its queues
        # the runner counts the report before its ack reaches the notebook's loop: wait for both
        await eventually(
            lambda: pub.dropped["status"] == lost and slow.sub.losses.reported == lost,
            timeout=10,
            what="the loss reported, counted and acknowledged",
        )
        elapsed = time.monotonic() - resumed
        assert slow.sub.lost == lost and slow.sub.gaps >= 1 and slow.sub.losses.reported == lost
        assert pub.dropped_by_client == {("status", "notebook"): lost}  # exact, by sequence, and whose
        assert pub.gap_ranges_refused == 0
        assert 1 <= pub.gap_reports <= 2 + elapsed / slow.sub.losses.min_interval_s  # coalesced, rate-bound

        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{runner.config.metrics_port}/metrics")).text
        assert f'tradebus_publish_dropped_total{{client="notebook",topic="status"}} {float(lost)}' in text
        assert 'tradebus_pub_subscriptions{topic="status"} 2.0' in text
    finally:
        notebook.resume()
        try:
            await notebook.run(slow.close())
        finally:
            notebook.stop()
            await fast.close()


async def test_a_gap_report_is_checked_against_the_numbers_issued(runner: ExchangeRunner) -> None:
    """Over the command socket: what the runner never published is refused, not counted, and
    malformed reports are ``invalid_params`` at decode."""
    pub = runner.publisher
    for _ in range(10):
        pub.publish(TopicKind.STATUS, EVENT)
    top = pub.sequence(STATUS)
    api = ZmqCommandClient(runner.router_endpoint)
    try:
        ack = await api.report_gap(
            Exchange.BINANCE,
            [
                GapRange(STATUS, top - 4, top - 2, 3),  # counted
                GapRange(STATUS, top - 1, top + 5, 2),  # beyond what was published
                GapRange(b"exec|binance|perp|NOPE|", 1, 1, 1),  # a topic never published
                GapRange(STATUS, 2, 3, 5),  # more lost than the range holds
            ],
            client_kind="tool",
        )
        assert ack == GapAck(counted=3, refused=3)
        assert pub.dropped_by_client == {("status", "tool"): 3} and pub.gap_ranges_refused == 3
    finally:
        await api.close()

    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(runner.router_endpoint)
    try:
        bad = {"method": "report_gap", "gaps": [[STATUS, 5, 2, 0]], "client_kind": "Bad Kind!"}
        dealer.send_multipart([encode(Header(id="bad")), encode(bad)])

        def answered() -> bool:
            return dealer.poll(0) != 0

        await eventually(answered, what="an answer to the malformed report")
        frames = dealer.recv_multipart()
        assert decode_header(frames[0]).cid == "bad"
        reply = decode_reply(frames[1])
        assert isinstance(reply, ErrorReply) and reply.code is ErrorCode.INVALID_PARAMS
        assert pub.dropped_by_client == {("status", "tool"): 3}
    finally:
        dealer.close(linger=0)
    assert ReportGap.__struct_config__.tag == "report_gap"


# -- the socket alone ----------------------------------------------------------------------------


@pytest.fixture()
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    c: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield c
    c.term()


@dataclass
class RawSub:
    """A raw ZeroMQ SUB (what a third party would write): reads when told, reports nothing."""

    sock: zmq.Socket[bytes]
    seqs: list[int] = field(default_factory=list)

    def read_all(self) -> int:
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return len(self.seqs)
            self.seqs.append(decode_header(frames[1]).seq)


def raw_sub(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, hwm: int) -> RawSub:
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.RCVBUF, 4096)
    sock.connect(endpoint)
    sock.subscribe(b"status|")
    return RawSub(sock)


def test_the_socket_drops_per_subscriber_and_counts_subscriptions(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    """The runner's socket (``pub_socket``): a subscriber that never reads does not hold back
    the same topic for another (XPUB_NODROP did: the fast one missed what the stuck one could
    not take); subscriptions are counted per subscriber and prefix, and go when it goes."""
    sock = pub_socket(ctx)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 200)
    sock.setsockopt(zmq.SNDBUF, 4096)
    endpoint = f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"
    pub = Publisher(sock, Exchange.BINANCE)
    stuck, fast = raw_sub(ctx, endpoint, 10), raw_sub(ctx, endpoint, 0)
    try:

        def joined() -> bool:
            pub.publish(TopicKind.STATUS, EVENT)
            return stuck.read_all() > 0 and fast.read_all() > 0

        eventually_sync(joined, what="subscribers joined")
        eventually_sync(lambda: pub.subscriptions_by_kind()["status"] == 2, what="two subscriptions")
        first = pub.sequence(STATUS) + 1
        for _ in range(100):  # bursts of 100 (< the queue of 200): the fast one reads after each
            for _ in range(100):
                pub.publish(TopicKind.STATUS, EVENT)
            target = pub.sequence(STATUS)
            eventually_sync(lambda: fast.read_all() > 0 and fast.seqs[-1] == target, what="fast has the burst")  # noqa: B023
        last = pub.sequence(STATUS)
        assert [s for s in fast.seqs if s >= first] == list(range(first, last + 1))  # all of it
        stuck.read_all()
        assert last - first + 1 - len([s for s in stuck.seqs if s >= first]) > 5_000  # the stuck one lost
        assert pub.dropped["status"] == 0  # a raw subscriber reports nothing: not counted (documented)
        assert pub.published["status"] == pub.sequence(STATUS)
        stuck.sock.close(linger=0)
        eventually_sync(lambda: pub.subscriptions_by_kind()["status"] == 1, what="its subscription gone")
    finally:
        for s in (stuck, fast):
            s.sock.close(linger=0)
        sock.close(linger=0)
