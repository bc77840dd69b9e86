"""The PUB side: topics, per-topic sequence numbers, and counters.

Publishing never blocks the caller: the PUB socket drops for a slow subscriber at its
high-water mark (ZeroMQ's policy), and subscribers see that as a sequence gap and resync from
a book snapshot over the command socket.
"""

from __future__ import annotations

from collections import Counter

import zmq

from strategy_client.model import Exchange, InstrumentKey
from strategy_client.wire import Event, Header, TopicKind, encode, new_message_id, now_ns, topic

__all__ = ["Publisher"]


class Publisher:
    def __init__(self, socket: zmq.Socket[bytes], exchange: Exchange) -> None:
        self._sock = socket
        self.exchange = exchange
        self._seq: dict[bytes, int] = {}
        self.published: Counter[str] = Counter()
        self.send_errors = 0

    def publish(self, kind: TopicKind, event: Event, key: InstrumentKey | None = None) -> None:
        t = topic(kind, self.exchange, key)
        seq = self._seq.get(t, 0) + 1
        self._seq[t] = seq
        header = Header(id=new_message_id(), ts=now_ns(), seq=seq)
        try:
            self._sock.send_multipart((t, encode(header), encode(event)), flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self.send_errors += 1
            return
        self.published[kind.value] += 1

    def sequence(self, t: bytes) -> int:
        return self._seq.get(t, 0)

    def sequences(self) -> dict[bytes, int]:
        return dict(self._seq)
