"""Publisher, unit by unit, on real in-process ZeroMQ sockets (no runner): the frames it sends,
its per-topic sequence numbers, how it checks and counts reported gaps, the bounded client-kind
label, a closing socket, and the subscriptions its XPUB passes up."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
import zmq

from exchange_runner.publisher import MAX_CLIENT_KINDS, Publisher, pub_socket
from strategy_client.model import BookLevel, Exchange, InstrumentKey, MarketKind, OrderBook
from strategy_client.wire import BookEvent, GapAck, GapRange, TopicKind, decode_event, decode_header, topic
from tests.helpers import eventually_sync

D = Decimal
BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
ETH = InstrumentKey(Exchange.BINANCE, "ETHUSDT", MarketKind.PERP)
_n = count(1)


def book_event(key: InstrumentKey) -> BookEvent:
    level = (BookLevel(D("100"), D("1")),)
    return BookEvent(book=OrderBook(key=key, bids=level, asks=level, venue_ts_ms=1, local_ts_ns=1, sequence=1))


@pytest.fixture
def ctx() -> Iterator[zmq.Context[Any]]:
    context: zmq.Context[Any] = zmq.Context()
    yield context
    context.destroy(linger=0)


def xpub(ctx: zmq.Context[Any]) -> tuple[Publisher, str]:
    sock = pub_socket(ctx)
    endpoint = f"inproc://publisher-test-{next(_n)}"
    sock.bind(endpoint)
    return Publisher(sock, Exchange.BINANCE), endpoint


def sub(ctx: zmq.Context[Any], endpoint: str, *prefixes: bytes) -> zmq.Socket[bytes]:
    sock: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
    sock.connect(endpoint)
    for p in prefixes:
        sock.subscribe(p)
    return sock


def test_each_topic_numbers_its_own_events_and_the_frames_decode(ctx: zmq.Context[Any]) -> None:
    pub, endpoint = xpub(ctx)
    reader = sub(ctx, endpoint, b"")
    eventually_sync(lambda: pub.read_subscriptions() == {b""}, what="the subscriber joined")
    for key in (BTC, BTC, ETH, BTC):
        pub.publish(TopicKind.BOOK, book_event(key), key)
    got = []
    for _ in range(4):
        t, header, body = reader.recv_multipart()
        got.append((t, decode_header(header).seq, decode_event(body)))
    btc, eth = topic(TopicKind.BOOK, Exchange.BINANCE, BTC), topic(TopicKind.BOOK, Exchange.BINANCE, ETH)
    assert [(t, seq) for t, seq, _ in got] == [(btc, 1), (btc, 2), (eth, 1), (btc, 3)]
    assert got[2][2] == book_event(ETH)
    assert pub.sequences() == {btc: 3, eth: 1}
    assert pub.published == {"ob": 4}


def test_a_gap_report_counts_only_numbers_that_were_issued(ctx: zmq.Context[Any]) -> None:
    pub, _ = xpub(ctx)
    btc = pub.topic_of(TopicKind.BOOK, BTC)
    for _ in range(10):
        pub.publish(TopicKind.BOOK, book_event(BTC), BTC)
    ack = pub.report_gaps(
        [
            GapRange(btc, 3, 5, 3),  # counted
            GapRange(btc, 7, 10, 2),  # coalesced holes: 2 of the 4 lost, counted
            GapRange(btc, 9, 11, 1),  # 11 was never issued
            GapRange(btc, 5, 4, 1),  # backwards
            GapRange(btc, 1, 2, 3),  # more lost than the range holds
            GapRange(b"ob|binance|perp|NOPE|", 1, 1, 1),  # a topic never published on
        ],
        "strategy",
    )
    assert ack == GapAck(counted=5, refused=4)
    assert pub.dropped == {"ob": 5} and pub.dropped_by_client == {("ob", "strategy"): 5}
    assert pub.gap_reports == 1 and pub.gap_ranges_refused == 4


def test_client_kinds_are_a_bounded_label(ctx: zmq.Context[Any]) -> None:
    pub, _ = xpub(ctx)
    btc = pub.topic_of(TopicKind.BOOK, BTC)
    pub.publish(TopicKind.BOOK, book_event(BTC), BTC)
    for i in range(MAX_CLIENT_KINDS + 3):
        pub.report_gaps([GapRange(btc, 1, 1, 1)], f"kind{i}")
    labels = {client for _, client in pub.dropped_by_client}
    assert len(labels) == MAX_CLIENT_KINDS + 1 and "other" in labels
    assert pub.dropped_by_client[("ob", "other")] == 3


def test_a_closed_socket_counts_a_send_error_and_nothing_published(ctx: zmq.Context[Any]) -> None:
    pub, _ = xpub(ctx)
    pub._sock.close(linger=0)
    pub.publish(TopicKind.BOOK, book_event(BTC), BTC)  # does not raise: the runner is shutting down
    assert pub.send_errors == 1 and pub.published == {}


def test_subscriptions_are_counted_by_prefix_and_kind_and_go_when_the_subscriber_goes(
    ctx: zmq.Context[Any],
) -> None:
    pub, endpoint = xpub(ctx)
    books = sub(ctx, endpoint, b"ob|")
    books_too = sub(ctx, endpoint, b"ob|binance|perp|BTCUSDT|")
    everything = sub(ctx, endpoint, b"")
    eventually_sync(lambda: sum(pub.subscriptions_by_kind().values()) == 3, what="three subscriptions")
    assert pub.subscriptions_by_kind() == {"ob": 2, "all": 1}
    books.close(linger=0)
    everything.unsubscribe(b"")
    eventually_sync(lambda: pub.subscriptions_by_kind() == {"ob": 1}, what="two subscriptions gone")
    assert pub.subscriptions == {b"ob|binance|perp|BTCUSDT|"}
    books_too.close(linger=0)
    everything.close(linger=0)
