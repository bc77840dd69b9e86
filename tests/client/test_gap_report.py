"""The subscriber's gap reports (strategy_client/gap_report.py): holes counted by sequence,
coalesced per topic, rate-bound, never on the event path; an older runner turns reporting off.
Real sockets: the library's command client against a ROUTER served by the runner's ZmqServer."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import zmq
import zmq.asyncio

from exchange_runner.zmq_server import ZmqServer
from strategy_client.command_client import ZmqCommandClient
from strategy_client.gap_report import GapReporter, reporter_for
from strategy_client.model import Exchange
from strategy_client.wire import (
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorReply,
    GapAck,
    Header,
    Ping,
    Pong,
    Reply,
    ReportGap,
    Request,
)
from tests.helpers import eventually

A, B = b"exec|binance|perp|BTCUSDT|", b"status|binance|"


@dataclass
class Runner:
    """A ROUTER answering pings and ``report_gap`` (or, as a runner older than it, not)."""

    endpoint: str
    reports: list[tuple[float, ReportGap]] = field(default_factory=list)
    knows_report_gap: bool = True

    async def handle(self, req: Request, header: Header) -> Reply:
        if isinstance(req, Ping):
            return Pong(exchange=Exchange.BINANCE, runner_version="t", protocol_version=PROTOCOL_VERSION)
        if isinstance(req, ReportGap) and self.knows_report_gap:
            self.reports.append((time.monotonic(), req))
            return GapAck(counted=sum(g.lost for g in req.gaps))
        return ErrorReply(code=ErrorCode.UNKNOWN_METHOD, message=f"unknown method {type(req).__name__}")


@pytest.fixture()
async def runner() -> AsyncIterator[Runner]:
    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    r = Runner(f"tcp://127.0.0.1:{port}")
    task = asyncio.create_task(ZmqServer(router, r.handle).serve())
    try:
        yield r
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        router.close(linger=0)
        ctx.term()


async def test_holes_are_counted_coalesced_and_reported_at_a_bounded_rate(runner: Runner) -> None:
    api = ZmqCommandClient(runner.endpoint)
    await api.connect()
    rep = reporter_for(api, Exchange.BINANCE, runner="t", client_kind="notebook")
    try:
        t0 = time.perf_counter()
        for s in (1, 2, 3, 7, 8, 20):  # holes 4..6 and 9..19 on A
            rep.see(A, s)
        for s in (5, 6, 9):  # hole 7..8 on B; B's first event is not a hole
            rep.see(B, s)
        see_cost = time.perf_counter() - t0
        assert rep.lost == 3 + 11 + 2 and rep.gaps == 3 and rep.lost_by_topic == {A: 14, B: 2}
        await eventually(lambda: rep.reported == 16, what="the holes reported")
        assert len(runner.reports) == 1  # one request for all of them
        (req,) = [r for _, r in runner.reports]
        assert req.client_kind == "notebook"
        assert {(g.topic, g.first_missing, g.last_missing, g.lost) for g in req.gaps} == {(A, 4, 19, 14), (B, 7, 8, 2)}
        assert see_cost < 0.05  # dictionary work, no I/O

        start = time.monotonic()
        seq = 100
        while time.monotonic() - start < 1.2:  # a hole every millisecond for 1.2 s
            rep.see(A, seq)
            seq += 2
            await asyncio.sleep(0.001)
        await eventually(lambda: not rep.pending and rep.reported == rep.lost, what="all reported")
        times = [t for t, _ in runner.reports[1:]]
        assert 1 <= len(times) <= 4  # ≥ 0.5 s apart: never more than two a second
        assert all(b - a >= rep.min_interval_s * 0.9 for a, b in itertools.pairwise(times))
        assert rep.report_failures == 0 and rep.enabled
    finally:
        await rep.close()
        await api.close()


async def test_a_runner_without_report_gap_turns_reporting_off_counting_goes_on(runner: Runner) -> None:
    runner.knows_report_gap = False
    api = ZmqCommandClient(runner.endpoint)
    await api.connect()
    rep = reporter_for(api, Exchange.BINANCE, runner="t")
    try:
        rep.see(A, 1)
        rep.see(A, 5)
        await eventually(lambda: not rep.enabled, what="reporting turned off")
        assert rep.report_failures == 1 and not rep.pending
        rep.see(A, 9)  # still counted here, not sent
        assert rep.lost == 6 and rep.reported == 0
    finally:
        await rep.close()
        await api.close()


async def test_a_restart_is_not_a_hole_and_no_api_counts_locally() -> None:
    rep = GapReporter(None)
    rep.see(A, 10)
    rep.see(A, 1)  # the publisher started over
    rep.see(A, 2)
    rep.see(A, 0)  # unsequenced
    rep.see(A, 3)
    rep.restart()  # a reconnect: the runner may be a new one
    rep.see(A, 50)
    assert rep.lost == 0 and rep.gaps == 0
    rep.see(A, 53)
    assert rep.lost == 2 and not rep.pending and not rep.enabled  # nothing to send to
    assert reporter_for(None, Exchange.BINANCE).enabled is False
