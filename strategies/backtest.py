"""``strategy spotperp --backtest PATH [--speed N|max]``: the real strategy, runner and client path
against a venue that replays a recording (docs/market-data.md#replay-and-backtests).

:func:`run_backtest` starts, in a fresh working directory, the offline venue of the strategy's
exchange replaying ``PATH`` held at the recording's start (``python -m exchanges.sim <exchange>
--replay PATH --hold``), a runner on it (``runner <exchange> --sim-connect``, registered in the
strategy's Redis under a name of its own, no journal, quality control's age bound off: the
recording's times are in the past), and runs the strategy through :func:`run_arbitrage` as any
run, with a fresh journal, until the recording ends; then it exits its positions, writes the usual
summary, ``--report`` and ``--plot``, and stops the runner and the venue.

**Lockstep** (:class:`Lockstep`): the strategy's clock is the recording's (the engine's
``clock_ns``), and the venue moves one step (its ``step_ms`` of recorded time, 100 ms) only when
the strategy has acted on the last one: grant a step (``POST /_sim/replay {"advance": 1,
"wait": true}``), wait until the strategy holds the books the venue now has (each book's update
id) and the funding the step pushed, evaluate once, wait until no phase (orders, hedges, exits) is
in flight, grant the next. Orders therefore reach the venue at the same recorded step in every
run, and the same recording gives the same fills and PnL. ``--speed N`` (passed to the venue, which
paces held steps too) keeps it at most N × real time; ``max`` (the default) as fast as the
strategy, runner and venue go. A bad recording or ``--speed`` is the venue's one line (exit 2).
Funding is applied as recorded: the venue settles it at the recorded times and rates, and the
payments reach the strategy as on a live venue. The engine's decision throttle (50/s) is
replaced by the one evaluation per step, and inventory is marked every 5 s of recorded time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from loguru import logger

from strategy_client.localports import PortsExhausted, free_port_pair
from strategy_client.model import InstrumentKey
from strategy_client.progress import Progress

from .arbitrage.config import SpotPerpConfig
from .runtime import RunOptions, run_arbitrage
from .startup import StrategyError

__all__ = ["BacktestError", "Lockstep", "run_backtest"]

MARK_EVERY_MS = 5_000
_WAIT_S = 5.0  # the most one step waits for the strategy to receive what the venue pushed
_LATE_IN_A_ROW = 3  # steps in a row that waited that long: the backtest ends, with the reason


class BacktestError(StrategyError):
    """The backtest could not start (a bad recording, the venue or runner did not come up): exit 2."""


@dataclass
class Lockstep:
    """Drives the replaying venue one step at a time behind the strategy (see the module doc)."""

    venue_url: str
    keys: list[InstrumentKey]
    now_ms: int = 0
    steps: int = 0
    late: int = 0  # steps whose pushes did not all reach the strategy within _WAIT_S
    status: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # why the backtest stopped before the recording's end
    wall_s: float = 0.0  # wall time from the first step to the recording's end
    recorded_ms: int = 0  # recorded time stepped through

    def clock_ns(self) -> int:
        """The strategy's clock: the recording's time at the current step."""
        return self.now_ms * 1_000_000

    async def _call(self, http: aiohttp.ClientSession, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.venue_url}/_sim/replay"
        request = http.post(url, json=body) if body is not None else http.get(url)
        async with request as resp:
            out: dict[str, Any] = await resp.json()
        self.status = out
        self.now_ms = int(out["now_ms"])
        return out

    async def prime(self) -> None:
        """The venue's start (its clock) before the strategy starts."""
        async with aiohttp.ClientSession() as http:
            await self._call(http)

    async def drive(self, session: Any) -> None:
        """The session's driver task: step until the recording ends, then ask the session to stop."""
        wall0 = time.monotonic()
        next_mark = start_ms = self.now_ms
        late_in_row = 0
        async with aiohttp.ClientSession() as http:
            status = await self._call(http)
            # a redrawn line on a terminal, log lines otherwise (strategy_client.progress)
            left_ms = max(0, int(status["end_ms"]) - self.now_ms)
            progress = Progress("backtest: recorded steps", max(1, -(-left_ms // int(status["step_ms"]))), sys.stderr)
            while not status["finished"]:
                status = await self._call(http, {"advance": 1, "wait": True})  # the venue paces --speed
                self.steps += 1
                progress.step()
                if await self._received(session, status):
                    late_in_row = 0
                else:
                    self.late += 1
                    late_in_row += 1
                    if late_in_row >= _LATE_IN_A_ROW:
                        self.error = (
                            f"the strategy stopped receiving the venue's books ({late_in_row} steps in a row "
                            f"waited {_WAIT_S:g}s each); see the runner's log"
                        )
                        break
                if self.now_ms >= next_mark:
                    self._mark(session)
                    next_mark = self.now_ms + MARK_EVERY_MS
                session.engine.evaluate()
                while session.engine.busy:  # noqa: ASYNC110 - the engine says busy; it has no event for idle
                    await asyncio.sleep(0.001)
        progress.finish()
        self._mark(session)
        self.wall_s, self.recorded_ms = time.monotonic() - wall0, self.now_ms - start_ms
        logger.info(
            "backtest: {:.1f}s of recording in {:.1f}s, {} steps ({:.2f} recorded hours per wall-clock minute)",
            self.recorded_ms / 1000,
            self.wall_s,
            self.steps,
            self.recorded_ms / 3_600_000 / max(self.wall_s / 60, 1e-9),
        )
        if self.late:
            logger.warning(
                "backtest: {} of {} steps went on before the strategy had all their data", self.late, self.steps
            )
        session.request_stop(self.error or f"recording ended after {self.steps} steps")

    async def _received(self, session: Any, status: dict[str, Any]) -> bool:
        """Wait until the strategy holds each book at the venue's update id and, when the step
        pushed the 1 s streams (mark price and funding), a funding rate of this step."""
        oracle = session.oracle
        books = status["books"]
        funding_due = status["pushed_ms"].get("1000") == self.now_ms
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline:
            now_ns = self.clock_ns()
            ok = True
            for key in self.keys:
                book = oracle.quote(key, now_ns).book
                want = books.get(f"{key.kind.value}:{key.symbol}", 0)
                if book is None or (book.sequence or 0) < want:
                    ok = False
                if funding_due and key.kind.value == "perp":
                    rate = oracle.funding_or_none(key, now_ns)
                    if rate is None or rate.ts_ms < self.now_ms:
                        ok = False
            if ok:
                return True
            await asyncio.sleep(0.0005)
        return False

    def _mark(self, session: Any) -> None:
        for key in self.keys:
            book = session.oracle.quote(key, self.clock_ns()).book
            if book is not None and book.mid is not None:
                session.engine.ledger.mark(key, book.mid, self.now_ms)


def _free_port_pair() -> int:
    """A port N with N and N+1 free (the Binance venue listens on both)."""
    try:
        return free_port_pair()
    except PortsExhausted as exc:
        raise BacktestError(str(exc)) from exc


@dataclass
class _Procs:
    work: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.work / f"{name}.log").open("wb") as fh:
            proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def log_tail(self, name: str) -> str:
        text = (self.work / f"{name}.log").read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-5:])

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _venue_ready(procs: _Procs, proc: subprocess.Popen[bytes], url: str) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                lines = procs.log_tail("venue").splitlines()
                error = next((ln for ln in reversed(lines) if ln.startswith("error: ")), "")
                if error:  # a bad recording or --speed: the venue's own line
                    raise BacktestError(error.removeprefix("error: "))
                raise BacktestError(f"the replaying venue did not start:\n{procs.log_tail('venue')}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/_sim/replay") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise BacktestError(f"the replaying venue did not answer within 60s:\n{procs.log_tail('venue')}")


@contextlib.contextmanager
def _workdir(keep: str | None) -> Iterator[Path]:
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="tradebus-backtest-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def run_backtest(cfg: SpotPerpConfig, opts: RunOptions, recording: str, speed: str = "max") -> int:
    """Run ``cfg`` against ``recording`` (see the module doc); the exit status of the run."""
    exchange = cfg.exchange.value
    with _workdir(os.environ.get("TRADEBUS_BACKTEST_DIR")) as work:
        procs = _Procs(work)
        port = _free_port_pair()
        venue_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TRADEBUS_DATA_DIR": str(work / "runner")}
        try:
            venue_args = [sys.executable, "-m", "exchanges.sim", exchange, "--port-base", str(port)]
            venue_args += [
                "--replay",
                recording,
                "--speed",
                speed,
                "--hold",
                "--no-rate-limits",
                "--symbols",
                cfg.symbol,
            ]
            if exchange == "binance":  # a listenKey outlives any recording replayed faster than real time
                venue_args += ["--listen-key-minutes", "100000000"]
            venue = procs.start("venue", venue_args, env)
            await _venue_ready(procs, venue, venue_url)
            name = f"backtest-{exchange}-{uuid.uuid4().hex[:6]}"
            runner_cfg = work / "runner.toml"
            # quality control off: the recording passed it when it was recorded, and its time checks
            # would compare recorded times, moving faster than real time, with an estimate of the
            # venue's clock measured once a second; funding comes from the venue's streams in
            # recorded time, never from a wall-clock REST poll
            runner_cfg.write_text(
                "[runner]\nfunding_poll_interval_s = 100000000.0\n\n[runner.quality]\nenabled = false\n"
            )
            runner_args = [sys.executable, "-m", "exchange_runner.cli", exchange, "--sim-connect", f"127.0.0.1:{port}"]
            runner_args += ["--redis-url", opts.redis_url or "", "--name", name, "--symbols", cfg.symbol]
            runner_args += ["--no-journal", "--config", str(runner_cfg)]
            procs.start("runner", runner_args, env)
            lockstep = Lockstep(venue_url, [cfg.spot_key, cfg.perp_key])
            await lockstep.prime()
            opts.runners = [name]
            opts.wait_runner_s = max(opts.wait_runner_s, 60.0)
            opts.clock_ns = lockstep.clock_ns
            opts.drive = lockstep.drive
            opts.data_dir, opts.journal, opts.adopt = str(work / "strategy"), None, False
            cfg = msgspec.structs.replace(cfg, duration_s=0)
            logger.info(
                "backtest: {} on {} (venue {}, runner {}; logs in {})", recording, exchange, venue_url, name, work
            )
            code = await run_arbitrage(cfg, opts)
            if lockstep.error:
                logger.error("backtest: {} (logs in {})", lockstep.error, work)
                return max(code, 1)
            return code
        finally:
            procs.stop()
