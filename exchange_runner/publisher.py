"""The PUB side: topics, per-topic sequence numbers, counters — and what subscribers lost.

Publishing never blocks the caller, and one slow subscriber never costs another one an event.
The runner's socket is an XPUB (:func:`pub_socket`) that drops like a PUB: an event for a
subscriber whose queue is at its high-water mark is dropped **for that subscriber only**, by
libzmq, silently — the socket cannot say who lost what (``XPUB_NODROP``, which refuses the
send instead, refuses it for *every* subscriber of the topic while any one queue is full: a
paused notebook would stop ``exec``/``pos`` events for every strategy. It was tried and
removed).

So losses are counted where they are seen: every topic has its own sequence numbers (the
header's ``seq``), a subscriber that lost events sees the hole, and the client library's
subscriber reports each hole over the command socket (``report_gap``; coalesced, at most two
requests a second per subscriber: strategy_client/gap_report.py). :meth:`Publisher.report_gaps`
checks each range against the numbers this publisher has actually issued and counts the lost
events by topic kind and client kind — ``tradebus_publish_dropped_total{topic,client}``. The
count is the sum, over reporting subscribers, of the events each one did not receive; a
subscriber that does not report (a raw ZeroMQ SUB of a third party) is not in it
(docs/observability.md).

The XPUB is verbose (``XPUB_VERBOSER``): every subscription and unsubscription of every
subscriber comes up the socket; :meth:`read_subscriptions` reads them (with every status event
and at each scrape, so they never pile up) and keeps the number of subscribers per prefix
(``tradebus_pub_subscriptions{topic}``).

This is the market-data hot path (one call per book update), so it does as little as it can:
the topic of each (kind, instrument) is built once and kept, the three frames go out with three
calls of the backend's ``send`` (integer flags, copied: for frames this small copying is cheaper
than ZeroMQ's zero-copy bookkeeping; pyzmq's Python-level ``send``/``send_multipart`` wrappers,
which only add draft-API options, cost more than the send itself), and the counters are plain
dict entries. Nothing of the gap accounting runs per publish.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec
import zmq

import strategy_client.wire.envelope as _envelope
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderBook, TextBook
from strategy_client.wire import (
    BookEvent,
    Event,
    GapAck,
    GapRange,
    Header,
    TopicKind,
    encode,
    new_message_id,
    now_ns,
    topic,
)

__all__ = ["Publisher", "pub_socket", "MAX_CLIENT_KINDS", "TextBookEvent"]

_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_LAST = int(zmq.NOBLOCK)
_send = zmq.backend.Socket.send  # the compiled send under pyzmq's Python wrapper
_encoder = msgspec.msgpack.Encoder(decimal_format="string")  # strategy_client.wire.encode's
_encode_into = _encoder.encode_into
_time_ns = time.time_ns

#: Distinct client kinds kept as label values; later ones are counted as ``other``.
MAX_CLIENT_KINDS = 16
_KIND_OF_PREFIX = re.compile(rb"^([a-z]+)\|")
_KINDS = frozenset(k.value for k in TopicKind)


class TextBookEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag="book"):
    """:class:`~strategy_client.wire.BookEvent` of a :class:`TextBook`, for encoding only: the
    same MessagePack map (``event: "book"``, ``book`` with :class:`OrderBook`'s fields in its
    order, ``stale``), each level ``[price, qty]`` as the venue's text — which is how a Decimal
    level is encoded too — so a subscriber decodes it as a ``BookEvent`` with exactly the
    venue's Decimals (tests/runner/test_text_book.py)."""

    book: TextBook
    stale: bool = False


def _book_frame() -> tuple[bytes, bytes]:
    """The bytes of a ``BookEvent`` before and after its book (the event's map: its tag, the
    book, ``stale``), taken from the encoder itself."""
    probe = OrderBook(
        key=InstrumentKey(Exchange.BINANCE, "PROBE", MarketKind.SPOT), bids=(), asks=(), venue_ts_ms=1, local_ts_ns=2
    )
    whole, inner = _encoder.encode(BookEvent(book=probe)), _encoder.encode(probe)
    at = whole.index(inner)
    return whole[:at], whole[at + len(inner) :]


_BOOK_HEAD, _BOOK_END = _book_frame()
_ID_PREFIX = _envelope.MESSAGE_ID_PREFIX  # new_message_id()'s: its prefix and its counter
_next_id = _envelope.next_message_number


class _BookHeader(msgspec.Struct, frozen=True, gc=False):
    """The :class:`Header` of a published event as it encodes (``omit_defaults``: the protocol
    version and the empty fields are not sent): ``id``, ``ts``, ``seq`` — the same map, built
    positionally (tests/runner/test_text_book.py compares the bytes). The id is
    :func:`new_message_id`'s, from its own prefix and counter (inline: the books' hot path)."""

    id: str
    ts: int
    seq: int


_BOOK_AT = len(_BOOK_HEAD)


def pub_socket(ctx: zmq.Context[Any]) -> zmq.Socket[bytes]:
    """The runner's event socket: an XPUB that drops per subscriber (as a PUB does) and passes
    every (un)subscription up, so subscribers can be counted."""
    sock: zmq.Socket[bytes] = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.XPUB_VERBOSER, 1)
    return sock


class Publisher:
    def __init__(self, socket: zmq.Socket[bytes], exchange: Exchange) -> None:
        self._sock = socket
        self.exchange = exchange
        self._seq: dict[bytes, int] = {}
        self._topics: dict[tuple[TopicKind, InstrumentKey | None], bytes] = {}
        self._book_topics: dict[InstrumentKey, bytes] = {}  # the book topics, by key alone
        self._head = bytearray()  # publish_book's header, written in place
        self._body = bytearray(_BOOK_HEAD)  # publish_book's event: the head, then the book
        self._kind_of: dict[bytes, TopicKind] = {}
        self._published: dict[TopicKind, int] = dict.fromkeys(TopicKind, 0)
        self._books_published = 0  # publish_book's (an int: no enum lookup on the hot path)
        self._lost: dict[tuple[str, str], int] = {}  # (topic kind, client kind) → events reported lost
        self._clients: set[str] = set()  # client kinds seen (label values, bounded)
        self._xpub = socket.getsockopt(zmq.TYPE) == zmq.XPUB
        self.subscribers: Counter[bytes] = Counter()  # prefix → subscriptions to it now (XPUB only)
        self.send_errors = 0  # sends that failed (the socket is closing)
        self.gap_reports = 0  # report_gap requests taken
        self.gap_ranges_refused = 0  # ranges that named numbers this publisher never issued

    @property
    def published(self) -> Counter[str]:
        """Events published, by topic kind (``ob``, ``exec``...)."""
        counts = dict(self._published)
        counts[TopicKind.BOOK] += self._books_published
        return Counter({kind.value: n for kind, n in counts.items() if n})

    @property
    def dropped(self) -> Counter[str]:
        """Events subscribers reported lost, by topic kind (all client kinds)."""
        out: Counter[str] = Counter()
        for (kind, _), n in self._lost.items():
            out[kind] += n
        return out

    @property
    def dropped_by_client(self) -> dict[tuple[str, str], int]:
        """Events subscribers reported lost, by (topic kind, client kind)."""
        return dict(self._lost)

    def topic_of(self, kind: TopicKind, key: InstrumentKey | None = None) -> bytes:
        t = self._topics.get((kind, key))
        if t is None:
            t = self._topics[(kind, key)] = topic(kind, self.exchange, key)
            self._kind_of[t] = kind
        return t

    def publish(
        self, kind: TopicKind, event: Event, key: InstrumentKey | None = None, *, jseq: int = 0, body: bytes = b""
    ) -> None:
        """``jseq``/``body``: a journaled event's journal sequence and its wire encoding (as
        journaled; see exchange_runner/journaling.py)."""
        t = self._topics.get((kind, key))
        if t is None:
            t = self.topic_of(kind, key)
        seq = self._seq.get(t, 0) + 1
        self._seq[t] = seq
        header = encode(Header(id=new_message_id(), ts=now_ns(), seq=seq, jseq=jseq))
        if not body:
            body = encode(event)
        sock = self._sock
        try:
            _send(sock, t, _MORE)
            _send(sock, header, _MORE)
            _send(sock, body, _LAST)
        except zmq.ZMQError:  # the socket is closing (shutdown); a full queue never raises here
            self.send_errors += 1
            return
        self._published[kind] += 1
        if kind is TopicKind.STATUS:
            self.read_subscriptions()  # every few seconds: keep the XPUB's queue of them short

    def publish_book(self, book: OrderBook | TextBook) -> None:
        """``publish(TopicKind.BOOK, BookEvent(book=book), book.key)``, the hot path's own: the
        topic looked up by the key alone; the event's bytes are the fixed head of a
        ``BookEvent``, the book, the fixed tail (a :class:`TextBook` as its text), written into
        buffers kept for it; no subclass's ``publish`` in the way (books are never journaled)."""
        key = book.key
        t = self._book_topics.get(key)
        if t is None:
            t = self._book_topics[key] = self.topic_of(TopicKind.BOOK, key)
            self._seq.setdefault(t, 0)
        seq = self._seq[t] + 1
        self._seq[t] = seq
        head = self._head
        _encode_into(_BookHeader(f"{_ID_PREFIX}{_next_id()}", _time_ns(), seq), head)
        body = self._body
        _encode_into(book, body, _BOOK_AT)
        body += _BOOK_END
        sock = self._sock
        try:
            _send(sock, t, _MORE)
            _send(sock, head, _MORE)  # (copied: the buffers are free again once sent)
            _send(sock, body, _LAST)
        except zmq.ZMQError:  # the socket is closing (shutdown)
            self.send_errors += 1
            return
        self._books_published += 1

    # -- what subscribers lost ----------------------------------------------------------------
    def report_gaps(self, ranges: Iterable[GapRange], client_kind: str) -> GapAck:
        """Count the events a subscriber says it lost. A range counts only if it names a topic
        this publisher has published on and numbers it has issued (``first_missing`` ≤
        ``last_missing`` ≤ the topic's sequence) and ``lost`` fits in it; otherwise it is refused."""
        self.gap_reports += 1
        client = self._client_label(client_kind)
        counted = refused = 0
        for r in ranges:
            kind = self._kind_of.get(r.topic)
            last_issued = self._seq.get(r.topic, 0)
            if (
                kind is None
                or not r.first_missing <= r.last_missing <= last_issued
                or r.lost > r.last_missing - r.first_missing + 1
            ):
                refused += 1
                continue
            label = (kind.value, client)
            self._lost[label] = self._lost.get(label, 0) + r.lost
            counted += r.lost
        self.gap_ranges_refused += refused
        return GapAck(counted=counted, refused=refused)

    def _client_label(self, client_kind: str) -> str:
        clients = self._clients
        if client_kind not in clients:
            if len(clients) >= MAX_CLIENT_KINDS:
                return "other"
            clients.add(client_kind)
        return client_kind

    # -- who is subscribed ---------------------------------------------------------------------
    @property
    def subscriptions(self) -> set[bytes]:
        """Prefixes subscribed now (as last read)."""
        return set(self.subscribers)

    def read_subscriptions(self) -> set[bytes]:
        """Read the (un)subscriptions the XPUB passed up; the prefixes subscribed now."""
        if not self._xpub:
            return self.subscriptions
        sock = self._sock
        subs = self.subscribers
        while True:
            try:
                msg = sock.recv(zmq.NOBLOCK)
            except zmq.ZMQError:  # Again: none left (or the socket is closing)
                return self.subscriptions
            if msg[:1] == b"\x01":
                subs[msg[1:]] += 1
            elif msg[:1] == b"\x00":
                prefix = msg[1:]
                if subs[prefix] > 1:
                    subs[prefix] -= 1
                else:
                    subs.pop(prefix, None)

    def subscriptions_by_kind(self) -> Counter[str]:
        """Subscriptions now by the topic kind their prefix selects (``all``: an empty prefix,
        every topic), read fresh from the socket."""
        self.read_subscriptions()
        out: Counter[str] = Counter()
        for prefix, n in self.subscribers.items():
            m = _KIND_OF_PREFIX.match(prefix)
            kind = m.group(1).decode() if m else ""
            out[kind if kind in _KINDS else ("all" if not prefix else "other")] += n
        return out

    def sequence(self, t: bytes) -> int:
        return self._seq.get(t, 0)

    def sequences(self) -> dict[bytes, int]:
        return dict(self._seq)
