"""One runner → one sink: the outbox relay with its acknowledged point (docs/bus.md, "Ack and resume").

Journaled events (``exec``, ``pos``, ``acct``, funding payments) carry the runner's journal
sequence ``jseq``, gapless per runner. A lane publishes them strictly in ``jseq`` order and
records, after each acknowledged batch, the highest ``jseq`` up to which everything was
acknowledged. Whatever it has not got in order — at start (from the checkpoint), after its queue
overflowed, after the sink was down — it reads back from the runner's journal with
``replay_events`` before taking live events again; live events already covered are skipped.

Overflow policy (the lane's queue holds ``capacity`` events): the source never waits for a lane.
A journaled event that finds the queue full, or the sink down, is not queued — it stays in the
runner's journal and is replayed from there (back-pressure by the journal, nothing dropped).
Market data (books, funding rates, status, risk: never journaled) is kept newest-only per topic
instead and published when there is room again, with ``conflated`` = how many were skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Protocol

import msgspec

from strategy_client.aio import within
from strategy_client.coerce import ExchangeLike
from strategy_client.errors import CoreApiError, NotFound
from strategy_client.model import Exchange
from strategy_client.wire import EventsReply, decode_event, parse_topic

from .checkpoint import CheckpointStore
from .envelope import Outgoing, outgoing_replayed
from .health import SinkHandle
from .sinks import SinkDown

__all__ = ["Lane", "LaneStatus", "ReplaySource"]

log = logging.getLogger("bridge.lane")

_JOURNAL_CHECK_S = 1.0  # a lane reads the journal's end at least this often


class Replayer(Protocol):
    async def replay_events(
        self,
        exchange: ExchangeLike,
        after_seq: int = 0,
        *,
        topic: bytes = b"",
        limit: int = ...,
        timeout_s: float | None = None,
    ) -> EventsReply: ...


class ReplaySource:
    """What a lane needs of a runner: its journal, through ``replay_events`` (a ``RunnerApi``)."""

    def __init__(self, api: Replayer, exchange: Exchange, timeout_s: float = 5.0) -> None:
        self.api = api
        self.exchange = exchange
        self.timeout_s = timeout_s

    async def replay(self, after: int, limit: int) -> EventsReply:
        return await self.api.replay_events(self.exchange, after, limit=limit, timeout_s=self.timeout_s)


class LaneStatus(msgspec.Struct, kw_only=True):
    runner: str
    sink: str
    acked_jseq: int  # every journaled event up to it is acknowledged by the sink
    head_jseq: int  # the highest journal sequence seen at the runner
    lag: int  # head - acked
    queued: int
    capacity: int
    conflated_topics: int  # market-data topics waiting newest-only
    published: int
    replayed: int  # journaled events published from replay_events (catch-up)
    skipped_full: int  # journaled events not queued (queue full / sink down): taken from the journal later
    conflated: int  # market-data events skipped by newest-only delivery
    lost: int  # journaled events dropped for want of a journal (runner started --no-journal)
    journal: str  # ok | none (runner without a journal: live only) | waiting (runner unreachable)


class Lane:
    def __init__(
        self,
        runner: str,
        source: ReplaySource,
        handle: SinkHandle,
        store: CheckpointStore,
        *,
        capacity: int = 2_000,
        batch_max: int = 256,
        start: str = "earliest",
    ) -> None:
        self.runner = runner
        self.source = source
        self.handle = handle
        self.store = store
        self.capacity = capacity
        self.batch_max = batch_max
        self.start = start
        self.queue: deque[Outgoing] = deque()
        self.conflated_md: dict[str, tuple[Outgoing, int]] = {}
        self.acked = store.get(handle.key, runner)
        self._fresh = self.acked == 0  # no checkpoint yet: ``start`` decides where to begin
        self.head = self.acked
        self._wake = asyncio.Event()
        self._catchup = True  # always read the journal from the checkpoint first
        self._checked = 0.0  # monotonic time of the last complete read of the journal's end
        self.journal = "ok"
        self.published = 0
        self.replayed = 0
        self.skipped_full = 0
        self.conflated = 0
        self.lost = 0

    # -- the source side (never waits) --------------------------------------------------------
    def offer(self, out: Outgoing) -> None:
        full = len(self.queue) >= self.capacity or not self.handle.up
        if out.jseq:
            self.head = max(self.head, out.jseq)
            if full:
                if self.journal == "none":
                    self.lost += 1  # no journal to take it from later
                else:
                    self.skipped_full += 1
                self._wake.set()
                return
        elif full or out.topic in self.conflated_md:  # a topic once newest-only stays so until sent: order
            prev = self.conflated_md.get(out.topic)
            self.conflated_md[out.topic] = (out, prev[1] + 1 if prev is not None else 0)
            self.conflated += 1
            return
        self.queue.append(out)
        self._wake.set()

    # -- the lane's task ----------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self.handle.wait_up()
            try:
                if self._catch_up_due():
                    await self._catch_up()
                    continue
                if not await self._publish_queued() and not await self._publish_conflated():
                    self._wake.clear()
                    try:
                        await within(self._wake.wait(), _JOURNAL_CHECK_S)
                    except TimeoutError:
                        pass
            except SinkDown:
                self._catchup = True  # what the failed batch held comes back from the journal
            except CoreApiError as exc:
                await self._runner_unreachable(exc)

    def _catch_up_due(self) -> bool:
        """Read the journal now: asked to, a hole before the queue's next journaled event, or a
        second since the last look — an event published while the live subscription was
        (re)connecting (ZeroMQ delivers nothing before the connection is up) is found this way,
        busy or idle."""
        if self._catchup or time.monotonic() - self._checked >= _JOURNAL_CHECK_S:
            return True
        return self.head > self.acked and not self._next_in_queue()

    def _next_in_queue(self) -> bool:
        """The queue holds the next journaled event (``acked + 1``) before any later one."""
        for out in self.queue:
            if out.jseq and out.jseq > self.acked:
                return out.jseq == self.acked + 1
        return False

    async def _runner_unreachable(self, exc: CoreApiError) -> None:
        if self.journal != "waiting":
            log.warning("lane %s→%s: runner unreachable for replay (%s); retrying", self.runner, self.handle.name, exc)
            self.journal = "waiting"
        await asyncio.sleep(1.0)

    async def _publish_conflated(self) -> bool:
        """The newest-only market data, once the queue (older events) is empty: per topic, an
        event is never published after a newer one."""
        if not self.conflated_md or self.queue:
            return False
        topics = list(self.conflated_md)[: self.batch_max]
        items = [(t, *self.conflated_md.pop(t)) for t in topics]
        try:
            await self.handle.publish([_with_conflated(out, skipped) for _, out, skipped in items])
        except SinkDown:
            for t, out, skipped in items:  # kept for the next try, unless a newer one came meanwhile
                self.conflated_md.setdefault(t, (out, skipped))
            raise
        self.published += len(items)
        return True

    async def _publish_queued(self) -> bool:
        batch: list[Outgoing] = []
        acked = self.acked
        last_topic = ""
        while self.queue and len(batch) < self.batch_max:
            out = self.queue[0]
            if out.jseq:
                if out.jseq <= acked:  # already published (from the journal)
                    self.queue.popleft()
                    continue
                if out.jseq != acked + 1 and self.journal != "none":
                    self._catchup = True  # a hole: read it from the journal first
                    break
                acked, last_topic = out.jseq, out.topic
            batch.append(self.queue.popleft())
        if not batch:
            return False
        try:
            await self.handle.publish(batch)
        except SinkDown:
            self._keep_market_data(batch)
            raise
        self.published += len(batch)
        self._ack(acked, last_topic)
        return True

    def _keep_market_data(self, batch: list[Outgoing]) -> None:
        """A failed batch's market data: the newest of each topic is kept newest-only, unless a
        newer event of the topic is already queued or kept (order per topic)."""
        queued = {out.topic for out in self.queue}
        for out in reversed(batch):
            if not out.jseq and out.topic not in queued and out.topic not in self.conflated_md:
                self.conflated_md[out.topic] = (out, 0)

    def _ack(self, jseq: int, topic: str) -> None:
        if jseq > self.acked:
            self.acked = jseq
            self.store.set(self.handle.key, self.runner, jseq, topic)

    async def _catch_up(self) -> None:
        """Publish the journal's events after ``acked`` until it has no more."""
        after = self.acked
        while True:
            try:
                rep = await self.source.replay(after, self.batch_max)
            except NotFound:
                self._no_journal()
                return
            if self.journal != "ok":
                log.info("lane %s→%s: runner's journal reachable again", self.runner, self.handle.name)
                self.journal = "ok"
            if self._fresh:
                self._fresh = False
                if self.start == "latest":
                    self._ack(rep.last_seq, "")
                    after = rep.last_seq
                    continue
            if rep.last_seq < after:
                self._journal_reset(rep.last_seq)
                after = 0
                continue
            self.head = max(self.head, rep.last_seq)
            if rep.events:
                await self._publish_replayed(rep)
            if not rep.more:
                self._catchup = False
                self._checked = time.monotonic()
                return
            after = max(rep.next_after, self.acked)

    async def _publish_replayed(self, rep: EventsReply) -> None:
        now = time.time_ns()
        batch: list[Outgoing] = []
        for ev in rep.events:
            if ev.jseq <= self.acked:
                continue
            topic_text = ev.topic.decode()
            pt = parse_topic(ev.topic)
            key = str(pt.key) if pt.key is not None else ""
            try:
                event = decode_event(ev.event)
            except (msgspec.DecodeError, msgspec.ValidationError):
                log.warning(
                    "lane %s: journaled event %d on %s does not decode; skipped", self.runner, ev.jseq, topic_text
                )
                continue
            batch.append(
                outgoing_replayed(
                    self.runner, topic_text, pt.kind, pt.exchange.value, key, ev.jseq, ev.ts_ns, now, event
                )
            )
        if batch:
            await self.handle.publish(batch)
            self.published += len(batch)
            self.replayed += len(batch)
        last = rep.events[-1]
        self._ack(last.jseq, last.topic.decode())

    def _no_journal(self) -> None:
        if self.journal != "none":
            log.warning(
                "lane %s→%s: the runner has no journal (--no-journal): live events only; what is missed while the "
                "sink is down cannot be replayed",
                self.runner,
                self.handle.name,
            )
        self.journal = "none"
        self._catchup = False
        self._checked = time.monotonic()
        self._ack(self.head, "")

    def _journal_reset(self, last_seq: int) -> None:
        log.warning(
            "lane %s→%s: the runner's journal ends at %d, before the acknowledged %d (a new journal): starting over "
            "from its beginning",
            self.runner,
            self.handle.name,
            last_seq,
            self.acked,
        )
        self.acked = 0
        self.head = last_seq
        self.store.set(self.handle.key, self.runner, 0, "")

    def status(self) -> LaneStatus:
        return LaneStatus(
            runner=self.runner,
            sink=self.handle.name,
            acked_jseq=self.acked,
            head_jseq=self.head,
            lag=max(0, self.head - self.acked),
            queued=len(self.queue),
            capacity=self.capacity,
            conflated_topics=len(self.conflated_md),
            published=self.published,
            replayed=self.replayed,
            skipped_full=self.skipped_full,
            conflated=self.conflated,
            lost=self.lost,
            journal=self.journal,
        )


def _with_conflated(out: Outgoing, skipped: int) -> Outgoing:
    if not skipped:
        return out
    env = msgspec.structs.replace(out.envelope, conflated=skipped)
    return msgspec.structs.replace(out, envelope=env, encoded={})
