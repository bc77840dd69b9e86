"""Strategy lifecycle transitions → the brokers (docs/bus.md, "Strategy lifecycle events").

Every strategy publishes its lifecycle transitions on Redis pub/sub (``tradebus:strategy:lifecycle``,
docs/strategies.md "Lifecycle"); while the bridge runs it relays each to its sinks with a
connection of its own: NATS subject ``<prefix>.lifecycle.<instance>`` (captured by the bridge's
stream, ``Nats-Msg-Id`` = the id), RabbitMQ routing key ``lifecycle.<instance>`` on the bridge's
topic exchange (persistent, ``message_id`` = the id). The payload is the transition as
published (JSON). Live only: a transition made while the bridge (or Redis) is down is not
relayed later — the strategy's journal keeps every one (``strategy ls``, ``lifecycle_events``).

Bounded: at most 1 000 transitions wait for a broker; beyond, the oldest is dropped (counted in
``dropped``). A message that is not a transition is counted (``bad``) and dropped. A broker that
does not answer is one warning line; the relay retries every second.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
from collections.abc import Coroutine
from typing import Any

import aio_pika
import msgspec
import nats
import nats.errors
import redis.asyncio as aioredis
import redis.exceptions
from nats.aio.client import Client as NatsClient

from strategy_client.aio import within
from strategy_client.journal.lifecycle import LifecycleEvent

from .sinks import NatsOptions, RabbitOptions

__all__ = ["CHANNEL", "LifecycleRelay", "lifecycle_id", "lifecycle_key"]

log = logging.getLogger("bridge.lifecycle")

CHANNEL = "tradebus:strategy:lifecycle"  # strategies.lifecycle.CHANNEL (the bridge imports no strategy)
CAPACITY = 1_000
_DECODE = msgspec.json.Decoder(LifecycleEvent)
_BAD = re.compile(r"[.*>#\s]")
_ERRORS = (OSError, TimeoutError, nats.errors.Error, aio_pika.exceptions.AMQPException)


def lifecycle_key(ev: LifecycleEvent) -> str:
    return "lifecycle." + (_BAD.sub("_", ev.instance) or "_")


def lifecycle_id(ev: LifecycleEvent) -> str:
    return f"lifecycle/{ev.stream}/{ev.ts_ms}/{ev.from_state.value}-{ev.to_state.value}"


CLOSE_S = 2.0  # the longest a Redis close may take when the bridge stops


async def _bounded_close(close: Coroutine[Any, Any, None], what: str) -> None:
    """Close within :data:`CLOSE_S`. redis-py's asyncio close can wait forever on the socket's
    ``wait_closed`` (redis/redis-py#3941): a bridge told to stop then never did (a test's bridge
    was still running 30 s after its stop)."""
    try:
        await within(close, CLOSE_S)
    except TimeoutError:
        log.warning("%s: not closed within %.0f s; left to the process's exit", what, CLOSE_S)
    except (redis.exceptions.RedisError, OSError) as exc:
        log.info("%s: close failed (%s)", what, exc)


class LifecycleRelay:
    def __init__(self, redis_url: str, nats_opts: NatsOptions | None, rabbit_opts: RabbitOptions | None) -> None:
        self.redis_url = redis_url
        self.nats_opts, self.rabbit_opts = nats_opts, rabbit_opts
        self.queue: collections.deque[tuple[LifecycleEvent, bytes]] = collections.deque(maxlen=CAPACITY)
        self._wake = asyncio.Event()
        self.relayed = 0
        self.dropped = 0
        self.bad = 0
        self._nc: NatsClient | None = None
        self._rabbit: aio_pika.abc.AbstractConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._down = False

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._listen(), name="lifecycle.listen")
            tg.create_task(self._send(), name="lifecycle.send")

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            while True:
                ps = client.pubsub()
                try:
                    await ps.subscribe(CHANNEL)
                    async for msg in ps.listen():
                        if msg.get("type") == "message":
                            self.take(bytes(msg["data"]))
                except (redis.exceptions.RedisError, OSError):
                    await asyncio.sleep(1.0)  # discovery Redis down: the router says so
                finally:
                    await _bounded_close(ps.aclose(), "lifecycle pub/sub")
        finally:
            await _bounded_close(client.aclose(), "lifecycle Redis client")

    def take(self, body: bytes) -> None:
        try:
            ev = _DECODE.decode(body)
        except msgspec.DecodeError:
            self.bad += 1
            return
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append((ev, body))
        self._wake.set()

    async def _send(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self.queue:
                    ev, body = self.queue[0]
                    try:
                        await self._publish(ev, body)
                    except _ERRORS as exc:
                        await self._lost(exc)
                        await asyncio.sleep(1.0)
                        continue
                    if self._down:
                        self._down = False
                        log.info("lifecycle relay: brokers reachable again")
                    self.queue.popleft()
                    self.relayed += 1
        finally:
            await self._close()

    async def _publish(self, ev: LifecycleEvent, body: bytes) -> None:
        key, mid = lifecycle_key(ev), lifecycle_id(ev)
        headers = {"Tradebus-Id": mid, "Tradebus-Event": "lifecycle", "Content-Type": "application/json"}
        if self.nats_opts is not None:
            if self._nc is None or self._nc.is_closed:
                self._nc = await nats.connect(self.nats_opts.url, connect_timeout=2, max_reconnect_attempts=0)
            js = self._nc.jetstream(timeout=5)
            await js.publish(f"{self.nats_opts.prefix}.{key}", body, headers={**headers, "Nats-Msg-Id": mid})
        if self.rabbit_opts is not None:
            if self._exchange is None or self._rabbit is None or self._rabbit.is_closed:
                self._rabbit = await aio_pika.connect(self.rabbit_opts.url, timeout=2)
                channel = await self._rabbit.channel(publisher_confirms=True)
                self._exchange = await channel.declare_exchange(
                    self.rabbit_opts.exchange, aio_pika.ExchangeType.TOPIC, durable=True
                )
            await self._exchange.publish(
                aio_pika.Message(
                    body,
                    content_type="application/json",
                    message_id=mid,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    headers=dict(headers),
                    type="lifecycle",
                    app_id="tradebus-bridge",
                ),
                routing_key=key,
            )

    async def _lost(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "lifecycle relay: a broker did not take a transition (%s: %s); retrying", type(exc).__name__, exc
            )
        await self._close()

    async def _close(self) -> None:
        nc, self._nc = self._nc, None
        rabbit, self._rabbit, self._exchange = self._rabbit, None, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.close()
            except _ERRORS:
                pass
        if rabbit is not None:
            try:
                await rabbit.close()
            except _ERRORS:
                pass
