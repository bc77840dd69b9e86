"""The runner's HTTP side: ``/metrics``, ``/healthz`` and ``/readyz`` on ``--metrics-port``.

``/readyz`` is 200 only when all of these hold, else 503 naming what is not ready:

* ``instruments_loaded`` — the venue listed the configured instruments;
* ``streams_live`` — every venue stream the runner consumes is live (books, user data,
  funding) **and** every WebSocket connection the adapter reported is up (a market-data
  connection that dropped and is reconnecting makes the runner not ready until it is back);
* ``registered`` — the last registration/heartbeat in Redis succeeded.
* ``credentials_ok`` — the venue accepted the API key/secret (else ``credentials_error``
  holds its one-line reason).
* ``commands_answering`` — the command socket answers: :class:`SelfPing` sends a ``ping``
  every second from a DEALER in the runner's own process, over TCP to the runner's ROUTER, its
  reader and its reply path — the way a client's command goes — and the check fails once a
  ping has gone unanswered for ``deadline_s`` (3 s). The body's ``self_ping`` says why.

The body also carries the runner's ``status``, its ``streams`` and ``ws_connections`` with the
names of those that are ``down``. ``/healthz`` answers while the process's event loop runs.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

import zmq
import zmq.asyncio
from loguru import logger

from strategy_client.security import CurveClient
from strategy_client.telemetry.http import MetricsServer, ReadinessReport
from strategy_client.wire import Header, Ping, Pong, decode_header, decode_reply, encode, now_ns

from .host import RunnerState
from .metrics import RunnerMetrics

__all__ = ["HealthSource", "runner_readiness", "RunnerHealth", "SelfPing", "loopback_endpoint"]

_PREFIX = "selfping-"


def loopback_endpoint(endpoint: str) -> str:
    """Where a socket in this process reaches a ROUTER bound on ``endpoint`` (``*``/``0.0.0.0``
    → ``127.0.0.1``)."""
    for wildcard in ("://0.0.0.0:", "://*:"):
        endpoint = endpoint.replace(wildcard, "://127.0.0.1:")
    return endpoint


class SelfPing:
    """Pings the runner's own ROUTER like any client, every ``interval_s``.

    :meth:`check` is ``(False, reason)`` once a ping has waited ``deadline_s`` without its pong
    (or none was answered within ``deadline_s`` of the start) — a stalled reader, a saturated
    server, a blocked reply path. Pings go on while it fails (the newest ``max_outstanding``
    unanswered ones are remembered, the age of the oldest is kept; the DEALER's send queue is
    bounded by ``SNDHWM``, a ping that does not fit is counted in ``send_failed``), so the check
    recovers with the first pong that comes back. Its pings count as ``ping`` commands in the
    runner's metrics (one a second).
    """

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        endpoint: str,
        *,
        interval_s: float = 1.0,
        deadline_s: float = 3.0,
        max_outstanding: int = 64,
        clock: Callable[[], float] = time.monotonic,
        curve: CurveClient | None = None,
    ) -> None:
        """``curve``: the key the DEALER presents when the ROUTER is a CURVE server."""
        self.ctx = ctx
        self.curve = curve
        self.endpoint = loopback_endpoint(endpoint)
        self.interval_s = interval_s
        self.deadline_s = deadline_s
        self.max_outstanding = max_outstanding
        self._clock = clock
        self._seq = itertools.count(1)
        self._sent: dict[int, float] = {}  # unanswered pings, oldest first: seq -> send time
        self._waiting_since: float | None = None  # send time of the oldest unanswered ping
        self._started: float | None = None
        self.sent = 0
        self.answered = 0
        self.send_failed = 0
        self.last_answer: float | None = None
        self.last_rtt_s: float | None = None

    async def run(self) -> None:
        """Ping until cancelled."""
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100)
        if self.curve is not None:
            self.curve.apply(sock)
        sock.connect(self.endpoint)
        self._started = self._clock()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read(sock), name="selfping.read")
                while True:
                    self._send(sock)
                    await asyncio.sleep(self.interval_s)
        finally:
            sock.close(linger=0)

    def _send(self, sock: zmq.asyncio.Socket) -> None:
        seq = next(self._seq)
        now = self._clock()
        try:
            sock.send_multipart([encode(Header(id=f"{_PREFIX}{seq}", ts=now_ns())), encode(Ping())], zmq.NOBLOCK)
        except zmq.Again:
            self.send_failed += 1
            return
        self.sent += 1
        self._sent[seq] = now
        if self._waiting_since is None:
            self._waiting_since = now
        while len(self._sent) > self.max_outstanding:
            del self._sent[next(iter(self._sent))]

    async def _read(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            frames = await sock.recv_multipart()
            try:
                header, reply = decode_header(frames[0]), decode_reply(frames[1])
                seq = int(header.cid.removeprefix(_PREFIX))
            except Exception as exc:  # noqa: BLE001 - our own runner's reply: log it, read on
                logger.warning("self-ping: undecodable reply: {}", exc)
                continue
            if isinstance(reply, Pong):
                self._answered(seq)
            else:
                logger.warning("self-ping: {} answered {!r}", header.cid, reply)

    def _answered(self, seq: int) -> None:
        now = self._clock()
        sent_at = self._sent.get(seq)
        if sent_at is not None:
            self.last_rtt_s = now - sent_at
        for done in [s for s in self._sent if s <= seq]:
            del self._sent[done]
        self._waiting_since = next(iter(self._sent.values()), None)
        self.answered += 1
        self.last_answer = now

    def check(self) -> tuple[bool, str]:
        """(answering, why not)."""
        now = self._clock()
        if self._started is None:
            return False, "self-ping not started"
        if self._waiting_since is not None and now - self._waiting_since > self.deadline_s:
            waited = now - self._waiting_since
            return False, f"a self-ping has had no answer for {waited:.1f}s (deadline {self.deadline_s:g}s)"
        if self.last_answer is None:
            return False, "no self-ping answered yet"
        return True, ""

    def detail(self) -> dict[str, Any]:
        ok, reason = self.check()
        out: dict[str, Any] = {"answering": ok, "sent": self.sent, "answered": self.answered}
        if self.last_rtt_s is not None:
            out["last_rtt_ms"] = round(self.last_rtt_s * 1000, 3)
        if self.last_answer is not None:
            out["last_answer_age_s"] = round(self._clock() - self.last_answer, 3)
        if reason:
            out["reason"] = reason
        return out


class HealthSource(RunnerState, Protocol):
    """What ``/healthz`` and ``/readyz`` read of their runner (``ExchangeRunner`` is one)."""

    @property
    def credentials_error(self) -> str: ...
    @property
    def self_ping(self) -> SelfPing | None: ...


def runner_readiness(runner: HealthSource, metrics: RunnerMetrics | None) -> ReadinessReport:
    checks = dict(runner.readiness())
    ws = metrics.ws_connections() if metrics is not None else {}
    down = sorted([name for name, ok in runner.streams.items() if not ok] + [n for n, ok in ws.items() if not ok])
    checks["streams_live"] = checks.get("streams_live", False) and all(ws.values())
    detail: dict[str, Any] = {
        "status": runner.status,
        "streams": dict(runner.streams),
        "ws_connections": ws,
        "down": down,
        "credentials_error": runner.credentials_error,
    }
    probe = runner.self_ping
    checks["commands_answering"] = probe is not None and probe.check()[0]
    if probe is not None:
        detail["self_ping"] = probe.detail()
    return ReadinessReport(checks=checks, detail=detail)


class RunnerHealth:
    """Owns the runner's :class:`MetricsServer` (start before the venue is touched, stop last)."""

    def __init__(self, runner: HealthSource, metrics: RunnerMetrics, *, host: str, port: int) -> None:
        self.runner = runner
        self.metrics = metrics
        self._started = time.monotonic()
        self.server = MetricsServer(metrics.registry, self.readiness, host=host, port=port, alive=self._alive)

    def readiness(self) -> ReadinessReport:
        return runner_readiness(self.runner, self.metrics)

    def _alive(self) -> dict[str, Any]:
        return {
            "exchange": self.runner.exchange.value,
            "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self._started, 3),
        }

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
