"""ZmqEventSubscriber on a real runner: the late subscriber's snapshot, filters, and gaps —
made real by a relay between the runner's PUB and the subscriber that loses messages, as a
ZeroMQ high-water mark would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import zmq
import zmq.asyncio

from exchange_runner.ports import free_port
from strategy_client import ZmqEventSubscriber, ZmqRouter
from strategy_client.events import EventFilter, Gap, Received, Snapshot
from strategy_client.model import Exchange, OrderStatus
from strategy_client.wire import BookEvent, OrderEvent, OrderEventKind, TopicKind, decode_header

from ..integration.conftest import RunnerProc
from .helpers import PERP, SPOT, resting_buy


@pytest.fixture()
async def api(runner_a: RunnerProc, client_redis: str) -> AsyncIterator[ZmqRouter]:
    async with ZmqRouter(client_redis) as router:
        await router.wait_for(runner_a.name)
        yield router


async def test_late_subscriber_gets_a_snapshot_then_continuous_events(runner_a: RunnerProc, api: ZmqRouter) -> None:
    await api.get_reference_price(PERP)  # the runner has a book for it (a snapshot holds the books it has)
    async with await api.subscribe(keys=[PERP], runners=runner_a.name) as sub:
        first = await sub.get(5)
        assert isinstance(first, Snapshot) and first.reason == "initial" and first.runner == runner_a.name
        assert first.books is not None and [b.key for b in first.books] == [PERP]
        assert first.orders is not None and first.positions is not None  # fetched (maybe empty)
        assert first.funding is not None and [f.key for f in first.funding] == [PERP]
        assert first.account is None and not first.error  # account topics were not asked for
        books: list[Received] = []
        while len(books) < 5:
            item = await sub.get(5)
            assert isinstance(item, Received), item  # no gap, no notice
            assert item.key == PERP and item.kind in (TopicKind.BOOK, TopicKind.FUNDING, TopicKind.POSITION)
            if item.kind is TopicKind.BOOK:
                books.append(item)
        seqs = [b.seq for b in books]
        assert seqs == list(range(seqs[0], seqs[0] + 5))
        sequence = first.books[0].sequence
        assert all(isinstance(b.event, BookEvent) and b.event.book.sequence > sequence for b in books)
        assert sub.stats()["gaps"] == 0


async def test_filters_select_topics(runner_a: RunnerProc, api: ZmqRouter) -> None:
    bid = (await api.get_reference_price(SPOT, "bid")).price
    async with await api.subscribe(kinds="exec", keys=[SPOT], snapshot=False) as sub:
        perp_bid = (await api.get_reference_price(PERP, "bid")).price
        other = await api.submit_order(resting_buy(PERP, perp_bid, client_id="filter-perp"))
        mine = await api.submit_order(resting_buy(SPOT, bid, client_id="filter-spot"))
        await api.cancel_order(other)
        await api.cancel_order(mine)
        got: list[OrderEvent] = []
        while not got or got[-1].kind is not OrderEventKind.CANCEL:
            item = await sub.get(5)
            assert isinstance(item, Received) and item.topic == "exec|binance|spot|BTCUSDT|", item
            assert isinstance(item.event, OrderEvent)
            got.append(item.event)
        assert {e.order.client_id for e in got} == {"filter-spot"}
        assert [e.kind for e in got] == [OrderEventKind.NEW, OrderEventKind.CANCEL]


class LossyRelay:
    """SUB on the runner's PUB → PUB on a port of its own; ``drop(topic, seq)`` says what to lose."""

    def __init__(self, source: str, drop: Callable[[bytes, int], bool]) -> None:
        ctx = zmq.asyncio.Context.instance()
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(source)
        self.pub = ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.pub.bind(self.endpoint)
        self.drop = drop
        self.dropped: list[tuple[bytes, int]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            frames = await self.sub.recv_multipart()
            seq = decode_header(frames[1]).seq
            if self.drop(frames[0], seq):
                self.dropped.append((frames[0], seq))
                continue
            await self.pub.send_multipart(frames)

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.sub.close(linger=0)
        self.pub.close(linger=0)


async def test_gaps_are_detected_and_resynced(runner_a: RunnerProc, api: ZmqRouter) -> None:
    rec = api.runners()[runner_a.name]
    book_topic = b"ob|binance|perp|BTCUSDT|"
    exec_topic = b"exec|binance|spot|BTCUSDT|"
    lose_next_exec = asyncio.Event()

    def drop(t: bytes, seq: int) -> bool:
        if t == book_topic:
            return seq % 4 == 0  # lose every fourth book
        if t == exec_topic and lose_next_exec.is_set():
            lose_next_exec.clear()  # lose one execution report
            return True
        return False

    relay = LossyRelay(rec.pub_endpoint, drop)
    sub = ZmqEventSubscriber(
        relay.endpoint,
        runner=runner_a.name,
        exchange=Exchange.BINANCE,
        filter=EventFilter.of(kinds=("book", "exec"), keys=[PERP, SPOT]),
        api=api.runner(runner_a.name),
        snapshot=False,
    )
    try:
        await sub.start()
        gap = await next_gap(sub, TopicKind.BOOK)
        assert gap.reason == "gap" and gap.key == PERP and gap.lost == 1 and gap.received % 4 == 1
        assert gap.snapshot is not None and not gap.error
        assert gap.snapshot.books is not None and gap.snapshot.orders is None  # only the book was fetched
        if gap.snapshot.books:  # newer than what was delivered: it carries the current book
            assert gap.snapshot.books[0].key == PERP

        # an execution report lost on the way: the next one reveals it; open orders are resynced
        bid = (await api.get_reference_price(SPOT, "bid")).price
        seen = await api.submit_order(resting_buy(SPOT, bid, client_id="gap-exec-seen"))
        await api.cancel_order(seen)  # the subscriber now knows the topic's sequence
        async with asyncio.timeout(10):
            while True:
                item = await sub.get()
                if (
                    isinstance(item, Received)
                    and isinstance(item.event, OrderEvent)
                    and item.event.kind.value == "cancel"
                ):
                    break
        lose_next_exec.set()
        order = await api.submit_order(resting_buy(SPOT, bid, client_id="gap-exec"))  # NEW is lost
        await api.cancel_order(order)  # CANCEL reveals the gap
        # an exec gap is replayed from the runner's journal (replay_events): the lost NEW comes
        # back with its own sequence number, before the CANCEL that revealed it; no snapshot
        got: list[Received] = []
        async with asyncio.timeout(10):
            while len(got) < 2:
                item = await sub.get()
                assert not (isinstance(item, Gap) and item.kind is TopicKind.EXECUTION), item
                if not isinstance(item, Received):
                    continue
                if isinstance(item.event, OrderEvent) and item.event.order.client_id == "gap-exec":
                    got.append(item)
        replayed, after = got
        assert isinstance(replayed.event, OrderEvent) and isinstance(after.event, OrderEvent)
        assert replayed.event.kind is OrderEventKind.NEW and replayed.seq == after.seq - 1
        assert after.event.order.status is OrderStatus.CANCELED
        assert sub.replayed == 1 and sub.gaps >= 2 and sub.resync_failures == 0
        assert (exec_topic, after.seq - 1) in relay.dropped
    finally:
        await sub.close()
        await relay.close()


async def test_gap_without_a_command_client_is_still_reported(runner_a: RunnerProc, api: ZmqRouter) -> None:
    rec = api.runners()[runner_a.name]
    relay = LossyRelay(rec.pub_endpoint, lambda t, seq: t.startswith(b"ob|") and seq % 3 == 0)
    sub = ZmqEventSubscriber(
        relay.endpoint, runner="bare", exchange=Exchange.BINANCE, filter=EventFilter.of(kinds="book", keys=[PERP])
    )
    try:
        assert await sub.start()
        first = await sub.get(5)
        assert isinstance(first, Snapshot) and "no command client" in first.error

        gap = await next_gap(sub, TopicKind.BOOK)
        assert gap.snapshot is None and "no command client" in gap.error
        assert gap.lost == 1
    finally:
        await sub.close()
        await relay.close()


async def next_gap(sub: ZmqEventSubscriber, kind: TopicKind, within_s: float = 10.0) -> Gap:
    async with asyncio.timeout(within_s):
        while True:
            item = await sub.get()
            if isinstance(item, Gap) and item.kind is kind:
                return item
