"""Running an arbitrage strategy as a process: runners, events, paper execution, status, report.

``run_arbitrage`` is shared by ``strategy spotperp`` (event-driven: a decision on every book of
its pair) and ``strategy perpperp`` (poll-based: a decision every ``poll_interval_s``). It finds
the runners in Redis, subscribes to the pair's books, funding and executions, drives an
:class:`ArbitrageEngine` (over the runners, or over :class:`PaperExecution` with ``--paper``),
shows a live status, and at the end (duration, Ctrl-C, SIGTERM) stops cleanly — no naked leg —
and prints/writes the report. The stop takes at most ``stop_grace_s`` (default 20 s) after the
duration or the signal: whatever is not flat by then (an order whose outcome is still unknown,
an unwind or exit not finished) is listed with its reason and the exit status is 1.
"""

from __future__ import annotations

import asyncio
import fcntl
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from pathlib import Path
from typing import Any, TextIO

import msgspec
from loguru import logger

from strategy_client import __version__
from strategy_client.aio import within
from strategy_client.errors import CoreApiError
from strategy_client.events import Received
from strategy_client.journal import Journal, JournalError, ProcessInfo, resolve_target
from strategy_client.journal.lifecycle import LifecycleEvent
from strategy_client.model import Exchange, FundingRate, InstrumentKey, OrderBook
from strategy_client.model.lifecycle import LifecycleState
from strategy_client.paper import PaperConfig
from strategy_client.router import ZmqRouter
from strategy_client.telemetry.strategy_metrics import StrategyMetrics, serve_strategy_metrics
from strategy_client.wire import BookEvent

from .alert_events import StrategyAlerts
from .alerts import AlertConfig, Alerter
from .arbitrage.config import PerpPerpConfig, SpotPerpConfig
from .arbitrage.decision import DecisionPolicy
from .arbitrage.engine import ArbitrageEngine
from .arbitrage.execution import ExecutionPolicy
from .arbitrage.journaling import PairJournal
from .arbitrage.margin import MarginPolicy
from .arbitrage.oracle import PriceOracle
from .arbitrage.pair import ArbPair, FeeRates, Leg, LegId, orient_by_funding
from .arbitrage.resume import adopt, foreign_lines, holdings, load_states, reconcile, restore
from .arbitrage.state import Transition
from .feeds import FeedReport, FeedWatch
from .lifecycle import EventPublisher, Lifecycle, LifecycleRefused
from .paper import PaperExecution
from .progress import Progress
from .report import build_report, plot_pnl, summary_table, write_json
from .startup import StrategyError, connect_runners, size_problem

__all__ = ["RunOptions", "run_arbitrage", "StrategyError"]


@dataclass
class RunOptions:
    redis_url: str | None
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    close_on_stop: bool = True
    out: TextIO = field(default_factory=lambda: sys.stdout)
    status_interval_s: float = 10.0  # log line period when not on a terminal
    wait_runner_s: float = 15.0  # --wait-runner: how long to wait for a runner to register
    runners: list[str] = field(default_factory=list)  # --runner NAME: which runner serves its exchange
    alerts: AlertConfig | None = None  # --alert-webhook / --alert-telegram-chat: where alerts go
    data_dir: str | None = None  # the journal's data dir (--data-dir / $TRADEBUS_DATA_DIR / per-user)
    journal: str | None = None  # --journal URL (postgresql://… or a SQLite path)
    adopt: bool = False  # --adopt: take foreign positions on the pair's legs over
    # a backtest (strategies/backtest.py): the recording's clock, and the task that steps the venue
    # (it evaluates once per step instead of on every book, and marks inventory in recorded time)
    clock_ns: Callable[[], int] = time.time_ns
    drive: Callable[[Any], Coroutine[Any, Any, None]] | None = None


@dataclass
class _StrategyPlan:
    """What differs between spot-perp and perp-perp."""

    name: str
    exchanges: list[Exchange]
    keys: list[InstrumentKey]
    fees: dict[InstrumentKey, FeeRates]
    poll_s: float | None  # None: event-driven
    pair_for: Callable[[dict[InstrumentKey, Any], PriceOracle, int], ArbPair | None]


def _spotperp_plan(cfg: SpotPerpConfig) -> _StrategyPlan:
    spot, perp = cfg.spot_key, cfg.perp_key
    # paper takes a spot buy's fee from the base received, as the venues do (strategy_client.model.ledger):
    # the buy is grossed up the same way, or the spot leg would hold the hedge less the fee (a broken entry)
    spot_fees = cfg.fees.spot

    def pair_for(insts: dict[InstrumentKey, Any], oracle: PriceOracle, now_ns: int) -> ArbPair | None:
        return ArbPair(
            a=Leg(id=LegId.A, instrument=insts[spot], fees=spot_fees),
            b=Leg(id=LegId.B, instrument=insts[perp], fees=cfg.fees.perp),
        )

    return _StrategyPlan(
        name="spotperp",
        exchanges=[cfg.exchange],
        keys=[spot, perp],
        fees={spot: spot_fees, perp: cfg.fees.perp},
        poll_s=None,
        pair_for=pair_for,
    )


def _perpperp_plan(cfg: PerpPerpConfig) -> _StrategyPlan:
    ka, kb = (cfg.perp_key(ex) for ex in cfg.exchanges)

    def pair_for(insts: dict[InstrumentKey, Any], oracle: PriceOracle, now_ns: int) -> ArbPair | None:
        base = ArbPair(
            a=Leg(id=LegId.A, instrument=insts[ka], fees=cfg.fees_for(ka.exchange)),
            b=Leg(id=LegId.B, instrument=insts[kb], fees=cfg.fees_for(kb.exchange)),
        )
        fa, fb = oracle.funding_or_none(ka, now_ns), oracle.funding_or_none(kb, now_ns)
        if fa is None or fb is None:
            return None  # never decide without both venues' funding
        return orient_by_funding(base, fa, fb)

    return _StrategyPlan(
        name="perpperp",
        exchanges=list(cfg.exchanges),
        keys=[ka, kb],
        fees={ka: cfg.fees_for(ka.exchange), kb: cfg.fees_for(kb.exchange)},
        poll_s=cfg.poll_interval_s,
        pair_for=pair_for,
    )


def _paper_configs(plan: _StrategyPlan) -> dict[Exchange, PaperConfig]:
    out: dict[Exchange, PaperConfig] = {}
    for ex in plan.exchanges:
        perp = next((f for k, f in plan.fees.items() if k.exchange is ex and k.kind.value == "perp"), FeeRates())
        spot = next((f for k, f in plan.fees.items() if k.exchange is ex and k.kind.value == "spot"), None)
        out[ex] = PaperConfig(
            taker_fee=perp.taker,
            maker_fee=max(perp.maker, Decimal(0)),
            spot_taker_fee=spot.taker if spot else None,
            spot_maker_fee=max(spot.maker, Decimal(0)) if spot else None,
        )
    return out


async def run_arbitrage(cfg: SpotPerpConfig | PerpPerpConfig, opts: RunOptions) -> int:
    """Run until the configured duration or a signal; 0 when it ended clean, 1 when something is left."""
    plan = _spotperp_plan(cfg) if isinstance(cfg, SpotPerpConfig) else _perpperp_plan(cfg)
    mode = "paper" if cfg.paper else "live"
    metrics = StrategyMetrics(plan.name, mode=mode)
    metrics.attach_client()
    async with (
        serve_strategy_metrics(metrics, opts.metrics_port, host=opts.metrics_host),
        ZmqRouter(redis_url=opts.redis_url) as router,
    ):
        names = await connect_runners(
            router, plan.exchanges, opts.runners, timeout_s=opts.wait_runner_s, say=logger.info
        )
        insts: dict[InstrumentKey, Any] = {}
        prices: dict[str, Decimal] = {}
        for key in plan.keys:
            try:
                insts[key] = await router.get_instrument(key)
            except CoreApiError as exc:
                raise StrategyError(f"{key}: {exc}") from None
            try:
                prices[str(key)] = (await router.get_reference_price(key)).price
            except CoreApiError:
                pass  # no price yet: the notional minimum is checked by the venue
        problem = size_problem(_any_pair_of(plan, insts), cfg.size, prices, ExecutionPolicy(cfg.execution))
        if problem is not None:
            raise StrategyError(f"{problem}; pass a larger --size")
        journal = open_journal(plan.name, cfg.paper, opts)
        publisher = EventPublisher(router.redis_url)
        lifecycle = Lifecycle(journal, name=journal_name(plan.name, cfg.paper), strategy=plan.name, paper=cfg.paper)
        failure: list[Exception] = []  # raised outside the task group, unwrapped (StrategyError → exit 2)
        code = 1
        try:
            async with asyncio.TaskGroup() as tg:
                pub_task = tg.create_task(publisher.run(), name="strategy.lifecycle.publish")
                try:
                    session = _Session(cfg, plan, router, insts, metrics, opts, mode, journal)
                    session.runner_names = sorted(set(names.values()))
                    code = await _run_session(session, lifecycle, publisher)
                except Exception as exc:  # noqa: BLE001 - re-raised below, outside the group
                    failure.append(exc)
                finally:
                    await publisher.drain(timeout_s=1.0)
                    pub_task.cancel()
            if failure:
                raise failure[0]
            return code
        finally:
            lost = journal.close()
            if lost:
                logger.error("{}: {} journal records were never committed", plan.name, lost)
            while _LOCKS:
                _LOCKS.pop().close()


async def _run_session(session: _Session, lifecycle: Lifecycle, publish: Callable[[LifecycleEvent], None]) -> int:
    """The session between the lifecycle's Validating and its Stopped (docs/strategies.md, "Lifecycle")."""

    def on_event(ev: LifecycleEvent) -> None:
        session.on_lifecycle(ev)
        publish(ev)

    session.lifecycle = lifecycle
    lifecycle.on_event = on_event
    try:
        lifecycle.begin()
    except (LifecycleRefused, JournalError) as exc:
        raise StrategyError(str(exc)) from None
    reason = "ended"
    try:
        code = await session.run()
        reason = session.stop_reason or reason
        return code
    except BaseException as exc:
        reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else f"{type(exc).__name__}: {exc}"
        lifecycle.failed(reason)
        raise
    finally:
        lifecycle.stopped(reason)


def journal_name(strategy: str, paper: bool) -> str:
    """The journal's process name: a paper run journals into its own stream (and file)."""
    return f"{strategy}-paper" if paper else strategy


_LOCKS: list[Any] = []  # held for the life of the process (released by the OS on exit or kill -9)


def lock_stream(strategy: str, paper: bool, opts: RunOptions) -> None:
    """One process per strategy journal: a second ``strategy spotperp`` on the same SQLite journal
    would resume the first one's pairs while it still trades them. An exclusive ``flock`` on
    ``<journal>.lock`` (a PostgreSQL journal is not locked: give each process its own stream)."""
    name = journal_name(strategy, paper)
    try:
        target = resolve_target(opts.journal, stream=f"strategy:{name}", data_dir=opts.data_dir)
    except JournalError as exc:
        raise StrategyError(exc.line) from None
    if target.dialect != "sqlite":
        return
    path = Path(target.path + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise StrategyError(
            f"another {name} process is running on the journal {target.path} (locked: {path}); "
            "stop it, or use another --data-dir/--journal"
        ) from None
    _LOCKS.append(fh)


def open_journal(strategy: str, paper: bool, opts: RunOptions) -> Journal:
    lock_stream(strategy, paper, opts)
    try:
        return Journal.open(
            opts.journal,
            process=ProcessInfo(
                role="strategy", name=journal_name(strategy, paper), strategy=strategy, version=__version__
            ),
            data_dir=opts.data_dir,
        )
    except JournalError as exc:
        raise StrategyError(exc.line) from None


class _Session:
    def __init__(
        self,
        cfg: SpotPerpConfig | PerpPerpConfig,
        plan: _StrategyPlan,
        router: ZmqRouter,
        insts: dict[InstrumentKey, Any],
        metrics: StrategyMetrics,
        opts: RunOptions,
        mode: str,
        journal: Journal | None = None,
    ) -> None:
        self.cfg, self.plan, self.router, self.insts = cfg, plan, router, insts
        self.journal = journal
        self.metrics, self.opts, self.mode = metrics, opts, mode
        self.oracle = PriceOracle(cfg.oracle)
        self.feeds = FeedWatch(plan.keys, cfg.oracle.max_book_age_ms)
        self.paper: PaperExecution | None = None
        api: Any = router
        if cfg.paper:
            self.paper = PaperExecution(router, _paper_configs(plan), on_event=self._on_paper_event)
            api = self.paper
        self.engine = ArbitrageEngine(
            api,
            name=plan.name,
            pair_for=lambda now: plan.pair_for(insts, self.oracle, now),
            size=cfg.size,
            max_positions=cfg.max_positions,
            oracle=self.oracle,
            decision=DecisionPolicy(cfg.decision),
            execution=ExecutionPolicy(cfg.execution),
            margin=MarginPolicy(cfg.margin),
            on_transition=self._on_transition,
            on_market=self._on_market,
            clock_ns=opts.clock_ns,
        )
        self.alerter = Alerter.from_config(opts.alerts) if opts.alerts is not None else Alerter([])
        self.alerts = StrategyAlerts(self.alerter.notify, self._owns, plan.name)
        self.pair_journal = PairJournal(journal, plan.name) if journal is not None else None
        self.engine.journal = self.pair_journal
        self.stop_reason = ""
        self.runner_names: list[str] = []  # the runner serving each exchange (subscribed to by name)
        self._stop = asyncio.Event()
        self.tty = opts.out.isatty()
        self.lifecycle: Lifecycle | None = None  # set by run_arbitrage (the instance's lifecycle)

    # -- plumbing --------------------------------------------------------------------------
    def _on_paper_event(self, event: Any) -> None:
        self.engine.on_event(event)
        self.alerts.on_item(event)

    def _owns(self, client_id: str) -> bool:
        return client_id in self.engine.tracker.orders

    def _on_market(self, item: OrderBook | FundingRate) -> None:
        if self.paper is None:
            return
        if isinstance(item, OrderBook):
            self.paper.on_book(item)
        else:
            self.paper.on_funding(item)

    def _on_transition(self, t: Transition) -> None:
        self.metrics.set_state(self.plan.name, t.to_state.value)
        self.metrics.count_action(self.plan.name, t.event.value)
        self.alerts.on_transition(t)

    def on_lifecycle(self, ev: LifecycleEvent) -> None:
        """A lifecycle transition: paused opens nothing (open pairs are still managed)."""
        self.engine.paused = ev.to_state is LifecycleState.PAUSED

    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    # -- main ------------------------------------------------------------------------------
    async def run(self) -> int:
        cfg, plan = self.cfg, self.plan
        started_ms = self.opts.clock_ns() // 1_000_000
        kinds = ["book", "funding", "exec", "status", "risk"] + ([] if self.paper else ["account"])
        sub = await self.router.subscribe(
            kinds=kinds, keys=plan.keys, runners=self.runner_names or None, exchange=plan.exchanges
        )
        if self.paper is not None:
            await self.paper.prepare(plan.keys)
        await self.engine.start([plan.pair_for(self.insts, self.oracle, time.time_ns()) or _any_pair(self)])
        await self._restore()
        if self.lifecycle is not None:
            self.lifecycle.running()
        self.metrics.set_ready("started", True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        logger.info(
            "{} {} on {} for {}: size {} (Ctrl-C stops cleanly)",
            plan.name,
            self.mode,
            ",".join(e.value for e in plan.exchanges),
            cfg.symbol,
            cfg.size,
        )
        tasks = self._start_tasks(sub)
        try:
            await self._until_stop()
            logger.info("stopping: {} (grace {:g}s)", self.stop_reason, cfg.stop_grace_s)
            # keep consuming events while the engine winds down (fills must still arrive)
            left = await self.engine.stop(close_positions=self.opts.close_on_stop, timeout_s=cfg.stop_grace_s)
            await self._flush_at_stop()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await sub.close()
        return self._finish(started_ms, left)

    def _start_tasks(self, sub: Any) -> list[asyncio.Task[Any]]:
        """The session's tasks (cancelled together at the end of :meth:`run`); the resume phase first."""
        tasks = [
            asyncio.create_task(self._consume(sub), name="strategy.events"),
            asyncio.create_task(self._housekeeping(), name="strategy.housekeeping"),
        ]
        if self.journal is not None and self.pair_journal is not None:
            tasks.append(asyncio.create_task(self.journal.run_writer(), name="strategy.journal"))
            tasks.append(asyncio.create_task(self.pair_journal.pump(), name="strategy.journal.pump"))
        self.engine._start(self._resume())
        if self.plan.poll_s is not None:
            tasks.append(asyncio.create_task(self._poll(self.plan.poll_s), name="strategy.poll"))
        if self.alerter.enabled:
            tasks.append(asyncio.create_task(self.alerter.run(), name="strategy.alerts"))
        if self.opts.drive is not None:
            tasks.append(asyncio.create_task(self.opts.drive(self), name="strategy.backtest"))
        if self.lifecycle is not None:
            watch = self.lifecycle.watch(lambda: len(self.engine.open_slots()), self.request_stop)
            tasks.append(asyncio.create_task(watch, name="strategy.lifecycle"))
        return tasks

    async def _until_stop(self) -> None:
        """Until the duration ends or a signal asks to stop."""
        duration = self.cfg.duration_s
        if duration > 0:
            try:
                await within(self._stop.wait(), duration)
            except TimeoutError:
                self.request_stop(f"duration {duration:g}s reached")
        else:
            await self._stop.wait()
        if self.tty:
            self.opts.out.write("\n")

    async def _flush_at_stop(self) -> None:
        """The journal written and the last alerts (the exits) sent before the tasks end."""
        try:
            if self.journal is not None and self.pair_journal is not None:
                await self.pair_journal.flush(timeout=10.0)
                await self.journal.drain(timeout=10.0)
        except (JournalError, TimeoutError) as exc:
            logger.error("{}: journal not fully written at stop: {}", self.plan.name, exc)
        if self.alerter.enabled:
            await self.alerter.drain(timeout_s=5.0)

    # -- journal: resume ----------------------------------------------------------------------
    async def _restore(self) -> None:
        """The journal's open pairs back into the engine (before any event is consumed)."""
        self._resumed = 0
        states = load_states(self.journal, self.plan.name) if self.journal is not None else []
        if self.journal is not None and self.pair_journal is not None:
            self.pair_journal.seed_versions(self.journal.pairs(self.plan.name, include_closed=True))
        prices: dict[str, Decimal] = {}
        for key in self.plan.keys:
            try:
                prices[str(key)] = (await self.router.get_reference_price(key)).price
            except CoreApiError:
                pass
        self._marks = {InstrumentKey.parse(k): v for k, v in prices.items()}

        def pair_of(ka: InstrumentKey, kb: InstrumentKey) -> ArbPair:
            return ArbPair(
                a=Leg(id=LegId.A, instrument=self.insts[ka], fees=self.plan.fees[ka]),
                b=Leg(id=LegId.B, instrument=self.insts[kb], fees=self.plan.fees[kb]),
            )

        self._pair_of = pair_of
        if self.paper is not None and states:
            # a paper pair's fills were local to its process: there is nothing to resume
            logger.warning("{}: {} paper pair(s) of an earlier run are not resumed", self.plan.name, len(states))
            return
        restore(self.engine, states, pair_of, prices)
        self._resumed = len(states)

    async def _resume(self) -> None:
        """Runs as the engine's first phase: reconcile the restored pairs, explain the difference."""
        out = self.opts.out
        lines: list[str] = []
        if self._resumed and self.journal is not None:
            lines.append(f"resuming {self._resumed} pair(s) from the journal at {self.journal.where}")
            orders = sum(len(slot.orders) for slot in self.engine.slots.values())
            progress = Progress("reconciling after a restart: orders checked", orders, out, tty=self.tty)
            lines += await reconcile(self.engine, self.journal, progress.step)
            progress.finish()
        if self.paper is None:
            found = await holdings(self.engine, self.plan.keys)
            diff = {k: v for k, v in found.items() if v[0] != v[1]}
            if diff or self._resumed:
                lines += foreign_lines(found, self.opts.adopt)
            perps = [k for k, (venue, ours) in found.items() if k.kind.value == "perp" and venue != ours]
            if self.opts.adopt and diff:
                ka, kb = self.plan.keys
                slot = adopt(self.engine, found, self._pair_of(ka, kb), self._marks)
                if slot is None:
                    lines.append(
                        "--adopt: nothing adoptable on this pair's legs "
                        "(a foreign position the wrong way round stays foreign)"
                    )
                else:
                    m = slot.machine
                    lines.append(f"--adopt: {slot.position_id} now {m.state} a={m.a_base} b={m.b_base}")
                    found = await holdings(self.engine, self.plan.keys)
                    perps = [k for k, (venue, ours) in found.items() if k.kind.value == "perp" and venue != ours]
            self.engine.plain_close_keys = set(perps)
        if lines:
            out.write("\n".join(["journal vs venue:", *lines]) + "\n")
            out.flush()
            for line in lines:
                logger.info("resume: {}", line)

    async def _consume(self, sub: Any) -> None:
        keys = set(self.plan.keys)
        last_eval = 0.0
        async for item in sub:
            self.engine.on_event(item)
            self.alerts.on_item(item)
            if (
                self.plan.poll_s is None
                and self.opts.drive is None
                and isinstance(item, Received)
                and isinstance(item.event, BookEvent)
                and item.event.book.key in keys
            ):
                now = time.monotonic()
                if now - last_eval >= 0.02:  # at most 50 decisions a second
                    last_eval = now
                    self.engine.evaluate()

    async def _poll(self, every_s: float) -> None:
        """PerpPerpPoller: both venues evaluated together on a fixed period."""
        while True:
            await asyncio.sleep(every_s)
            self.engine.evaluate()

    async def _housekeeping(self) -> None:
        last_log = 0.0
        tick = 0
        while True:
            await asyncio.sleep(1.0)
            tick += 1
            if self.paper is not None:
                self.paper.tick()
            if tick % 5 == 0:
                await self.engine.refresh_accounts(set(self.plan.exchanges))
            for key in self.plan.keys if self.opts.drive is None else ():
                book = self.oracle.quote(key, time.time_ns()).book
                if book is not None and book.mid is not None:
                    self.engine.ledger.mark(key, book.mid, time.time_ns() // 1_000_000)
            st = self.engine.status()
            self._export(st)
            feeds = self.feeds.check(self.oracle, time.time_ns())
            self._feed_notices(feeds)
            for key, age_ms in feeds.ages_ms.items():
                if age_ms is not None:
                    self.metrics.set_feed_age(str(key), age_ms / 1000)
            mode = f"{self.mode},PAUSED" if self.engine.paused else self.mode
            line = _status_line(self.plan.name, mode, st, feeds.status(self.plan.keys), bool(feeds.stale))
            if self.tty:
                self.opts.out.write("\r" + line[:160].ljust(160))
                self.opts.out.flush()
            elif time.monotonic() - last_log >= self.opts.status_interval_s:
                last_log = time.monotonic()
                logger.info("status {}", line)

    def _feed_notices(self, feeds: FeedReport) -> None:
        """A warning when a leg's data goes stale (repeated every 30 s while it stays so), a line when it recovers."""
        limit = self.cfg.oracle.max_book_age_ms / 1000
        self.alerts.on_feeds(feeds, limit)
        for key in feeds.newly_stale + feeds.still_stale:
            runner = key.exchange.value
            logger.warning(
                "{}: market data {} old (threshold {:g}s, {}): no decision until it is fresh again; "
                "is the {} runner up? (`runner ls`)",
                key,
                feeds.age_text(key),
                limit,
                feeds.why[key].value,
                runner,
            )
        for key in feeds.recovered:
            logger.info("{}: market data fresh again ({} old)", key, feeds.age_text(key))

    def _export(self, st: dict[str, Any]) -> None:
        m = self.metrics
        if st["edge_bps"] is not None:
            m.set_edge(self.plan.name, st["edge_bps"])
        for key, notional in self.engine.ledger.exposure().items():
            m.set_exposure(str(key), notional)
        m.set_pnl(total=st["pnl"], fees=st["fees"], funding=st["funding"])

    def _finish(self, started_ms: int, left: list[str]) -> int:
        cfg = self.cfg
        notes = [f"stopped: {self.stop_reason}"]
        eng = self.engine
        if eng.retries or eng.unknown_outcomes or eng.tracker.covered:
            notes.append(
                f"faults: {eng.retries} retries after retryable failures, {eng.unknown_outcomes} submits with an "
                f"unknown outcome resolved by client id, {eng.tracker.covered} late fill events already booked"
            )
        if self.engine.errors:
            notes += [f"error: {e}" for e in self.engine.errors]
        notes += [f"NOT CLEAN: {x}" for x in left]
        report = build_report(
            self.engine.ledger,
            strategy=self.plan.name,
            mode=self.mode,
            started_ms=started_ms,
            ended_ms=self.opts.clock_ns() // 1_000_000,
            transitions=self.engine.transitions,
            config=cast_struct(cfg),
            notes=notes,
        )
        self.opts.out.write(summary_table(report) + "\n")
        if cfg.report:
            write_json(report, Path(cfg.report))
            self.opts.out.write(f"report: {cfg.report}\n")
        if cfg.plot:
            plot_pnl(report.timeline, Path(cfg.plot), title=f"{self.plan.name} ({self.mode}) PnL")
            self.opts.out.write(f"plot: {cfg.plot}\n")
        self.opts.out.flush()
        return 1 if left else 0


def cast_struct(cfg: SpotPerpConfig | PerpPerpConfig) -> msgspec.Struct:
    return cfg


def _any_pair(session: _Session) -> ArbPair:
    """The pair before funding is known (perp-perp orientation is decided per entry)."""
    return _any_pair_of(session.plan, session.insts)


def _any_pair_of(plan: _StrategyPlan, insts: dict[InstrumentKey, Any]) -> ArbPair:
    ka, kb = plan.keys
    return ArbPair(
        a=Leg(id=LegId.A, instrument=insts[ka], fees=plan.fees[ka]),
        b=Leg(id=LegId.B, instrument=insts[kb], fees=plan.fees[kb]),
    )


def _status_line(name: str, mode: str, st: dict[str, Any], feed: str = "", stale: bool = False) -> str:
    """The live status; with a stale leg the last edge is not shown as if it were current.

    Formatted in a default decimal context (half-even), not the thread's: a library in the same
    process may change that one (ccxt sets ROUND_HALF_UP on every price it rounds)."""
    with localcontext(Context()):
        edge = "-" if st["edge_bps"] is None else f"{st['edge_bps']:+.1f}bps"
        if stale:
            edge = f"STALE (last {edge})"
        elif st.get("edge_terms"):
            edge += f" [{st['edge_terms']}]"
        return (
            f"{name}[{mode}] state={st['state']} feed=[{feed}] edge={edge} pos={st['position_base']} "
            f"pnl={st['pnl']:+.2f} (basis {st['basis']:+.2f} funding {st['funding']:+.2f} "
            f"fees {st['fees']:.2f} slip {st['slippage']:.2f}) entries={st['entries']} exits={st['exits']}"
        )
