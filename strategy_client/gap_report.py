"""Lost events, counted by the subscriber that lost them and reported to the runner.

ZeroMQ drops an event silently for a subscriber whose receive/send queues are full (a process
that stopped reading): the runner's socket cannot tell, other subscribers are unaffected, and
the only trace is a hole in the topic's sequence numbers at that subscriber. :class:`GapReporter`
keeps, per topic, the highest sequence number received; a jump from ``high`` to ``seq`` means
``seq - high - 1`` events (``high + 1 .. seq - 1``) were lost. It counts them (``lost``,
``lost_by_topic``) and reports them to the runner with ``report_gap`` over the command socket,
where they are counted in ``tradebus_publish_dropped_total{topic,client}``.

The event path never waits for a report: :meth:`see` only does dictionary work. Holes wait in
``pending`` (one range per topic: coalesced, so bounded by the topics subscribed) and go out in
one request from the reporter's own task, at most one request every ``min_interval_s`` (0.5 s:
two a second per subscriber). A report that fails for a transient reason (runner unreachable,
timeout) stays pending and goes with the next one; a runner that does not know ``report_gap``
(older than this protocol) or refuses it (role) turns reporting off (``enabled`` False, one log
line) — the local counters go on.

A backwards step (``seq <= high``: the publisher restarted) starts the topic over; so does a
reconnect (:meth:`restart`), since the runner behind the endpoint may be a new one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .api_calls import CoreApiCalls
from .errors import BadReply, CoreApiError
from .model import Exchange
from .wire import ErrorCode
from .wire.gaps import MAX_GAP_RANGES, GapAck, GapRange

__all__ = ["GapReporter", "ReportFn", "reporter_for"]

log = logging.getLogger("strategy_client.gap_report")

#: Sends one report to the runner (``CoreApiCalls.report_gap`` bound to an exchange and kind).
ReportFn = Callable[[tuple[GapRange, ...]], Awaitable[GapAck]]

_REPORT_TIMEOUT_S = 2.0

#: Error codes that will not change by asking again: reporting is turned off.
_PERMANENT = frozenset(
    {ErrorCode.UNKNOWN_METHOD, ErrorCode.FORBIDDEN, ErrorCode.INVALID_PARAMS, ErrorCode.DECODE_ERROR}
)


class GapReporter:
    """Counts the holes in each topic's sequence and reports them (``send``; None: count only)."""

    def __init__(self, send: ReportFn | None, *, runner: str = "", min_interval_s: float = 0.5) -> None:
        self._send = send
        self.runner = runner
        self.min_interval_s = min_interval_s
        self._high: dict[bytes, int] = {}
        #: topic → [first_missing, last_missing, lost] not yet reported
        self.pending: dict[bytes, list[int]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.enabled = send is not None
        # counters
        self.lost = 0  # events this subscriber did not receive (by sequence)
        self.lost_by_topic: dict[bytes, int] = {}
        self.gaps = 0  # holes seen
        self.reported = 0  # lost events the runner acknowledged
        self.reports_sent = 0
        self.report_failures = 0

    def see(self, topic: bytes, seq: int) -> None:
        """An event numbered ``seq`` arrived on ``topic`` (the hot path: dictionary work only)."""
        if seq <= 0:  # unsequenced
            return
        high = self._high.get(topic)
        self._high[topic] = seq
        if high is None or seq == high + 1 or seq <= high:  # first, next, or the publisher started over
            return
        self._lost(topic, high + 1, seq - 1)

    def _lost(self, topic: bytes, first: int, last: int) -> None:
        n = last - first + 1
        self.lost += n
        self.gaps += 1
        self.lost_by_topic[topic] = self.lost_by_topic.get(topic, 0) + n
        if not self.enabled:
            return
        p = self.pending.get(topic)
        if p is None:
            self.pending[topic] = [first, last, n]
        else:
            p[0], p[1], p[2] = min(p[0], first), max(p[1], last), p[2] + n
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"gap-report:{self.runner}")
        self._wake.set()

    def restart(self) -> None:
        """A (re)connect: the publisher may be a new one; every topic starts over."""
        self._high.clear()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def flush(self) -> None:
        """Send what is pending now (tests, shutdown); failures stay pending."""
        if self.pending and self.enabled:
            await self._report()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.enabled:
                return
            await self._report()
            if self.pending:
                self._wake.set()
            await asyncio.sleep(self.min_interval_s)  # the rate bound: one request per interval

    async def _report(self) -> None:
        assert self._send is not None
        topics = list(self.pending)[:MAX_GAP_RANGES]
        batch = {t: self.pending.pop(t) for t in topics}
        ranges = tuple(GapRange(t, p[0], p[1], p[2]) for t, p in batch.items())
        try:
            ack = await self._send(ranges)
        except asyncio.CancelledError:
            self._merge(batch)
            raise
        except (CoreApiError, BadReply) as exc:
            self.report_failures += 1
            if isinstance(exc, BadReply) or exc.code in _PERMANENT:
                self.enabled = False
                self.pending.clear()
                log.warning(
                    "subscriber %s: the runner does not take gap reports (%s); counting locally", self.runner, exc
                )
                return
            self._merge(batch)  # transient: with the next report
            return
        self.reports_sent += 1
        self.reported += ack.counted

    def _merge(self, batch: dict[bytes, list[int]]) -> None:
        for t, (first, last, n) in batch.items():
            p = self.pending.get(t)
            if p is None:
                self.pending[t] = [first, last, n]
            else:
                p[0], p[1], p[2] = min(p[0], first), max(p[1], last), p[2] + n


def reporter_for(api: object, exchange: Exchange, *, runner: str = "", client_kind: str = "client") -> GapReporter:
    """A reporter that sends to ``api`` (a client of this library: ``ZmqRouter``,
    ``ZmqCommandClient``) — or only counts, when ``api`` cannot send gap reports (None, a
    :class:`~strategy_client.core_api.CoreApi` of another kind)."""
    if not isinstance(api, CoreApiCalls):
        return GapReporter(None, runner=runner)
    calls = api

    def send(ranges: tuple[GapRange, ...]) -> Awaitable[GapAck]:
        return calls.report_gap(exchange, ranges, client_kind=client_kind, timeout_s=_REPORT_TIMEOUT_S)

    return GapReporter(send, runner=runner)
