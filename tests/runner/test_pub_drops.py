"""PUB drops are counted (issue 12, defect 7): a slow subscriber lost 100,123 events while
``tradebus_publish_dropped_total`` read 0. Real sockets over TCP; the subscriber's sequence
numbers are the ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import zmq

from exchange_runner.publisher import Publisher, pub_socket
from strategy_client.model import Exchange
from strategy_client.wire import RunnerStatusEvent, TopicKind, decode_header, topic
from tests.helpers import eventually_sync

EVENT = RunnerStatusEvent(exchange=Exchange.BINANCE, status="ready", detail="x" * 200)
STATUS = topic(TopicKind.STATUS, Exchange.BINANCE)


@dataclass
class Sub:
    sock: zmq.Socket[bytes]
    seqs: list[int] = field(default_factory=list)  # status topic
    accounts: list[int] = field(default_factory=list)  # account topic

    def read_all(self) -> int:
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return len(self.seqs)
            seq = decode_header(frames[1]).seq
            (self.seqs if frames[0] == STATUS else self.accounts).append(seq)

    def missed(self, first: int, last: int) -> int:
        """Events ``first..last`` this subscriber did not get (its sequence numbers say)."""
        return len(set(range(first, last + 1)) - set(self.seqs))


def caught_up(pub: Publisher, sub: Sub, last: int) -> None:
    """Until ``sub`` has everything of ``..last`` that reached it: an event after ``last`` got
    through (queues are FIFO). The probes sent meanwhile come after ``last``."""

    def past() -> bool:
        pub.publish(TopicKind.STATUS, EVENT)
        sub.read_all()
        return bool(sub.seqs) and sub.seqs[-1] > last

    eventually_sync(past, what="subscriber caught up")


@pytest.fixture()
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    c: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield c
    c.term()


def publisher(ctx: zmq.Context[zmq.Socket[bytes]], hwm: int) -> tuple[Publisher, str]:
    sock = pub_socket(ctx)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.SNDBUF, 4096)  # small kernel buffers: the queues fill sooner
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    return Publisher(sock, Exchange.BINANCE), f"tcp://127.0.0.1:{port}"


def subscriber(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, pub: Publisher, hwm: int) -> Sub:
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.RCVBUF, 4096)  # small kernel buffers: the queues fill sooner
    sock.connect(endpoint)
    sock.subscribe(b"status|")
    return Sub(sock)


def joined(pub: Publisher, subs: list[Sub]) -> None:
    """Wait until every subscriber gets events (no slow-joiner loss); then start counting."""

    def all_in() -> bool:
        pub.publish(TopicKind.STATUS, EVENT)
        return all(s.read_all() > 0 for s in subs)

    eventually_sync(all_in, what="subscribers joined")
    assert b"status|" in pub.read_subscriptions()


def test_a_subscriber_that_never_reads_loses_what_is_counted(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    pub, endpoint = publisher(ctx, hwm=100)
    stuck = subscriber(ctx, endpoint, pub, hwm=100)
    try:
        joined(pub, [stuck])
        first, before = pub.sequence(STATUS) + 1, pub.dropped["status"]
        for _ in range(20_000):  # a burst far beyond both high-water marks and the buffers
            pub.publish(TopicKind.STATUS, EVENT)
        last, dropped = pub.sequence(STATUS), pub.dropped["status"] - before
        assert dropped > 10_000
        caught_up(pub, stuck, last)  # the subscriber wakes up and takes all that reached it
        assert stuck.missed(first, last) == dropped  # exactly what it did not get
        assert pub.published["status"] + pub.dropped["status"] == pub.sequence(STATUS)
    finally:
        stuck.sock.close(linger=0)
        pub._sock.close(linger=0)


def test_a_full_queue_holds_back_its_topics_for_everyone_counted(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    """The trade-off of counting (docs/runner.md): while one subscriber's queue is full, an event
    on its topics goes to none of their subscribers — each sees the counted hole in the
    sequence — and topics it does not subscribe to flow on untouched."""
    pub, endpoint = publisher(ctx, hwm=200)
    stuck = subscriber(ctx, endpoint, pub, hwm=50)
    fast = subscriber(ctx, endpoint, pub, hwm=0)
    fast.sock.subscribe(b"acct|")
    account = topic(TopicKind.ACCOUNT, Exchange.BINANCE)
    try:
        joined(pub, [stuck, fast])
        first, before = pub.sequence(STATUS) + 1, pub.dropped["status"]
        for _ in range(100):  # bursts of 100 (< the fast one's 200): it reads after each, the stuck one never
            for _ in range(50):
                pub.publish(TopicKind.STATUS, EVENT)
                pub.publish(TopicKind.ACCOUNT, EVENT)
            target = pub.sequence(account)

            def fast_has_accounts() -> bool:
                fast.read_all()
                return bool(fast.accounts) and fast.accounts[-1] == target  # noqa: B023

            eventually_sync(fast_has_accounts, what="fast subscriber has the burst")
        last, dropped = pub.sequence(STATUS), pub.dropped["status"] - before
        assert dropped > 2_000 and pub.dropped["acct"] == 0
        assert fast.accounts == list(range(1, pub.sequence(account) + 1))  # untouched topic: all
        assert fast.missed(first, last) == dropped  # the holes, counted, seen as gaps
        fast.sock.close(linger=0)  # (it would not read the probes below)
        caught_up(pub, stuck, last)
        assert stuck.missed(first, last) == dropped  # the same holes
    finally:
        for s in (stuck, fast):
            s.sock.close(linger=0)
        pub._sock.close(linger=0)
