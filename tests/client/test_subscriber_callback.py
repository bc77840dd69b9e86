"""The subscriber's reader callback delivers events itself while its task sleeps; what has to wait
(room in a full queue, a gap's repair) goes to the task, in order, nothing lost (a local PUB
socket, no runner)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import zmq

from strategy_client.events import EventFilter, EventQueue, Gap, Received
from strategy_client.model import Exchange, InstrumentKey, MarketKind, Position
from strategy_client.subscriber import ZmqEventSubscriber
from strategy_client.wire import Header, PositionEvent, TopicKind, encode, topic
from tests.helpers import eventually

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
TOPIC = topic(TopicKind.POSITION, Exchange.BINANCE, KEY)


class Feed:
    def __init__(self, pub: zmq.Socket[bytes]) -> None:
        self.pub = pub

    def send(self, seq: int) -> None:
        """A position event (never dropped by a queue) whose size is its sequence number."""
        event = PositionEvent(position=Position(key=KEY, size=Decimal(seq), entry_price=Decimal("100")))
        header = Header(id=f"m{seq}", ts=time.time_ns(), seq=seq)
        self.pub.send_multipart([TOPIC, encode(header), encode(event)])


@pytest.fixture()
async def wired() -> AsyncIterator[tuple[Feed, ZmqEventSubscriber, EventQueue]]:
    ctx = zmq.Context.instance()
    pub: zmq.Socket[bytes] = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    queue = EventQueue(maxsize=4)
    sub = ZmqEventSubscriber(
        f"tcp://127.0.0.1:{port}",
        runner="r1",
        exchange=Exchange.BINANCE,
        filter=EventFilter.of(kinds="pos"),
        sink=queue,
        snapshot=False,
    )
    await sub.start()
    feed = Feed(pub)

    def first_arrived() -> bool:  # PUB drops until the subscription reached it: resend seq 1
        if queue.depth:
            return True
        feed.send(1)
        return False

    await eventually(first_arrived, timeout=10, what="the first event through the subscription")
    first = await queue.get(1)
    assert isinstance(first, Received) and first.seq == 1
    try:
        yield feed, sub, queue
    finally:
        await sub.close()
        pub.close(linger=0)


def size_of(item: object) -> int:
    assert isinstance(item, Received) and isinstance(item.event, PositionEvent), item
    return int(item.event.position.size)


async def test_a_burst_into_a_full_queue_is_delivered_in_order_by_callback_and_task(
    wired: tuple[Feed, ZmqEventSubscriber, EventQueue],
) -> None:
    feed, sub, queue = wired
    for seq in range(2, 22):
        feed.send(seq)
    # the callback filled the queue (4) and handed the fifth to the task, which waits for room
    await eventually(lambda: queue.waits >= 1, what="the task waiting for room in the queue")
    assert queue.depth == 4 and sub.taken_in_callback >= 4
    got = [size_of(await queue.get(5)) for _ in range(20)]
    assert got == list(range(2, 22))  # (a resent seq 1 arriving late is stale, never delivered)
    assert sub.lost == 0 and sub.gaps == 0


async def test_a_gap_found_in_the_callback_is_repaired_by_the_task_before_what_follows(
    wired: tuple[Feed, ZmqEventSubscriber, EventQueue],
) -> None:
    feed, sub, queue = wired
    feed.send(2)
    assert size_of(await queue.get(5)) == 2
    taken = sub.taken_in_callback
    feed.send(4)  # 3 never sent
    feed.send(5)
    gap = await queue.get(5)
    assert isinstance(gap, Gap) and (gap.expected, gap.received, gap.lost) == (3, 4, 1)
    assert gap.error  # no command client to fetch the position from: said, not hidden
    assert [size_of(await queue.get(5)) for _ in range(2)] == [4, 5]
    feed.send(6)
    assert size_of(await queue.get(5)) == 6
    assert sub.gaps == 1 and sub.lost == 1
    assert sub.taken_in_callback > taken  # events after the repair are taken in the callback again
