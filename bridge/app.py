"""The bridge: runner events → NATS JetStream / RabbitMQ with outbox semantics, and the Redis
latest-state cache (docs/bus.md).

Tasks (one ``asyncio.TaskGroup``): the pump (one merged ``strategy_client`` subscription over
every selected runner → a non-blocking offer to each lane and the cache), one lane per
(runner, sink), one connection keeper per sink, the cache writer, the status writer and the
runner watch that opens lanes for runners that register later.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Sequence

import msgspec
import redis.asyncio as aioredis
import redis.exceptions
from prometheus_client import start_http_server

from strategy_client import EventItem, Received, Snapshot, Subscription, ZmqRouter
from strategy_client.discovery import DEFAULT_REDIS_URL

from .cache import StateCache
from .checkpoint import CheckpointStore, checkpoint_path
from .envelope import PayloadFormat, outgoing_from_received
from .health import SinkHandle
from .lane import Lane, ReplaySource
from .lifecycle import LifecycleRelay
from .metrics import registry_for
from .sinks import NatsOptions, NatsSink, RabbitOptions, RabbitSink, Sink
from .status import BridgeStatus, CacheStatus

__all__ = ["Bridge", "BridgeConfig", "BridgeStatus", "STATUS_PREFIX", "status_key"]

log = logging.getLogger("bridge")

STATUS_PREFIX = "tradebus:bridge"
STATUS_TTL_S = 10
_PUMP_BATCH = 64  # items taken from the subscription before the lanes get a turn


def status_key(name: str) -> str:
    return f"{STATUS_PREFIX}:{name}"


class BridgeConfig(msgspec.Struct, kw_only=True):
    name: str = "bridge"
    redis_url: str | None = None  # discovery (and the cache, unless cache_redis_url)
    runners: tuple[str, ...] = ()  # empty: every runner, including those that register later
    kinds: tuple[str, ...] = ()  # empty: every topic kind
    nats: NatsOptions | None = None
    rabbit: RabbitOptions | None = None
    fmt: PayloadFormat = PayloadFormat.JSON
    cache: bool = True
    cache_redis_url: str | None = None
    cache_ttl_md_s: float = 60.0
    cache_ttl_state_s: float = 86_400.0
    cache_interval_s: float = 0.1
    data_dir: str | None = None
    checkpoint: str | None = None  # the checkpoint file (default <data dir>/bridge-<name>.sqlite3)
    start: str = "earliest"  # with no checkpoint yet: earliest (the whole journal) | latest (from now)
    capacity: int = 2_000  # events queued per lane (market data beyond it: newest-only)
    batch_max: int = 256
    replay_timeout_s: float = 5.0
    status_interval_s: float = 1.0
    metrics_port: int = 0  # serve Prometheus /metrics on this port (0: off)
    metrics_bind: str = "127.0.0.1"


class Bridge:
    def __init__(self, config: BridgeConfig, sinks: Sequence[Sink] | None = None) -> None:
        self.config = config
        if sinks is None:
            built: list[Sink] = []
            if config.nats is not None:
                built.append(NatsSink(config.nats, config.fmt))
            if config.rabbit is not None:
                built.append(RabbitSink(config.rabbit, config.fmt))
            sinks = built
        self.handles = [SinkHandle(s) for s in sinks]
        self.redis_url = config.redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        self.cache: StateCache | None = None
        if config.cache:
            self.cache = StateCache(
                config.cache_redis_url or self.redis_url,
                ttl_md_s=config.cache_ttl_md_s,
                ttl_state_s=config.cache_ttl_state_s,
                interval_s=config.cache_interval_s,
            )
        self.path = checkpoint_path(config.name, config.data_dir, config.checkpoint)
        self.store: CheckpointStore | None = None
        self.lanes: dict[tuple[str, str], Lane] = {}
        self.started_ms = time.time_ns() // 1_000_000
        self._router: ZmqRouter | None = None
        self._sub: Subscription | None = None
        self.ready = asyncio.Event()
        self._lane_tasks: list[asyncio.Task[None]] = []
        self._lanes_of: dict[str, list[Lane]] = {}
        self.last_status: BridgeStatus | None = None  # the status loop's latest (the metrics read it)
        self.metrics_port = 0  # the bound port while serving
        self.lifecycle: LifecycleRelay | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set."""
        self.store = CheckpointStore(self.path)
        log.info("bridge %s: checkpoint %s", self.config.name, self.path)
        server = None
        if self.config.metrics_port:
            registry = registry_for(lambda: self.last_status)
            server, _thread = start_http_server(self.config.metrics_port, self.config.metrics_bind, registry=registry)
            self.metrics_port = int(server.server_address[1])
            log.info(
                "bridge %s: metrics on http://%s:%d/metrics",
                self.config.name,
                self.config.metrics_bind,
                self.metrics_port,
            )
        try:
            async with ZmqRouter(self.redis_url) as router:
                self._router = router
                await self._run_tasks(router, stop)
        finally:
            self.store.close()
            if server is not None:
                server.shutdown()
                server.server_close()

    async def _run_tasks(self, router: ZmqRouter, stop: asyncio.Event) -> None:
        cfg = self.config
        sub = await router.subscribe(
            kinds=list(cfg.kinds) or None,
            runners=list(cfg.runners) or None,
            snapshot=self.cache is not None,
            queue_size=max(cfg.capacity, 10_000),
            wait=False,
        )
        self._sub = sub
        async with sub, asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(h.run(), name=f"sink:{h.name}") for h in self.handles]
            if self.cache is not None:
                tasks.append(tg.create_task(self.cache.run(), name="cache"))
            tasks.append(tg.create_task(self._pump(sub, tg), name="pump"))
            tasks.append(tg.create_task(self._watch(router, tg), name="watch"))
            tasks.append(tg.create_task(self._status_loop(), name="status"))
            if self.handles:  # strategies' lifecycle transitions (Redis pub/sub) → the brokers
                self.lifecycle = LifecycleRelay(self.redis_url, cfg.nats, cfg.rabbit)
                tasks.append(tg.create_task(self.lifecycle.run(), name="lifecycle"))
            self.ready.set()
            await stop.wait()
            log.info("bridge %s: stopping", cfg.name)
            for lane_task in [*tasks, *self._lane_tasks]:
                lane_task.cancel()

    def _lane(self, runner: str, tg: asyncio.TaskGroup) -> list[Lane]:
        out = []
        for h in self.handles:
            lane = self.lanes.get((runner, h.name))
            if lane is None:
                lane = self._open_lane(runner, h, tg)
            if lane is not None:
                out.append(lane)
        return out

    def _open_lane(self, runner: str, handle: SinkHandle, tg: asyncio.TaskGroup) -> Lane | None:
        router = self._router
        assert router is not None and self.store is not None
        rec = router.records.get(runner)
        if rec is None:
            return None
        cfg = self.config
        lane = Lane(
            runner,
            ReplaySource(router.runner(runner), rec.exchange, cfg.replay_timeout_s),
            handle,
            self.store,
            capacity=cfg.capacity,
            batch_max=cfg.batch_max,
            start=cfg.start,
        )
        self.lanes[(runner, handle.name)] = lane
        log.info("bridge: runner %s → %s from journal sequence %d", runner, handle.name, lane.acked)
        self._lane_tasks.append(tg.create_task(lane.run(), name=f"lane:{runner}:{handle.name}"))
        return lane

    async def _watch(self, router: ZmqRouter, tg: asyncio.TaskGroup) -> None:
        """Open lanes for selected runners as they register (events or not)."""
        wanted = set(self.config.runners)
        while True:
            for name in router.runners():
                if (not wanted or name in wanted) and any((name, h.name) not in self.lanes for h in self.handles):
                    self._lane(name, tg)
            await asyncio.sleep(0.5)

    async def _pump(self, sub: Subscription, tg: asyncio.TaskGroup) -> None:
        while True:
            item = await sub.get()
            if item is None:
                return
            self._take(item, tg)
            for _ in range(_PUMP_BATCH - 1):
                item = sub.get_nowait()
                if item is None:
                    break
                self._take(item, tg)
            # the queue's get() does not suspend while items wait: yield, or the lanes would only
            # publish when the firehose pauses
            await asyncio.sleep(0)

    def _take(self, item: EventItem, tg: asyncio.TaskGroup) -> None:
        cache = self.cache
        if isinstance(item, Snapshot):
            if cache is not None:
                cache.take(item)
            return
        if not isinstance(item, Received):
            return  # a Gap: journaled topics are repaired by the lanes from the journal
        if cache is not None:
            cache.take(item)
        lanes = self._lanes_of.get(item.runner)
        if lanes is None or len(lanes) < len(self.handles):
            lanes = self._lanes_of[item.runner] = self._lane(item.runner, tg)
        if lanes:
            out = outgoing_from_received(item)
            for lane in lanes:
                lane.offer(out)

    # -- status -------------------------------------------------------------------------------
    def status(self) -> BridgeStatus:
        cache = self.cache
        return BridgeStatus(
            name=self.config.name,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_ms=self.started_ms,
            ts_ms=time.time_ns() // 1_000_000,
            checkpoint=str(self.path),
            sinks=[h.status() for h in self.handles],
            lanes=[lane.status() for _, lane in sorted(self.lanes.items())],
            cache=CacheStatus(up=cache.up, writes=cache.writes, errors=cache.errors, last_error=cache.last_error)
            if cache is not None
            else None,
            latency_us={h.name: h.latency_summary() for h in self.handles},
            subscription=self._sub.stats() if self._sub is not None else {},
        )

    async def _status_loop(self) -> None:
        client: aioredis.Redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=2.0)
        key = status_key(self.config.name)
        try:
            while True:
                self.last_status = status = self.status()
                try:
                    await client.set(key, msgspec.json.encode(status), ex=STATUS_TTL_S)
                except (redis.exceptions.RedisError, OSError):
                    pass  # discovery Redis down: the router says so; the status comes back with it
                await asyncio.sleep(self.config.status_interval_s)
        finally:
            try:
                await client.delete(key)
            except (redis.exceptions.RedisError, OSError):
                pass
            await client.aclose()
