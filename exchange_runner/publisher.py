"""The PUB side: topics, per-topic sequence numbers, and counters.

Publishing never blocks the caller: the PUB socket drops for a slow subscriber at its
high-water mark (ZeroMQ's policy), and subscribers see that as a sequence gap and resync from
a book snapshot over the command socket.

This is the market-data hot path (one call per book update), so it does as little as it can:
the topic of each (kind, instrument) is built once and kept, the three frames go out with three
calls of the backend's ``send`` (integer flags, copied: for frames this small copying is cheaper
than ZeroMQ's zero-copy bookkeeping; pyzmq's Python-level ``send``/``send_multipart`` wrappers,
which only add draft-API options, cost more than the send itself), and the counters are plain
dict entries.
"""

from __future__ import annotations

from collections import Counter

import zmq

from strategy_client.model import Exchange, InstrumentKey
from strategy_client.wire import Event, Header, TopicKind, encode, new_message_id, now_ns, topic

__all__ = ["Publisher"]

_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_LAST = int(zmq.NOBLOCK)
_send = zmq.backend.Socket.send  # the compiled send under pyzmq's Python wrapper


class Publisher:
    def __init__(self, socket: zmq.Socket[bytes], exchange: Exchange) -> None:
        self._sock = socket
        self.exchange = exchange
        self._seq: dict[bytes, int] = {}
        self._topics: dict[tuple[TopicKind, InstrumentKey | None], bytes] = {}
        self._published: dict[TopicKind, int] = dict.fromkeys(TopicKind, 0)
        self.send_errors = 0

    @property
    def published(self) -> Counter[str]:
        """Events published, by topic kind (``ob``, ``exec``...)."""
        return Counter({kind.value: n for kind, n in self._published.items() if n})

    def topic_of(self, kind: TopicKind, key: InstrumentKey | None = None) -> bytes:
        t = self._topics.get((kind, key))
        if t is None:
            t = self._topics[(kind, key)] = topic(kind, self.exchange, key)
        return t

    def publish(self, kind: TopicKind, event: Event, key: InstrumentKey | None = None) -> None:
        t = self._topics.get((kind, key))
        if t is None:
            t = self.topic_of(kind, key)
        seq = self._seq.get(t, 0) + 1
        self._seq[t] = seq
        header = encode(Header(id=new_message_id(), ts=now_ns(), seq=seq))
        body = encode(event)
        sock = self._sock
        try:
            _send(sock, t, _MORE)
            _send(sock, header, _MORE)
            _send(sock, body, _LAST)
        except zmq.Again:  # a PUB socket drops instead; kept for sockets that do not
            self.send_errors += 1
            return
        self._published[kind] += 1

    def sequence(self, t: bytes) -> int:
        return self._seq.get(t, 0)

    def sequences(self) -> dict[bytes, int]:
        return dict(self._seq)
