"""A running strategy's lifecycle: its state in its journal, the control requests it takes from
other shells, and the transitions it publishes (docs/strategies.md, "Lifecycle").

At start (:meth:`Lifecycle.begin`) the instance's row is created in Draft the first time and
moved to Validating through the table (a failed state is revised to Draft first; a running
state left by a process that died is recorded as Stopped first; an archived instance does not
start). Once the start checks pass, :meth:`running` moves it to PaperTrading (``--paper``) or
Active. While it runs, :meth:`watch` writes a heartbeat every second and polls the row for
``pause`` / ``resume`` / ``stop`` requests every 0.2 s. At the end :meth:`stopped` records
Stopped with the reason.

Every transition is logged, handed to ``on_event`` (the session: engine pause flag, status line,
alerts) and published on Redis (``tradebus:strategy:lifecycle``, JSON) by :class:`EventPublisher`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable

import msgspec
import redis.asyncio as aioredis
from loguru import logger
from redis.exceptions import RedisError

from strategy_client.aio import within
from strategy_client.journal import Journal, JournalError
from strategy_client.journal.lifecycle import InstanceRow, LifecycleEvent, LifecycleStore, StaleState
from strategy_client.model.lifecycle import (
    RUNNING_STATES,
    IllegalTransition,
    LifecycleState,
    is_legal,
    resume_target,
)
from strategy_client.security import redact_url

__all__ = ["CHANNEL", "EventPublisher", "Lifecycle", "LifecycleRefused"]

S = LifecycleState
#: the Redis pub/sub channel every strategy's lifecycle transitions are published on
CHANNEL = "tradebus:strategy:lifecycle"
_FAILED = (S.VALIDATION_FAILED, S.BACKTEST_FAILED, S.PAPER_FAILED)
_ENCODER = msgspec.json.Encoder()


class LifecycleRefused(Exception):
    """The instance's lifecycle does not let this process run it (archived, or a state no run
    starts from): one line, exit status 2."""


class Lifecycle:
    def __init__(
        self,
        journal: Journal,
        *,
        name: str,
        strategy: str,
        paper: bool,
        on_event: Callable[[LifecycleEvent], None] | None = None,
        poll_s: float = 0.2,
    ) -> None:
        self.store = LifecycleStore(journal)
        self.stream = journal.stream
        self.name, self.strategy, self.paper = name, strategy, paper
        self.on_event = on_event
        self.poll_s = poll_s
        self.row: InstanceRow | None = None
        self.handled = 0
        self.stop_requested_by = ""
        self._warned = False

    @property
    def state(self) -> LifecycleState:
        return self.row.state if self.row is not None else S.DRAFT

    @property
    def paused(self) -> bool:
        return self.state is S.PAUSED

    # -- the process's own transitions --------------------------------------------------------
    def begin(self) -> None:
        """Draft (or Stopped, or a failed state) → Validating; :class:`LifecycleRefused` when not allowed."""
        row = self.store.register(
            stream=self.stream, name=self.name, strategy=self.strategy, mode="paper" if self.paper else "live"
        )
        self.row = row
        self.handled = row.request_id
        if row.answered_id < row.request_id:  # asked while nothing ran it: nobody acted on it
            self.store.answer(self.stream, row.request_id, "refused: the instance was not running")
        if row.state is S.ARCHIVED:
            raise LifecycleRefused(
                f"{self.name} is archived (since {_when(row.since_ms)}): an archived instance does not run again; "
                "use another --data-dir/--journal"
            )
        if row.state in RUNNING_STATES:
            self._move(S.STOPPED, f"the previous process (pid {row.pid} on {row.host}) ended without stopping")
        if self.state in _FAILED:
            self._move(S.DRAFT, f"revised: started again after {self.state.value}")
        if self.state is S.READY_FOR_LIVE and not self.paper:
            return  # Ready for live: running() activates it
        self._move(S.VALIDATING, "process started: start checks")

    def running(self) -> None:
        """The start checks passed: Validating → PaperTrading (--paper) or Active."""
        target = S.PAPER_TRADING if self.paper else S.ACTIVE
        self._move(target, "start checks passed")

    def failed(self, reason: str) -> None:
        if self.state is S.VALIDATING:
            self._try(S.VALIDATION_FAILED, reason)

    def stopped(self, reason: str) -> None:
        """The process ends: a running (or paused) instance → Stopped; a failed one stays failed."""
        if self.state in RUNNING_STATES:
            self._try(S.STOPPED, reason)

    def _try(self, target: LifecycleState, reason: str) -> None:
        try:
            self._move(target, reason)
        except (IllegalTransition, JournalError) as exc:
            logger.error("{}: lifecycle state not recorded: {}", self.name, exc)

    def _move(self, target: LifecycleState, reason: str, actor: str = "") -> LifecycleEvent:
        row = self.row
        assert row is not None
        try:
            ev = self.store.transition(row, target, reason=reason, actor=actor or "process", take_over=True)
        except IllegalTransition as exc:
            raise LifecycleRefused(str(exc)) from None
        except StaleState:
            fresh = self.store.get(self.stream)
            assert fresh is not None
            self.row = fresh
            ev = self.store.transition(fresh, target, reason=reason, actor=actor or "process", take_over=True)
        self.row = self.store.get(self.stream)
        logger.info(
            "lifecycle: {} {} → {} ({}{})",
            self.name,
            ev.from_state.value,
            ev.to_state.value,
            reason,
            f"; by {actor}" if actor else "",
        )
        if self.on_event is not None:
            self.on_event(ev)
        return ev

    # -- control from other shells ------------------------------------------------------------
    async def watch(self, open_count: Callable[[], int], request_stop: Callable[[str], None]) -> None:
        """Heartbeat every second; take pause/resume/stop requests within ``poll_s``."""
        last_beat = 0.0
        while True:
            try:
                now = time.monotonic()
                if now - last_beat >= 1.0:
                    last_beat = now
                    await asyncio.to_thread(self.store.heartbeat, self.stream, open_count())
                req = await asyncio.to_thread(self.store.pending_request, self.stream, self.handled)
                if req is not None:
                    self.handled = req.request_id
                    answer = self.take(req.state, req.by, request_stop)
                    await asyncio.to_thread(self.store.answer, self.stream, req.request_id, answer)
                self._warned = False
            except JournalError as exc:
                if not self._warned:
                    self._warned = True
                    logger.warning("{}: lifecycle row not readable (control requests wait): {}", self.name, exc.line)
            await asyncio.sleep(self.poll_s)

    def take(self, target: LifecycleState, by: str, request_stop: Callable[[str], None]) -> str:
        """One control request: the answer written back to the asking shell."""
        before = self.state
        if target is S.STOPPED and is_legal(before, S.STOPPED):
            self.stop_requested_by = by
            request_stop(f"stop requested by {by}")
            return f"stopping: {before.value} → stopped once the open pairs are handled"
        if target not in (S.PAUSED, resume_target(self.paper)):
            return f"refused: a running strategy takes pause, resume and stop only (asked: {target.value})"
        try:
            self._move(target, f"{'paused' if target is S.PAUSED else 'resumed'} by request", actor=by)
        except (LifecycleRefused, JournalError) as exc:
            return f"refused: {exc}"
        return f"{before.value} → {target.value}"


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + " UTC"


class EventPublisher:
    """Publishes lifecycle events on Redis pub/sub (:data:`CHANNEL`). Bounded: at most 256 events
    wait; when full the oldest is dropped (counted) — the journal keeps every transition, this is
    the live notification. A Redis that does not answer is one warning line; events wait for it."""

    def __init__(self, redis_url: str, maxlen: int = 256) -> None:
        self.url = redis_url
        self._queue: collections.deque[LifecycleEvent] = collections.deque(maxlen=maxlen)
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self.dropped = 0
        self.published = 0

    def __call__(self, ev: LifecycleEvent) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(ev)
        self._empty.clear()
        self._wake.set()

    async def run(self) -> None:
        client = aioredis.from_url(self.url)
        down = False
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    ev = self._queue[0]
                    try:
                        await client.publish(CHANNEL, _ENCODER.encode(ev))
                    except (RedisError, OSError) as exc:
                        if not down:
                            down = True
                            logger.warning("lifecycle events: Redis {} not reachable: {}", redact_url(self.url), exc)
                        await asyncio.sleep(1.0)
                        continue
                    down = False
                    self._queue.popleft()
                    self.published += 1
                self._empty.set()
        finally:
            await client.aclose()

    async def drain(self, timeout_s: float = 1.0) -> None:
        """Wait (at most ``timeout_s``) until every queued event is published."""
        with contextlib.suppress(TimeoutError):
            await within(self._empty.wait(), timeout_s)
