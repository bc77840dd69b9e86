"""``strategy signals`` as a process: the broker, the runners, the journal, the lifecycle.

Tasks (one ``asyncio.TaskGroup``): the consumer (broker → :meth:`SignalEngine.handle`, one
message at a time, at most ``prefetch`` unacknowledged at the broker), the runners' events
(``exec`` and ``book`` of every runner → the engine), the engine's housekeeping (expiry
cancels, unknown outcomes), the event publisher (the engine's outbox → the broker), the
lifecycle's publisher (Redis) and its control watch. SIGINT/SIGTERM, ``--duration`` or
``strategy stop NAME`` end it: no new signal is taken, resting entry orders are cancelled, the
orders in flight get ``stop_grace_s`` to end, the last events are published.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import msgspec
from loguru import logger

from strategy_client.aio import within
from strategy_client.journal import Journal
from strategy_client.journal.lifecycle import LifecycleEvent
from strategy_client.router import ZmqRouter

from ..lifecycle import EventPublisher, Lifecycle, LifecycleRefused
from ..runtime import RunOptions, open_journal
from ..startup import StrategyError
from .bus import BusError, BusOptions, SignalBus, open_bus
from .engine import SignalEngine
from .plan import PlanConfig

__all__ = ["SignalOptions", "run_signals"]


@dataclass
class SignalOptions:
    bus: BusOptions
    plan: PlanConfig = field(default_factory=PlanConfig)
    instance: str = "signals"
    redis_url: str | None = None
    data_dir: str | None = None
    journal: str | None = None
    duration_s: float = 0.0
    stop_grace_s: float = 10.0
    out: TextIO = field(default_factory=lambda: sys.stdout)


async def run_signals(opts: SignalOptions) -> int:
    """Until a signal, ``--duration`` or ``strategy stop``; 0 when every order it placed ended."""
    try:
        bus = open_bus(opts.bus)
    except BusError as exc:
        raise StrategyError(str(exc)) from None
    async with ZmqRouter(redis_url=opts.redis_url) as router:
        journal = open_journal(
            opts.instance, False, RunOptions(redis_url=opts.redis_url, data_dir=opts.data_dir, journal=opts.journal)
        )
        try:
            return await _Run(opts, router, journal, bus).run()
        finally:
            await bus.close()
            journal.close()


class _Run:
    def __init__(self, opts: SignalOptions, router: ZmqRouter, journal: Journal, bus: SignalBus) -> None:
        self.opts, self.router, self.journal, self.bus = opts, router, journal, bus
        self.publisher = EventPublisher(router.redis_url)
        self.lifecycle = Lifecycle(journal, name=opts.instance, strategy="signals", paper=False, on_event=self._on_lc)
        self.engine = SignalEngine(
            router, journal, bus, instance=opts.instance, cfg=opts.plan, paused=lambda: self.lifecycle.paused
        )
        self.stop_reason = ""
        self._stop = asyncio.Event()

    def _on_lc(self, ev: LifecycleEvent) -> None:
        self.publisher(ev)
        self.engine.lifecycle_event(ev)

    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    async def run(self) -> int:
        opts = self.opts
        try:
            self.lifecycle.begin()
        except LifecycleRefused as exc:
            raise StrategyError(str(exc)) from None
        try:
            await self.bus.connect(opts.instance)
            sub = await self.router.subscribe(kinds=["exec", "book"])
        except BusError as exc:
            self.lifecycle.failed(str(exc))
            self.lifecycle.stopped(str(exc))
            raise StrategyError(str(exc)) from None
        await self.engine.resume()  # the orders of the run before, before any new signal
        self.lifecycle.running()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        logger.info(
            "{}: taking signals from {} {} (dead letters: {})",
            opts.instance,
            opts.bus.where,
            opts.bus.queue,
            opts.bus.dead_letters,
        )
        try:
            async with asyncio.TaskGroup() as tg:
                consume = tg.create_task(self._consume(), name="signals.consume")
                others = [
                    tg.create_task(self._events(sub), name="signals.events"),
                    tg.create_task(self.engine.housekeeping(), name="signals.housekeeping"),
                    tg.create_task(self.engine.publisher(), name="signals.publish"),
                    tg.create_task(self.publisher.run(), name="signals.lifecycle.publish"),
                    tg.create_task(
                        self.lifecycle.watch(self.engine.open_count, self.request_stop), name="signals.lifecycle"
                    ),
                ]
                await self._until_stop()
                consume.cancel()
                left = await self._wind_down()
                for t in others:
                    t.cancel()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await sub.close()
        return self._finish(left)

    async def _until_stop(self) -> None:
        if self.opts.duration_s > 0:
            try:
                await within(self._stop.wait(), self.opts.duration_s)
            except TimeoutError:
                self.request_stop(f"duration {self.opts.duration_s:g}s reached")
        else:
            await self._stop.wait()

    async def _wind_down(self) -> list[str]:
        logger.info("{}: stopping: {}", self.opts.instance, self.stop_reason)
        await self.engine.stop()
        with contextlib.suppress(TimeoutError):
            await within(self.engine.settled.wait(), self.opts.stop_grace_s)
        left = [
            f"order {t.request.client_id} of signal {t.signal.id} ({t.role}) not ended: "
            f"{t.order.status.value if t.order is not None else 'no answer'}"
            for t in self.engine.tracked.values()
            if not t.final
        ]
        for h in self.engine.held.values():
            self.opts.out.write(
                f"still held: signal {h.signal.id}: {h.qty} {h.inst.key} (stop-loss/take-profit no longer watched)\n"
            )
        self.lifecycle.stopped(self.stop_reason or "stopped")
        await self.engine.drain(5.0)
        await self.publisher.drain(1.0)
        return left

    async def _consume(self) -> None:
        async for delivery in self.bus.deliveries():
            try:
                await self.engine.handle(delivery)
            except Exception as exc:  # noqa: BLE001 - one message must not stop the consumer (left unacknowledged)
                logger.exception("{}: a signal could not be handled (left for redelivery): {}", self.opts.instance, exc)

    async def _events(self, sub: Any) -> None:
        async for item in sub:
            try:
                await self.engine.on_item(item)
            except Exception as exc:  # noqa: BLE001 - one event must not stop following the orders
                logger.exception("{}: a runner event could not be handled: {}", self.opts.instance, exc)

    def _finish(self, left: list[str]) -> int:
        summary = {
            "instance": self.opts.instance,
            "stopped": self.stop_reason,
            **msgspec.to_builtins(self.engine.counters),
        }
        self.opts.out.write("signals: " + msgspec.json.encode(summary).decode() + "\n")
        for line in left:
            self.opts.out.write(f"NOT CLEAN: {line}\n")
        self.opts.out.flush()
        return 1 if left else 0
