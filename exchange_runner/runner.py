"""ExchangeRunner: wires the adapter, the actors, the ZeroMQ sockets and the registration.

Startup order (after the blueprint): ① load instruments → ② spawn actors → ③ ZMQ server and
venue streams (books pushed by the adapter straight into the price actor's feed) → ④ register
in Redis → ⑤ reconcile and funding loops. Shutdown: status
``stopping``, deregister, optionally cancel open orders, stop tasks, close sockets.

Credentials are checked once the venue is loaded (one signed read, ``fetch_account``): a key
or secret the venue refuses (:class:`~exchanges.errors.AuthError`) does not stop the runner —
it registers with status ``auth_failed``, ``/readyz`` answers 503 with ``credentials_ok``
false and the venue's reason in ``credentials_error``, one error line is logged, and the
check is repeated every ``credentials_retry_s`` (30 s) until the venue accepts the key.

With ``metrics_port`` set, the ``/metrics`` + ``/healthz`` + ``/readyz`` server starts before ①
(alive while the venue loads, not ready until registered) and stops last; the runner's metrics
are its venue observer for the whole run (``exchanges.telemetry``).
"""

from __future__ import annotations

import asyncio
import difflib
import os
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio
from loguru import logger

from exchanges.base import (
    AccountUpdate,
    ExchangeAdapter,
    OrderUpdate,
    PushesBooks,
    PushesDepthBooks,
    PushesMarketData,
    StreamStatus,
)
from exchanges.errors import AuthError
from exchanges.telemetry import observing
from exchanges.transport.ratelimit import HeadroomWatch, active_budgets
from strategy_client import __version__
from strategy_client.aio import within
from strategy_client.journal import JournalError
from strategy_client.model import (
    BarSource,
    Exchange,
    Instrument,
    InstrumentKey,
    MarketKind,
    OrderBook,
    TextBook,
    Ticker,
    Trade,
)
from strategy_client.security import redact_url
from strategy_client.wire import (
    PROTOCOL_VERSION,
    FundingPaymentEvent,
    QueueStat,
    RunnerRecord,
    RunnerStatusEvent,
    TopicKind,
)

from .actors.account import AccountManager, AccountPatch, RefreshAccount
from .actors.funding import FundingPoller, FundingUpdate, PollFunding
from .actors.market import MarketDataManager, log_rejections
from .actors.order import CancelAll, OrderManager, Reconcile
from .actors.position import PositionManager, PositionPatch, SyncPositions
from .actors.price import PriceManager
from .bars import BarAggregator
from .config import ConfigError, RunnerConfig
from .gctune import settle_heap
from .health import RunnerHealth, SelfPing
from .ipc import IpcEndpoints
from .journaling import JournalingPublisher, RunnerJournal, open_runner_journal
from .metrics import RunnerMetrics
from .publisher import Publisher, pub_socket
from .quality import QualityControl
from .registrar import Registrar
from .risk import RiskConfigError, RiskGate, StateInputs
from .security import ServerSecurity
from .service import CommandService
from .startup import retry_startup
from .warmth import OrderPathWarmer
from .zmq_server import ZmqServer

__all__ = ["ExchangeRunner"]


class ExchangeRunner:
    def __init__(
        self,
        config: RunnerConfig,
        adapter: ExchangeAdapter,
        *,
        settle_heap: bool = False,
        credentials_retry_s: float = 30.0,
    ) -> None:
        """``settle_heap``: once ready, freeze the startup heap out of the garbage collector's
        way (``gctune``); for a process that is only this runner (the CLI sets it).
        ``credentials_retry_s``: how often refused credentials are checked again."""
        self.config = config
        self.credentials_retry_s = credentials_retry_s
        self.credentials_error = ""  # the venue's one-line reason while it refuses our key/secret
        self.settle_heap = settle_heap
        self.adapter = adapter
        # the venue's shared rate-limit budgets (installed by open_venue while the adapter was built)
        self.budgets = active_budgets.get()
        self.headroom = HeadroomWatch(config.budget_options().warn_below)
        self.exchange = config.exchange
        self.version = __version__
        self.instruments: dict[InstrumentKey, Instrument] = {}
        self.ctx = zmq.asyncio.Context()
        self.pub_endpoint = ""
        self.router_endpoint = ""
        self.ipc = IpcEndpoints(config.registration_name)  # the same sockets on ipc:// (exchange_runner/ipc.py)
        self.streams: dict[str, bool] = {}
        self._sync_phase = "before"  # the first reads (_initial_sync): before | during | done
        self._connected_during_sync: set[str] = set()  # user streams first connected during them
        self.status = "starting"
        self.started = asyncio.Event()
        self._stop = asyncio.Event()
        self.stream_restarts = 0
        self.stream_messages: Counter[str] = Counter()  # items received per venue stream
        self.metrics: RunnerMetrics | None = None
        self.health: RunnerHealth | None = None
        paper = config.mode == "paper"
        self._pub_sock: zmq.Socket[bytes] = pub_socket(zmq.Context.instance())
        self.publisher = Publisher(self._pub_sock, self.exchange)
        self.prices: PriceManager
        self.orders: OrderManager
        self.positions: PositionManager
        self.account: AccountManager
        self.funding: FundingPoller
        self.market: MarketDataManager  # trades, tickers, bars, quality stats (docs/market-data.md)
        self.warnings: list[str] = []  # in the status event (quality-control bursts)
        self.registrar: Registrar | None = None
        self.server: ZmqServer | None = None
        self.self_ping: SelfPing | None = None  # /readyz commands_answering (with metrics on)
        self.warmer: OrderPathWarmer | None = None  # the order path rehearsed between orders
        self._paper = paper
        self.epoch = os.urandom(8).hex()  # this instance: in the record and every reply header
        self.security = ServerSecurity.from_config(config)  # None: plaintext (loopback only)
        self.journal: RunnerJournal | None = None  # docs/journal.md; opened by run()
        self.startup_deadline_s = 120.0  # venue start + instruments retried until then (startup.py)

    # -- state ------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def readiness(self) -> dict[str, bool]:
        return {
            "instruments_loaded": bool(self.instruments),
            "streams_live": bool(self.streams) and all(self.streams.values()),
            "registered": bool(self.registrar and self.registrar.redis_ok),
            "credentials_ok": not self.credentials_error,
        }

    def queue_stats(self) -> dict[str, QueueStat]:
        """Depth, capacity and drops of every bounded queue (actor inboxes, feeds, executions)."""
        if self.server is None:
            return {}
        queues: list[Any] = [
            self.prices.feed,
            self.market.feed,
            self.orders.executions,
            *(a.inbox for a in (self.prices, self.orders, self.positions, self.account, self.funding, self.market)),
        ]
        paper_events = getattr(self.adapter, "events", None)
        if paper_events is not None:
            queues.append(paper_events)
        return {q.name: QueueStat(depth=q.depth, capacity=q.maxsize, dropped=getattr(q, "dropped", 0)) for q in queues}

    def stop(self) -> None:
        self._stop.set()

    def _ready_line(self) -> str:
        """The one line saying the runner is registered and where to reach it."""
        cfg = self.config
        metrics = self.health.url if self.health is not None else "off"
        journal = self.journal.journal.where if self.journal is not None else "off"
        return (
            f"{self.status}: {self.exchange.value} runner {cfg.registration_name!r} registered in "
            f"{redact_url(cfg.redis_url)} — ROUTER {self.router_endpoint}  PUB {self.pub_endpoint}  "
            f"metrics {metrics}  journal {journal}  (mode {cfg.mode}, venue {cfg.venue})"
        )

    # -- lifecycle --------------------------------------------------------------------
    async def run(self) -> None:
        cfg = self.config
        if not cfg.metrics_port:
            await self._run()
            return
        self.metrics = RunnerMetrics(self)
        self.health = RunnerHealth(self, self.metrics, host=cfg.metrics_bind or cfg.bind, port=cfg.metrics_port)
        await self.health.start()
        logger.info("metrics and health on {} (/metrics /healthz /readyz)", self.health.url)
        try:
            with observing(self.metrics):
                await self._run()
        finally:
            await self.health.stop()

    async def _run(self) -> None:
        """The journal (docs/journal.md) is opened first — a fault there is one line before
        anything else starts — and closed last."""
        journal = open_runner_journal(self.config)
        if journal is not None:
            self.publisher = JournalingPublisher(self._pub_sock, self.exchange, journal)
            self.journal = RunnerJournal(journal, self.publisher)
            logger.info("journal {} (last event sequence {})", journal.where, self.publisher.jseq)
        try:
            await self._run_venue()
        finally:
            if journal is not None:
                lost = journal.close()
                if lost:
                    logger.error("journal: {} records were not journaled (never published)", lost)

    async def _run_venue(self) -> None:
        cfg = self.config
        # startup calls wait out rate limits and outages until the deadline (exchange_runner/startup.py)
        deadline = asyncio.get_running_loop().time() + self.startup_deadline_s
        await retry_startup(f"{self.exchange.value} venue start", self.adapter.start, deadline_s=deadline)
        # ① instruments
        wanted_kinds = {MarketKind(k) for k in cfg.kinds}
        wanted = {s.upper() for s in cfg.symbols}
        listed = await retry_startup(
            f"{self.exchange.value} instruments", self.adapter.load_instruments, deadline_s=deadline
        )
        for inst in listed:
            if inst.key.kind in wanted_kinds and inst.key.symbol in wanted:
                self.instruments[inst.key] = inst
        missing = {(s, k.value) for s in wanted for k in wanted_kinds} - {
            (k.symbol, k.kind.value) for k in self.instruments
        }
        if missing:
            logger.warning("instruments not listed by the venue: {}", sorted(missing))
        if not self.instruments:
            raise ConfigError(_no_instruments(wanted, wanted_kinds, listed))
        keys = sorted(self.instruments)
        perps = [k for k in keys if k.kind is MarketKind.PERP]
        logger.info("{} instruments loaded: {}", len(keys), ", ".join(map(str, keys)))
        await self._check_credentials()
        # ② actors
        self.prices = PriceManager(
            self.adapter,
            self.publisher,
            keys,
            stale_after_s=cfg.stale_book_s,
            queue_size=cfg.book_queue_size,
            fetch_timeout_s=cfg.venue_timeout_s,
        )
        self.orders = OrderManager(
            self.adapter,
            self.publisher,
            self.instruments,
            paper=self._paper,
            reconcile_per_instrument_max=cfg.reconcile_per_instrument_max,
        )
        self.positions = PositionManager(self.adapter, self.publisher, paper=self._paper)
        self.account = AccountManager(self.adapter, self.publisher, paper=self._paper)
        self.funding = FundingPoller(self.adapter, self.publisher, perps, on_mark=self.prices.update_mark)
        self.market = self._market_actor(keys)
        self.orders.metrics = self.metrics
        self.orders.risk = self._risk_gate(keys)
        if cfg.order_path_warm_ms > 0:
            self.warmer = OrderPathWarmer(
                self.adapter,
                self.journal,
                self.instruments.get,
                cfg.order_path_warm_ms / 1000,
                orders_by_key=lambda: self.orders.sent_by_key,
            )
        if self.journal is not None:
            self.orders.journal = self.journal
            restored = self.journal.restart_orders()
            self.orders.restore(restored)
            if restored:
                logger.info("journal: {} open/unresolved orders reloaded; reconciling with the venue", len(restored))
        # ③ sockets
        router = self.ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self._pub_sock.setsockopt(zmq.LINGER, 0)
        self._pub_sock.setsockopt(zmq.SNDHWM, 100_000)
        if self.security is not None:  # CURVE + ZAP before anything binds
            self.security.serve_zap(self.ctx)
            self.security.serve_zap(self._pub_sock.context)
            self.security.apply(router, "router")
            self.security.apply(self._pub_sock, "pub")
            self.security.start()
        self.pub_endpoint = _bind(self._pub_sock, cfg.bind, cfg.pub_port)
        self.router_endpoint = _bind(router, cfg.bind, cfg.router_port)
        router_ipc, pub_ipc = self.ipc.bind(router, self._pub_sock)
        service = CommandService(self)
        self.server = ZmqServer(
            router,
            service.handle,
            starter=service.start,
            exchange=self.exchange.value,
            on_command=self.metrics.command_done if self.metrics is not None else None,
            authorize=self.security.authorize if self.security is not None else None,
            epoch=self.epoch,
        )
        if self.health is not None:
            curve = self.security.client() if self.security is not None else None
            self.self_ping = SelfPing(self.ctx, self.router_endpoint, curve=curve)
        advertise = cfg.advertise_host or (cfg.bind if cfg.bind not in ("0.0.0.0", "*") else socket.gethostname())
        record = RunnerRecord(
            name=cfg.registration_name,
            exchange=self.exchange,
            pub_endpoint=self.pub_endpoint.replace(cfg.bind, advertise, 1),
            router_endpoint=self.router_endpoint.replace(cfg.bind, advertise, 1),
            pid=os.getpid(),
            host=socket.gethostname(),
            version=self.version,
            protocol_version=PROTOCOL_VERSION,
            started_at_ms=time.time_ns() // 1_000_000,
            status="starting",
            mode=cfg.mode,
            venue=cfg.venue,
            symbols=tuple(map(str, keys)),
            curve_key=self.security.keys.public if self.security is not None else "",
            epoch=self.epoch,
            router_ipc=router_ipc,
            pub_ipc=pub_ipc,
            rate_scopes=self.budgets.namespaces() if self.budgets is not None else (),
        )
        self.registrar = Registrar(cfg.redis_url, record, replace=cfg.replace, on_replaced=self.stop)
        logger.info("PUB {}  ROUTER {}  ipc {}", self.pub_endpoint, self.router_endpoint, self.ipc.dir or "none")
        try:
            await self.registrar.claim()  # a live runner of this name: NameTaken (unless --replace)
            async with asyncio.TaskGroup() as tg:
                writer = None
                if self.journal is not None:  # first: the actors' events are appended from their start
                    writer = tg.create_task(self.journal.journal.run_writer(), name="journal.writer")
                pump = tg.create_task(self.journal.publisher.pump(), name="journal.pump") if self.journal else None
                tasks = [
                    tg.create_task(self.prices.run(), name="actor.price"),
                    tg.create_task(self.orders.run(), name="actor.order"),
                    tg.create_task(self.positions.run(), name="actor.position"),
                    tg.create_task(self.account.run(), name="actor.account"),
                    tg.create_task(self.funding.run(), name="actor.funding"),
                    tg.create_task(self.market.run(), name="actor.market"),
                    tg.create_task(self._market_data(keys), name="venue.market"),
                    tg.create_task(self.server.serve(), name="zmq.router"),
                    *([tg.create_task(self.self_ping.run(), name="zmq.selfping")] if self.self_ping else []),
                    *([tg.create_task(self.warmer.run(), name="order.warmer")] if self.warmer else []),
                    tg.create_task(
                        self._books([k for k in keys if k not in self._depth_keys(keys)]), name="venue.books"
                    ),
                    tg.create_task(self._depth_books(self._depth_keys(keys)), name="venue.depth"),
                    tg.create_task(
                        self._forward("user", self.adapter.stream_user_events, self._on_user), name="fwd.user"
                    ),
                ]
                if perps:
                    tasks.append(
                        tg.create_task(
                            self._forward("funding", lambda: self.adapter.stream_funding(perps), self._on_funding),
                            name="fwd.funding",
                        )
                    )
                # initial state before announcing ourselves
                await self._initial_sync()
                # ④ register
                await self.registrar.register()
                self.status = "auth_failed" if self.credentials_error else "ready"
                self.registrar.set_status(self.status)
                await self.registrar.register()
                self._publish_status()
                self.started.set()
                logger.info("{}", self._ready_line())
                if self.settle_heap:
                    logger.debug("heap settled: {} startup objects frozen", settle_heap())
                # ⑤ loops
                tasks.append(tg.create_task(self.registrar.heartbeat(), name="redis.heartbeat"))
                tasks.append(tg.create_task(self._reconcile_loop(), name="loop.reconcile"))
                tasks.append(tg.create_task(self._funding_loop(), name="loop.funding"))
                tasks.append(tg.create_task(self._status_loop(), name="loop.status"))
                tasks.append(tg.create_task(self._credentials_loop(), name="loop.credentials"))
                await self._stop.wait()
                await self._shutdown()
                for t in tasks:
                    t.cancel()
                if self.journal is not None and writer is not None:
                    try:  # commit (and publish) what is queued, then stop the writer
                        async with asyncio.timeout(5.0):
                            await self.journal.publisher.overflow_drained()
                        await self.journal.journal.drain(5.0)
                    except TimeoutError:
                        waiting = self.journal.publisher.overflow_depth
                        logger.error("journal: {} records still wait for the writer", waiting)
                        writer.cancel()
                    except JournalError as exc:
                        logger.error("{}", exc.line)
                        writer.cancel()
                if pump is not None:
                    pump.cancel()
        finally:
            self.server = None
            router.close(linger=0)
            self._pub_sock.close(linger=0)
            self.ipc.close()
            if self.security is not None:
                self.security.stop()
            if self.registrar is not None:
                await self.registrar.close()
            await self.adapter.close()
            self.ctx.term()
            logger.info("runner stopped")

    def _risk_gate(self, keys: list[InstrumentKey]) -> RiskGate:
        """The pre-trade gate over the actors' state (docs/risk.md); the order actor owns it.
        A ``[risk]`` table naming an instrument this runner does not serve is one line."""
        inputs = StateInputs(
            instruments=self.instruments,
            positions=self.positions.store,  # read only
            account=lambda: self.account.snapshot,
            book=self.prices.fresh_book,
            mark=self.prices.fresh_mark,
            unified_wallet=self.exchange in (Exchange.BYBIT, Exchange.OKX),
        )
        try:
            return RiskGate(self.config.risk, self.exchange, keys, inputs)
        except RiskConfigError as exc:
            raise ConfigError(str(exc)) from None

    async def _check_credentials(self) -> None:
        """One signed read; a refusal (AuthError) sets ``credentials_error`` (one line, logged
        once per distinct reason), an answer clears it, anything else is no verdict. Paper
        mode sends nothing to the venue's account: no check."""
        if self._paper:
            return
        try:
            await within(self.adapter.fetch_account(), self.config.venue_timeout_s)
        except AuthError as exc:
            reason = " ".join(f"{self.exchange.value} refused the API key/secret: {exc}".split())
            if reason != self.credentials_error:
                logger.error("{}; not ready, checking again every {:g}s", reason, self.credentials_retry_s)
            self.credentials_error = reason
            return
        except Exception as exc:  # noqa: BLE001 - transport/5xx/timeout: says nothing about the key
            logger.warning("credentials check: no answer from the venue ({!r}); keeping the last verdict", exc)
            return
        if self.credentials_error:
            logger.info("{} accepts the API key/secret again", self.exchange.value)
        self.credentials_error = ""

    async def _credentials_loop(self) -> None:
        while True:
            await asyncio.sleep(self.credentials_retry_s)
            if self.credentials_error:
                await self._check_credentials()

    async def _initial_sync(self) -> None:
        """The account, positions and open orders read before the runner announces itself. The
        user streams connect meanwhile: one that connects after these reads were sent may have
        missed what happened in between (a fill's position), so the reads are made once more."""
        self._sync_phase = "during"
        await self._sync_round("start", funding=True)
        if self._connected_during_sync:
            streams = ", ".join(sorted(self._connected_during_sync))
            logger.info("user stream {} connected during the first reads: reading again", streams)
            await self._sync_round("user stream connected during the first sync", funding=False)
        self._sync_phase = "done"

    async def _sync_round(self, reason: str, *, funding: bool) -> None:
        jobs: list[Any] = [self.account.ask(RefreshAccount(reason), self.config.venue_timeout_s)]
        if any(k.kind is MarketKind.PERP for k in self.instruments):
            jobs.append(self.positions.ask(SyncPositions(reason), self.config.venue_timeout_s))
            if funding:
                jobs.append(self.funding.tell(PollFunding()))
        jobs.append(self.orders.ask(Reconcile(reason), self.config.venue_timeout_s))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for res in results:
            if isinstance(res, BaseException):
                logger.warning("{} sync step failed: {}", reason, res)

    async def _shutdown(self) -> None:
        logger.info("shutting down")
        self.status = "stopping"
        self._publish_status()
        if self.registrar is not None:
            await self.registrar.deregister()
        if self.config.cancel_on_exit:
            try:
                n = await self.orders.ask(CancelAll(), self.config.venue_timeout_s)
                logger.info("cancel-on-exit: {} orders canceled", n)
            except Exception as exc:  # noqa: BLE001 - shutting down: the failure is logged, the stop goes on
                logger.error("cancel-on-exit failed: {}", exc)

    # -- venue streams ----------------------------------------------------------------
    async def _keep_running(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run one venue stream until cancelled; restart it (backoff 0.2 s doubling to 10 s,
        back to 0.2 s once it delivered something) when it fails."""
        backoff = 0.2
        counts = self.stream_messages
        while True:
            self.streams[name] = True
            seen = counts[name]
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a stream failure must not stop the runner
                logger.warning("stream {} failed: {}; restarting in {:.1f}s", name, exc, backoff)
            if counts[name] > seen:
                backoff = 0.2
            self.streams[name] = False
            self.stream_restarts += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _forward(
        self, name: str, open_stream: Callable[[], AsyncIterator[Any]], sink: Callable[[Any], Any]
    ) -> None:
        """Drain an adapter's iterator into ``sink`` (user events, funding)."""
        counts = self.stream_messages
        sink_is_async = asyncio.iscoroutinefunction(sink)

        async def drain() -> None:
            async for item in open_stream():
                counts[name] += 1
                if sink_is_async:
                    await sink(item)
                else:
                    sink(item)

        await self._keep_running(name, drain)

    async def _books(self, keys: list[InstrumentKey]) -> None:
        """Books into the price actor's feed, the one bounded drop-oldest queue (counted drops)
        between the venue and the actor: pushed by the adapter from its socket reader when it
        can (:class:`~exchanges.base.PushesBooks`: no relay task, no second queue; while the
        actor is idle a book is applied in the reader's turn, :meth:`PriceManager.push`), else
        drained from its iterator."""
        adapter = self.adapter
        put = self.prices.feed.put_nowait
        if not keys:
            return  # every book is a full-depth one (_depth_books)
        if not isinstance(adapter, PushesBooks):
            await self._forward("books", lambda: adapter.stream_order_books(keys), put)
            return
        # counted, and applied in the reader's turn while the price actor is idle
        sink = self.prices.counting_push(self.stream_messages, "books")
        await self._keep_running("books", lambda: adapter.run_order_books(keys, sink))

    def _depth_keys(self, keys: list[InstrumentKey]) -> list[InstrumentKey]:
        """The instruments whose book is kept full-depth (the ``depth`` channel), when the adapter
        can (:class:`~exchanges.base.PushesDepthBooks`; Bybit and OKX books are already kept from
        a snapshot and sequenced deltas)."""
        wanted = [k for k in keys if "depth" in self.config.channels_of(k)]
        return wanted if isinstance(self.adapter, PushesDepthBooks) else []

    async def _depth_books(self, keys: list[InstrumentKey]) -> None:
        """Full-depth books into the price actor's feed, as ``_books`` does for the others."""
        adapter = self.adapter
        if not keys or not isinstance(adapter, PushesDepthBooks):
            return
        put = self.prices.feed.put_nowait
        counts = self.stream_messages

        def sink(book: OrderBook | TextBook) -> None:
            counts["depth"] += 1
            put(book)

        await self._keep_running("depth", lambda: adapter.run_depth_books(keys, sink))

    def _market_actor(self, keys: list[InstrumentKey]) -> MarketDataManager:
        """Quality control (shared with the price actor, which checks the books), bars of the
        instruments with the ``bars`` channel — of their trades if they have the ``trades``
        channel, else of the book's mid — and the actor that owns them (docs/market-data.md)."""
        cfg = self.config
        ticks = {k: i.tick_size for k, i in self.instruments.items()}
        quality = QualityControl(cfg.quality, ticks)
        quality.clock_offset_ms = self._venue_clock_offset_ms()
        self.prices.quality = quality if quality.enabled else None
        sources = {
            k: BarSource.TRADES if "trades" in cfg.channels_of(k) else BarSource.MID
            for k in keys
            if "bars" in cfg.channels_of(k)
        }
        bars = BarAggregator(cfg.bars, sources) if cfg.bars.enabled and sources else None
        market = MarketDataManager(self.exchange, self.publisher, quality, bars, queue_size=cfg.market_queue_size)
        mids = frozenset(k for k, s in sources.items() if s is BarSource.MID)
        if bars is not None and mids:
            self.prices.mid_keys = mids
            self.prices.mid_sink = market.feed.put_nowait
        return market

    async def _market_data(self, keys: list[InstrumentKey]) -> None:
        """Public trades and 24 h tickers of the instruments whose channels ask for them, pushed
        by the adapter into the market actor's feed; nothing to run if none does."""
        trades = [k for k in keys if "trades" in self.config.channels_of(k)]
        tickers = [k for k in keys if "tickers" in self.config.channels_of(k)]
        adapter = self.adapter
        if not trades and not tickers:
            return
        if not isinstance(adapter, PushesMarketData):
            logger.warning("the {} adapter streams no trades or tickers; channels ignored", self.exchange.value)
            return
        put = self.market.feed.put_nowait
        counts = self.stream_messages

        def sink(item: Trade | Ticker) -> None:
            counts["market"] += 1
            put(item)

        try:
            await self._keep_running("market", lambda: adapter.run_market_data(trades, tickers, sink))
        finally:
            log_rejections(self.market.quality, keys)

    async def _on_funding(self, rate: Any) -> None:
        await self.funding.tell(FundingUpdate(rate))

    async def _on_user(self, ev: Any) -> None:
        if isinstance(ev, OrderUpdate):
            await self.orders.executions.put(ev)
        elif isinstance(ev, AccountUpdate):
            if ev.positions:
                await self.positions.tell(PositionPatch(ev.positions))
            if ev.balances or ev.margin:
                await self.account.tell(AccountPatch(ev))
            for pay in ev.funding:
                self.publisher.publish(TopicKind.FUNDING, FundingPaymentEvent(payment=pay, paper=self._paper), pay.key)
        elif isinstance(ev, StreamStatus):
            was = self.streams.get(f"user:{ev.stream}")
            self.streams[f"user:{ev.stream}"] = ev.connected
            if ev.connected and was is not True:
                # a first connect before the first reads is covered by them; during them, they are
                # made again at their end (_initial_sync); after them, now
                if was is None and self._sync_phase != "done":
                    if self._sync_phase == "during":
                        self._connected_during_sync.add(ev.stream)
                else:
                    how = "reconnected" if was is False else "connected after the first reads"
                    logger.info("user stream {} {}: reconciling", ev.stream, how)
                    await self.orders.tell(Reconcile("user stream reconnect"))
                    await self.positions.tell(SyncPositions("user stream reconnect"))
                    await self.account.tell(RefreshAccount("user stream reconnect"))
            self._publish_status()

    # -- loops ------------------------------------------------------------------------
    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_interval_s)
            await self.account.tell(RefreshAccount())
            await self.positions.tell(SyncPositions())
            await self.orders.tell(Reconcile())

    async def _funding_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.funding_poll_interval_s)
            await self.funding.tell(PollFunding())

    async def _status_loop(self) -> None:
        """Every second: re-derive the status; publish it on a change and at least every 5 s."""
        ticks = 0
        while True:
            await asyncio.sleep(1.0)
            ticks += 1
            if self.budgets is not None:  # one line per crossing of low headroom
                self.headroom.check(self.budgets.budgets.values())
            redis_ok = bool(self.registrar and self.registrar.redis_ok)
            streams_ok = all(self.streams.values())
            healthy = "ready" if streams_ok and redis_ok else "degraded"
            status = "auth_failed" if self.credentials_error else healthy
            if status != self.status and self.status != "stopping":
                self.status = status
                if self.registrar:
                    self.registrar.set_status(status)
                self._publish_status()
            elif self._quality_upkeep() or ticks % 5 == 0:
                self._publish_status()

    def _venue_clock_offset_ms(self) -> int:
        """The venue's clock minus ours as the adapter (or a paper adapter's venue) measured it."""
        adapter: Any = self.adapter
        clock = getattr(adapter, "clock", None) or getattr(getattr(adapter, "inner", None), "clock", None)
        offset = getattr(clock, "offset_ms", 0)
        return offset if isinstance(offset, int) else 0

    def _quality_upkeep(self) -> bool:
        """Every second: hand quality control the venue's clock offset; re-read its burst
        warnings, logging each new one; True when the warnings changed."""
        market = getattr(self, "market", None)
        if market is not None:
            market.quality.clock_offset_ms = self._venue_clock_offset_ms()
        now = market.quality.warnings(time.time_ns() // 1_000_000) if market is not None else []
        if now == self.warnings:
            return False
        for line in now:
            if line not in self.warnings:
                logger.warning("{}", line)
        self.warnings = now
        return True

    def _publish_status(self) -> None:
        detail = ", ".join(k for k, ok in self.readiness().items() if not ok)
        if self.credentials_error:
            detail = f"{detail} ({self.credentials_error})"
        self.publisher.publish(
            TopicKind.STATUS,
            RunnerStatusEvent(
                exchange=self.exchange,
                status=self.status,
                detail=f"not ready: {detail}" if detail else "",
                streams=dict(self.streams),
                redis_ok=bool(self.registrar and self.registrar.redis_ok),
                queues=self.queue_stats(),
                warnings=tuple(self.warnings),
            ),
        )


def _bind(sock: zmq.Socket[Any], host: str, port: int) -> str:
    if port:
        endpoint = f"tcp://{host}:{port}"
        sock.bind(endpoint)
        return endpoint
    chosen = sock.bind_to_random_port(f"tcp://{host}")
    return f"tcp://{host}:{chosen}"


def _no_instruments(wanted: set[str], kinds: set[MarketKind], listed: list[Instrument]) -> str:
    """The bad symbols named, with the venue's closest listed ones."""
    names = sorted({i.key.symbol for i in listed if i.key.kind in kinds})
    hints = []
    for symbol in sorted(wanted):
        close = difflib.get_close_matches(symbol, names, n=3)
        hints.append(f"{symbol} (did you mean {', '.join(close)}?)" if close else symbol)
    kinds_text = ", ".join(sorted(k.value for k in kinds))
    return f"symbols: the venue lists no {kinds_text} market for {'; '.join(hints)}"
