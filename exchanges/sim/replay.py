"""A recording as the offline venues' market: ``python -m exchanges.sim <venue> --replay PATH``.

:class:`ReplayMarket` takes the place of the seeded market model inside the engine: at each step
it applies the recorded rows up to the venue's (virtual) time — a recorded book becomes the
market maker's levels on that book (exactly its prices and quantities; user orders the new
levels cross trade first, as makers), a funding row sets the rate, mark and index price and the
next funding time, a recorded trade goes on the public tape — and settles funding when the time
passes a recorded funding time, at the recorded rate and mark. Orders match against the
recorded book through the same engine and dialects as the seeded market, so every REST and
WebSocket route of the three venues serves the recording unchanged.

Time (:class:`ReplayClock`) is the recording's: it starts at ``Recording.start_ms`` and moves
in fixed steps of ``step_ms`` of recorded time, never with the wall clock. :class:`ReplayPacer`
says when the next step is taken:

* ``speed=N``: a step every ``step_ms / N`` of wall time (``N`` = 1: real time);
* ``speed=None`` (``--speed max``): as fast as the consumer keeps up. Free-running, the next step
  comes when the event loop has written the last one out. **Held** (``POST /_sim/replay``
  ``{"hold": true}``, or ``hold=True``), a step is taken only when granted (``{"advance": n}``
  or ``{"until_ms": T}``): a backtest driver grants the next step once its strategy has acted
  on the last one, so the orders of a run reach the same steps every time.

The recorded rows a step applies and what the engine does with them depend on nothing but the
recording and the orders, in their steps: the same recording, seed and orders at the same steps
give the same fills. After the last row the venue stays at the recording's end (books as last
recorded; ``GET /_sim/replay`` says ``finished``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec
from aiohttp import web

from strategy_client.model import MarketKind

from .engine import SimVenue
from .engine.core import BookId, EngineCore
from .engine.events import TradeExecuted
from .engine.liquidity import to_tick
from .engine.market import MarketModel
from .engine.views import MarkView, PublicTrade
from .recording import BookRow, FundingRow, Recording, RecordingError, TradeRow
from .server import Periodic, run_job

__all__ = ["ReplayClock", "ReplayMarket", "ReplayPacer", "RecordingError", "parse_speed", "replay_routes"]

_log = logging.getLogger("exchanges.sim.replay")
_NEVER = 2**62
ZERO = Decimal(0)


def parse_speed(text: str) -> float | None:
    """``--speed``: ``max`` → None (as fast as the consumer keeps up), else a positive factor."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise ValueError(f"--speed must be a positive number or 'max', got {text!r}") from None
    if not speed > 0 or speed == float("inf"):
        raise ValueError(f"--speed must be a positive number or 'max', got {text!r}")
    return speed


class ReplayClock:
    """The recording's time: moved by the pacer only, never backwards."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def set(self, now_ms: int) -> None:
        self._now = max(self._now, now_ms)


class ReplayMarket(MarketModel):
    """The engine's market from a :class:`Recording` (see the module doc)."""

    def __init__(self, core: EngineCore, now_ms: int, recording: Recording) -> None:
        self.recording = recording
        self.cursor = 0  # rows[:cursor] are applied
        self.ladders: dict[BookId, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}
        self.funding: dict[str, FundingRow] = {}
        self.dirty: set[BookId] = set()
        self.settled_ms: dict[str, int] = {}
        self.rows_applied = 0
        self.trades_applied = 0
        super().__init__(core, now_ms)
        for sched in self.schedules.values():
            sched.next_ms = _NEVER  # until a recorded funding row says when
        self._apply_until(now_ms)

    @property
    def finished(self) -> bool:
        return self.cursor >= len(self.recording.rows)

    # --- time ------------------------------------------------------------------------------

    def advance_to(self, now_ms: int) -> None:
        self._apply_until(now_ms)
        self.now_ms = max(self.now_ms, now_ms)

    def _apply_until(self, now_ms: int) -> None:
        rows = self.recording.rows
        while self.cursor < len(rows) and rows[self.cursor].ts_ms <= now_ms:
            row = rows[self.cursor]
            self._settle_due(row.ts_ms)
            self.now_ms = max(self.now_ms, row.ts_ms)
            self._apply(row)
            self.cursor += 1
            self.rows_applied += 1
        self._settle_due(now_ms)
        self.refresh_prices()

    def _apply(self, row: BookRow | FundingRow | TradeRow) -> None:
        core = self.core
        if isinstance(row, BookRow):
            key = (row.kind, row.symbol)
            if key in core.specs:
                self.ladders[key] = (dict(row.bids), dict(row.asks))
                self.dirty.add(key)
        elif isinstance(row, FundingRow):
            if row.symbol in core.perp_specs:
                self._apply_funding(row)
        elif (row.kind, row.symbol) in core.specs:
            self._apply_trade(row)

    def _apply_funding(self, row: FundingRow) -> None:
        self.funding[row.symbol] = row
        self.process.pin_funding(row.symbol, row.rate)
        sched = self.schedules[row.symbol]
        if row.interval_ms > 0:
            sched.interval_ms = row.interval_ms
        if row.next_ms > self.settled_ms.get(row.symbol, 0):
            sched.next_ms = row.next_ms

    def _apply_trade(self, row: TradeRow) -> None:
        core = self.core
        key = (row.kind, row.symbol)
        book = core.books[key]
        trade = PublicTrade(
            trade_id=book.next_trade_id(),
            price=row.price,
            qty=row.qty,
            buyer_is_maker=row.buyer_is_maker,
            maker_order_id=0,
            taker_order_id=0,
            ts_ms=row.ts_ms,
        )
        core.tapes[key].append(trade)
        self.trades_applied += 1
        if core.bus.active:
            core.bus.emit(TradeExecuted(kind=row.kind, symbol=row.symbol, trade=trade))

    def _settle_due(self, now_ms: int) -> None:
        """Settle every recorded funding time up to ``now_ms``, each at the rate then published."""
        for symbol, sched in self.schedules.items():
            while sched.next_ms <= now_ms:
                due = sched.next_ms
                self.refresh_prices()
                self.settle_funding(symbol, due)
                self.settled_ms[symbol] = due
                sched.next_ms = due + sched.interval_ms

    # --- prices and books ------------------------------------------------------------------

    def refresh_prices(self) -> None:
        """Reference prices: the recorded book's mid (on the tick); marks: the recorded mark."""
        core = self.core
        for key, spec in core.specs.items():
            mid = _mid(self.ladders.get(key))
            if mid is not None:
                core.refs[key] = to_tick(mid, spec.tick_size, ROUND_HALF_EVEN)
            elif key not in core.refs:
                core.refs[key] = to_tick(self.process.fair(spec), spec.tick_size, ROUND_HALF_EVEN)
            if spec.kind is MarketKind.PERP:
                row = self.funding.get(spec.symbol)
                core.marks[spec.symbol] = row.mark if row is not None else core.refs[key]

    def requote(self, key: BookId) -> None:
        """The market maker's levels of ``key`` as last recorded (none before its first book)."""
        bids, asks = self.ladders.get(key, ({}, {}))
        self.dirty.discard(key)
        self.apply_ladder(key, bids, asks)

    def requote_all(self) -> None:
        """Only the books a new recorded row changed: liquidity a user took stays taken until
        the recording shows that book again."""
        for key in sorted(self.dirty, key=lambda k: (k[0].value, k[1])):
            self.requote(key)

    def mark_view(self, symbol: str) -> MarkView:
        core = self.core
        core.perp_spec(symbol)
        sched = self.schedules[symbol]
        row = self.funding.get(symbol)
        mark = core.marks[symbol]
        index = row.index if row is not None else mark
        return MarkView(
            symbol=symbol,
            mark=mark,
            index=index,
            estimated_settle=index,
            funding_rate=row.rate if row is not None else ZERO,
            next_funding_ms=sched.next_ms if sched.next_ms < _NEVER else 0,
            interest_rate=core.config.interest_rate,
            funding_interval_ms=sched.interval_ms,
            ts_ms=self.now_ms,
        )

    def status(self) -> dict[str, Any]:
        rec = self.recording
        return {
            "recording": rec.url,
            "venue": rec.venue,
            "start_ms": rec.start_ms,
            "end_ms": rec.end_ms,
            "now_ms": self.now_ms,
            "rows": len(rec.rows),
            "rows_applied": self.rows_applied,
            "trades_applied": self.trades_applied,
            "finished": self.finished,
        }


def _mid(ladder: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]] | None) -> Decimal | None:
    if ladder is None or not ladder[0] or not ladder[1]:
        return None
    return (max(ladder[0]) + min(ladder[1])) / 2


class ReplayPacer:
    """The replay's step loop (see the module doc): one step of ``step_ms`` recorded time at a time."""

    def __init__(
        self, venue: SimVenue, clock: ReplayClock, market: ReplayMarket, *, step_ms: int, speed: float | None
    ) -> None:
        if step_ms <= 0:
            raise ValueError(f"step must be positive, got {step_ms} ms")
        self.venue = venue
        self.clock = clock
        self.market = market
        self.step_ms = step_ms
        self.speed = speed
        self.steps = 0
        self.jobs: list[tuple[Periodic, int]] = []  # (job, interval ms): run in recorded time
        self._due: list[int] = []
        self.pushed_ms: dict[int, int] = {}  # interval ms → the recorded time its jobs last ran
        self.job_errors: dict[str, int] = {}
        self.hold = False
        self._granted_until = 0  # held: steps are taken while the clock is below this
        self._wake = asyncio.Event()
        self._stepped = asyncio.Event()
        self._anchor: tuple[float, int] | None = None  # speed N: (wall time, steps) the pace counts from
        self.done = asyncio.Event()  # set once the recording's end has been replayed

    def add_jobs(self, jobs: list[Periodic]) -> None:
        """The dialect's periodic jobs (stream pushes, sweeps), run after each step whose recorded
        time reached their next due time — so a 100 ms stream pushes once per 100 ms of recording
        whatever the speed; due times are multiples of the interval from the replay's start."""
        start = self.clock.now_ms()
        for job in jobs:
            interval = max(1, round(job.interval_s * 1000))
            self.jobs.append((job, interval))
            self._due.append(start + interval)

    def step(self) -> None:
        """One step now: the clock moves ``step_ms`` (not past the recording's end), the venue
        steps, the jobs due run."""
        end = self.market.recording.end_ms
        self.clock.set(min(self.clock.now_ms() + self.step_ms, max(end, self.clock.now_ms())))
        self.venue.step()
        self.steps += 1
        self._run_jobs(self.clock.now_ms())
        if self.market.finished and self.clock.now_ms() >= end:
            self.done.set()
        self._stepped.set()

    def _run_jobs(self, now: int) -> None:
        for i, (job, interval) in enumerate(self.jobs):
            if now < self._due[i]:
                continue
            self._due[i] += ((now - self._due[i]) // interval + 1) * interval
            self.pushed_ms[interval] = now
            self._run_job(job)

    def _run_job(self, job: Periodic) -> None:
        run_job(job.name, job.fn, self.job_errors)

    async def advance(self, *, steps: int = 0, until_ms: int | None = None) -> None:
        """Held mode: grant, then wait until the granted steps are taken (or the recording ended)."""
        self.grant(steps=steps, until_ms=until_ms)
        while self.clock.now_ms() < self._granted_until and not self.done.is_set():
            self._stepped.clear()
            await self._stepped.wait()

    def grant(self, *, steps: int = 0, until_ms: int | None = None) -> None:
        """Held mode: allow ``steps`` more steps, or steps until the clock reaches ``until_ms``."""
        target = until_ms if until_ms is not None else self.clock.now_ms() + steps * self.step_ms
        self._granted_until = max(self._granted_until, target)
        self._wake.set()

    def set_hold(self, hold: bool) -> None:
        """Held: step only when granted; released: the pace counts from now (no burst to catch up)."""
        self.hold = hold
        self._granted_until = self.clock.now_ms()
        self._anchor = None
        self._wake.set()

    async def run(self) -> None:
        """Step until stopped (at the recording's end the venue keeps serving its last state)."""
        while not self.done.is_set():
            if self.hold and self.clock.now_ms() >= self._granted_until:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.speed is not None:  # held or not: at most speed × real time
                if self._anchor is None:
                    self._anchor = (time.monotonic(), self.steps)
                wall0, steps0 = self._anchor
                due = wall0 + (self.steps - steps0 + 1) * self.step_ms / 1000 / self.speed
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            else:
                await asyncio.sleep(0)
            self.step()
        _log.info("replay finished: %s", self.market.status())
        await self._after_end()

    async def _after_end(self) -> None:
        """The recording's end is held: the jobs go on in wall time (streams keep pushing the last state)."""
        if not self.jobs:
            await asyncio.Event().wait()
        tick_s = min(interval for _, interval in self.jobs) / 1000
        last = [time.monotonic()] * len(self.jobs)
        while True:
            await asyncio.sleep(tick_s)
            now = time.monotonic()
            for i, (job, interval) in enumerate(self.jobs):
                if now - last[i] >= interval / 1000 - 1e-3:
                    last[i] = now
                    self._run_job(job)

    def status(self) -> dict[str, Any]:
        """Where the replay is: recorded time, rows applied, each book's update id (``kind:SYMBOL``)
        and when the jobs of each interval last pushed (recorded ms)."""
        speed: float | str = self.speed if self.speed is not None else "max"
        books = {
            f"{spec.kind.value}:{spec.symbol}": self.venue.book(spec.kind, spec.symbol, 1).update_id
            for spec in self.venue.config.symbols
        }
        return {
            **self.market.status(),
            "speed": speed,
            "step_ms": self.step_ms,
            "steps": self.steps,
            "hold": self.hold,
            "granted_until_ms": self._granted_until,
            "books": books,
            "pushed_ms": {str(k): v for k, v in sorted(self.pushed_ms.items())},
        }


class _Control(msgspec.Struct, forbid_unknown_fields=True):
    hold: bool | None = None
    advance: int | None = None
    until_ms: int | None = None
    wait: bool = False  # answer once the granted steps are taken


_control = msgspec.json.Decoder(_Control)


def replay_routes(app: web.Application, pacer: ReplayPacer) -> None:
    """``GET /_sim/replay`` (where the replay is) and ``POST /_sim/replay`` (``{"hold": bool}``,
    ``{"advance": steps}``, ``{"until_ms": T}``; ``"wait": true`` answers once they are taken) on ``app``."""

    async def get(_: web.Request) -> web.Response:
        return web.json_response(pacer.status())

    async def post(request: web.Request) -> web.Response:
        try:
            body = _control.decode(await request.read())
        except msgspec.ValidationError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except msgspec.DecodeError as exc:
            return web.json_response({"error": f"not JSON: {exc}"}, status=400)
        if body.advance is not None and body.advance < 0:
            return web.json_response({"error": "advance must not be negative"}, status=400)
        if body.hold is not None:
            pacer.set_hold(body.hold)
        if body.advance is not None or body.until_ms is not None:
            if body.wait:
                await pacer.advance(steps=body.advance or 0, until_ms=body.until_ms)
            else:
                pacer.grant(steps=body.advance or 0, until_ms=body.until_ms)
        return web.json_response(pacer.status())

    app.router.add_get("/_sim/replay", get)
    app.router.add_post("/_sim/replay", post)
