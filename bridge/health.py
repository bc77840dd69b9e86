"""One sink's connection life: up or down, one log line per outage, reconnect with backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence

import msgspec

from .envelope import Outgoing
from .sinks import Sink, SinkDown

__all__ = ["SinkHandle", "SinkStatus"]

log = logging.getLogger("bridge.sink")

_BACKOFF_MIN_S = 0.2
_BACKOFF_MAX_S = 5.0


class SinkStatus(msgspec.Struct, kw_only=True):
    name: str
    target: str
    up: bool
    since_ms: int  # when the current state began
    outages: int
    last_error: str
    published: int
    duplicates: int  # messages the broker reported as already stored (JetStream dedup)
    unroutable: int  # confirmed but routed to no queue (RabbitMQ: bind a queue for the key)
    batches: int


class SinkHandle:
    """Wraps a :class:`Sink`: lanes publish through it; the first failure marks it down (one
    warning line), :meth:`run` reconnects with backoff (0.2 s doubling to 5 s) and says when it
    is back (one info line with the outage's length)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.name = sink.name
        self.key = sink.checkpoint_key  # what the checkpoint rows are kept under
        sink.on_lost = self.mark_down
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._down.set()
        self._since = time.time()
        self.outages = 0
        self.last_error = ""
        self.published = 0
        self.duplicates = 0
        self.batches = 0
        self._first = True
        self._outage_logged = False  # one warning line per outage
        # bridge receive → broker acknowledgement of live events, the newest 100 000
        self.latencies_ns: deque[int] = deque(maxlen=100_000)

    @property
    def up(self) -> bool:
        return self._up.is_set()

    async def wait_up(self) -> None:
        await self._up.wait()

    async def publish(self, batch: Sequence[Outgoing]) -> None:
        if not self._up.is_set():
            raise SinkDown(self.name, "down")
        try:
            self.duplicates += await self.sink.publish(batch)
        except SinkDown as exc:
            self.mark_down(exc.line)
            raise
        self.published += len(batch)
        self.batches += 1
        now = time.time_ns()
        self.latencies_ns.extend(now - out.recv_ns for out in batch if not out.envelope.replayed)

    def mark_down(self, why: str) -> None:
        if not self._up.is_set():
            return
        self._up.clear()
        self._down.set()
        self._since = time.time()
        self.outages += 1
        self.last_error = why
        self._outage_logged = True
        log.warning(
            "sink %s DOWN: %s — journaled events wait in the runners' journals, market data is kept newest-only "
            "per topic; resuming from the last acknowledged point when it is back",
            self.name,
            why,
        )

    async def run(self) -> None:
        """Keep the sink connected (an owned task; runs until cancelled)."""
        backoff = _BACKOFF_MIN_S
        try:
            while True:
                await self._down.wait()
                try:
                    await self.sink.connect()
                except SinkDown as exc:
                    self.last_error = exc.line
                    if not self._outage_logged:
                        self._outage_logged = True
                        self.outages += 1
                        log.warning(
                            "sink %s DOWN: %s; retrying every ≤ %.0f s, nothing is lost meanwhile",
                            self.name,
                            exc.line,
                            _BACKOFF_MAX_S,
                        )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _BACKOFF_MAX_S)
                    continue
                backoff = _BACKOFF_MIN_S
                outage = time.time() - self._since
                if self._first:
                    log.info("sink %s up: %s", self.name, self.sink.describe())
                else:
                    log.info("sink %s UP again after %.1f s: %s", self.name, outage, self.sink.describe())
                self._first = False
                self._outage_logged = False
                self._since = time.time()
                self._down.clear()
                self._up.set()
        finally:
            await self.sink.close()

    def latency_summary(self) -> dict[str, float]:
        """p50/p90/p99/max in µs of the recorded latencies (empty when none)."""
        data = sorted(self.latencies_ns)
        if not data:
            return {}
        n = len(data)
        return {
            "n": float(n),
            "p50": data[n // 2] / 1000,
            "p90": data[min(n - 1, n * 9 // 10)] / 1000,
            "p99": data[min(n - 1, n * 99 // 100)] / 1000,
            "max": data[-1] / 1000,
        }

    def status(self) -> SinkStatus:
        return SinkStatus(
            name=self.name,
            target=self.sink.describe(),
            up=self.up,
            since_ms=int(self._since * 1000),
            outages=self.outages,
            last_error=self.last_error,
            published=self.published,
            duplicates=self.duplicates,
            unroutable=self.sink.unroutable,
            batches=self.batches,
        )
