"""The PUB side: topics, per-topic sequence numbers, and counters — including what is lost.

Publishing never blocks the caller. ZeroMQ's PUB drops an event **silently** for a subscriber
whose queue is at its high-water mark (a slow subscriber once lost 100,123 events while the
drop counter read 0), so the runner's socket is an **XPUB with ``XPUB_NODROP``**
(:func:`pub_socket`): a send that would overflow a matching subscriber's queue fails with
``EAGAIN`` instead, and the publisher counts the event as dropped (``dropped``, by topic kind)
and goes on. That count is exact — one per event that did not go out — and every subscriber
concerned sees the hole in the topic's sequence numbers with the next event it gets, and
resyncs (a book from ``get_book_snapshot``; orders by ``get_order``).

The price (libzmq has no per-subscriber refusal): while one subscriber's queue is full, an
event on a topic it subscribes to goes to **none** of that topic's subscribers, where a PUB
would still have sent it to the others. A queue fills only ``SNDHWM`` (100,000 events) behind
— a process that stopped reading, not a slow one — and ``tradebus_publish_dropped_total``
says so at once. (Sending the refused event again with ``NODROP`` off would spare the others,
but the write that fails then parks the full queue outside libzmq's matching until it drains
by half, and every event it misses meanwhile is dropped silently again: no count.) See
docs/runner.md (queues) and docs/observability.md (metrics).

An XPUB also passes (un)subscriptions up: :meth:`read_subscriptions` reads them (with every
status event and at each scrape) so they never pile up, and keeps the subscribed prefixes.

This is the market-data hot path (one call per book update), so it does as little as it can:
the topic of each (kind, instrument) is built once and kept, the three frames go out with three
calls of the backend's ``send`` (integer flags, copied: for frames this small copying is cheaper
than ZeroMQ's zero-copy bookkeeping; pyzmq's Python-level ``send``/``send_multipart`` wrappers,
which only add draft-API options, cost more than the send itself), and the counters are plain
dict entries.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import zmq

from strategy_client.model import Exchange, InstrumentKey
from strategy_client.wire import Event, Header, TopicKind, encode, new_message_id, now_ns, topic

__all__ = ["Publisher", "pub_socket"]

_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_LAST = int(zmq.NOBLOCK)
_NODROP = int(zmq.XPUB_NODROP)
_send = zmq.backend.Socket.send  # the compiled send under pyzmq's Python wrapper


def pub_socket(ctx: zmq.Context[Any]) -> zmq.Socket[bytes]:
    """The runner's event socket: an XPUB that refuses (``EAGAIN``) instead of dropping silently."""
    sock: zmq.Socket[bytes] = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.XPUB_NODROP, 1)
    return sock


class Publisher:
    def __init__(self, socket: zmq.Socket[bytes], exchange: Exchange) -> None:
        self._sock = socket
        self.exchange = exchange
        self._seq: dict[bytes, int] = {}
        self._topics: dict[tuple[TopicKind, InstrumentKey | None], bytes] = {}
        self._published: dict[TopicKind, int] = dict.fromkeys(TopicKind, 0)
        self._dropped: dict[TopicKind, int] = dict.fromkeys(TopicKind, 0)
        self._xpub = socket.getsockopt(zmq.TYPE) == zmq.XPUB
        self.subscriptions: set[bytes] = set()  # prefixes subscribed (XPUB only)
        self.send_errors = 0  # sends that failed for another reason (socket closing)

    @property
    def published(self) -> Counter[str]:
        """Events published, by topic kind (``ob``, ``exec``...)."""
        return Counter({kind.value: n for kind, n in self._published.items() if n})

    @property
    def dropped(self) -> Counter[str]:
        """Events not sent because a subscriber of their topic had a full queue, by topic kind."""
        return Counter({kind.value: n for kind, n in self._dropped.items() if n})

    def topic_of(self, kind: TopicKind, key: InstrumentKey | None = None) -> bytes:
        t = self._topics.get((kind, key))
        if t is None:
            t = self._topics[(kind, key)] = topic(kind, self.exchange, key)
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
        part = 0
        try:
            _send(sock, t, _MORE)
            part = 1
            _send(sock, header, _MORE)
            part = 2
            _send(sock, body, _LAST)
        except zmq.Again:  # a subscriber's queue is full: the event is dropped, and counted
            self._dropped[kind] += 1
            if part:  # ZeroMQ checks the queues on the first part only; never leave half a message
                self._finish((t, header, body)[part:])
            return
        except zmq.ZMQError:  # the socket is closing (shutdown)
            self.send_errors += 1
            return
        self._published[kind] += 1
        if kind is TopicKind.STATUS:
            self.read_subscriptions()  # every few seconds: keep the XPUB's queue of them empty

    def _finish(self, frames: tuple[bytes, ...]) -> None:
        sock = self._sock
        try:
            if self._xpub:
                sock.setsockopt(_NODROP, 0)
            last = len(frames) - 1
            for i, frame in enumerate(frames):
                _send(sock, frame, _LAST if i == last else _MORE)
            if self._xpub:
                sock.setsockopt(_NODROP, 1)
        except zmq.ZMQError:  # the socket is closing
            self.send_errors += 1

    def read_subscriptions(self) -> set[bytes]:
        """Read the (un)subscriptions the XPUB passed up; the prefixes subscribed now."""
        if not self._xpub:
            return self.subscriptions
        sock = self._sock
        while True:
            try:
                msg = sock.recv(zmq.NOBLOCK)
            except zmq.ZMQError:  # Again: none left (or the socket is closing)
                return self.subscriptions
            if msg[:1] == b"\x01":
                self.subscriptions.add(msg[1:])
            elif msg[:1] == b"\x00":
                self.subscriptions.discard(msg[1:])

    def sequence(self, t: bytes) -> int:
        return self._seq.get(t, 0)

    def sequences(self) -> dict[bytes, int]:
        return dict(self._seq)
