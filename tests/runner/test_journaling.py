"""JournalingPublisher on a real SQLite journal and a real XPUB socket: events go out only after
they are journaled, in order, with their journal sequence; a full writer queue overflows into
the ordered deque and loses nothing; a restart continues the sequence."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import zmq

from exchange_runner.journaling import JournalingPublisher, RunnerJournal
from exchange_runner.publisher import pub_socket
from strategy_client.journal import Journal, ProcessInfo
from strategy_client.model import (
    Exchange,
    InstrumentKey,
    MarketKind,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.wire import OrderEvent, OrderEventKind, TopicKind, decode_event, decode_header

from ..helpers import eventually

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
PROCESS = ProcessInfo(role="runner", name="binance:jp")


def _order(i: int) -> Order:
    return Order(
        key=KEY,
        client_id=f"jp-{i}",
        venue_id=str(i),
        side=Side.BUY,
        type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        price=Decimal("100"),
        qty=Decimal("0.001"),
        status=OrderStatus.NEW,
        created_ts_ms=1,
        updated_ts_ms=1,
    )


def _subscribed(pub: zmq.Socket[bytes], endpoint: str) -> zmq.Socket[bytes]:
    sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    assert pub.poll(5000), "the subscription reached the XPUB"
    assert pub.recv() == b"\x01"
    return sub


def _receive(sub: zmq.Socket[bytes], n: int, timeout_s: float = 10.0) -> list[tuple[int, int, str]]:
    got: list[tuple[int, int, str]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        if sub.poll(200):
            _, header, body = sub.recv_multipart()
            h = decode_header(header)
            ev = decode_event(body)
            assert isinstance(ev, OrderEvent)
            got.append((h.jseq, h.seq, ev.order.client_id))
    return got


async def test_a_full_writer_queue_overflows_in_order_and_loses_nothing(tmp_path: Path) -> None:
    journal = Journal.open(None, process=PROCESS, data_dir=tmp_path, queue_capacity=2)
    pub = pub_socket(zmq.Context.instance())
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = _subscribed(pub, f"tcp://127.0.0.1:{port}")
    try:
        publisher = JournalingPublisher(pub, Exchange.BINANCE, journal)
        async with asyncio.TaskGroup() as tg:
            writer = tg.create_task(journal.run_writer())
            pump = tg.create_task(publisher.pump())
            for i in range(50):
                publisher.publish(TopicKind.EXECUTION, OrderEvent(kind=OrderEventKind.NEW, order=_order(i)), KEY)
            assert publisher.overflowed > 0  # the queue of 2 was full: the rest waited in order
            # nothing is published before it is journaled (the writer has not run: no await since)
            assert _receive(sub, 1, timeout_s=0.2) == []
            await publisher.overflow_drained()
            await journal.flush(10)
            pump.cancel()
            await journal.drain(10)
            await writer
        got = await asyncio.to_thread(_receive, sub, 50)
        assert [g[2] for g in got] == [f"jp-{i}" for i in range(50)]
        assert [g[0] for g in got] == list(range(1, 51))  # the journal sequence, in the header
        assert [g[1] for g in got] == list(range(1, 51))  # the topic's own sequence
        events = journal.events_after(0)
        assert [e.seq for e in events] == list(range(1, 51))
        assert journal.close() == 0
        again = Journal.open(None, process=PROCESS, data_dir=tmp_path)
        try:
            assert JournalingPublisher(pub, Exchange.BINANCE, again).jseq == 50  # a restart continues
        finally:
            again.close()
    finally:
        sub.close(linger=0)
        pub.close(linger=0)


def _request(i: int) -> OrderRequest:
    return OrderRequest(
        key=KEY,
        side=Side.BUY,
        type=OrderType.LIMIT,
        qty=Decimal("0.001"),
        price=Decimal("100"),
        tif=TimeInForce.GTC,
        client_id=f"jp-{i}",
    )


async def test_the_writer_takes_an_intent_with_its_orders_answer_not_while_the_order_travels(tmp_path: Path) -> None:
    """The order path logs the intent, sends, then releases it: the writer's commit (CPU on the
    runner's core) must not run while the order is on its way to the venue — it takes the intent
    with the order's first journaled answer, in the same transaction, or ``handoff_s`` later."""
    journal = Journal.open(None, process=PROCESS, data_dir=tmp_path)
    pub = pub_socket(zmq.Context.instance())
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind_to_random_port("tcp://127.0.0.1")
    try:
        publisher = JournalingPublisher(pub, Exchange.BINANCE, journal)
        slow = RunnerJournal(journal, publisher, handoff_s=60.0)
        async with journal.running():
            slow.write_intent(_request(0))
            slow.release_intents()  # the order was sent
            for _ in range(20):  # the loop turns on (the venue's answer is not in yet)
                await asyncio.sleep(0)
            assert journal.stats.queue_depth == 0 and journal.stats.committed == 0
            batches = journal.stats.batches
            publisher.publish(TopicKind.EXECUTION, OrderEvent(kind=OrderEventKind.NEW, order=_order(0)), KEY)
            await journal.flush(10)  # the answer takes the intent along: one transaction
            assert journal.stats.committed == 2 and journal.stats.batches == batches + 1

            prompt = RunnerJournal(journal, publisher, handoff_s=0.02)
            prompt.write_intent(_request(1))
            prompt.release_intents()
            prompt.release_intents()  # one timer for whatever is held
            await eventually(lambda: journal.stats.committed == 3 or None, what="the unanswered intent committed")
            assert {o.client_id for o in journal.unresolved_orders()} >= {"jp-1"}

            now = RunnerJournal(journal, publisher, handoff_s=0)
            now.write_intent(_request(2))
            now.release_intents()
            assert journal.stats.queue_depth == 1  # 0: handed over at once
        assert journal.close() == 0
    finally:
        pub.close(linger=0)
