"""The broker side of ``strategy signals``: signals in (at-least-once), dead letters and events out.

* **RabbitMQ** (aio-pika): signals from a durable queue (default the seed's
  ``model-service.trading_signals``), ``prefetch`` unacknowledged at most; a poison message is
  published to ``<queue>.dlq`` (durable, persistent, headers ``x-reason`` and
  ``x-reason-code``) and then acknowledged; events go to a durable topic exchange (default
  ``tradebus.events``, the bridge's) with publisher confirms; ``--events-queue NAME=PATTERN``
  declares and binds consumers' queues (the seed's ``order-manager.order_events=signals.#``).
* **NATS JetStream** (nats-py): signals from a durable pull consumer on a subject (default
  ``model-service.trading_signals``) of a stream (default ``SIGNALS``, created when missing,
  also holding the dead-letter subject ``<subject>.dlq``); events are published with
  ``Nats-Msg-Id`` (JetStream drops a repeat) to ``<prefix>.<routing key>``, into whichever stream
  captures that subject (the bridge's ``TRADEBUS`` over ``tradebus.>``), else a stream
  ``SIGNAL_EVENTS`` over ``<prefix>.signals.>`` created for them.

A message is acknowledged only once it was acted on (its order answered, or its rejection
published and, for poison, parked): a crash before that redelivers it, and the journal's
signal ↔ order link makes the redelivery place nothing.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aio_pika
import aiormq
import nats
import nats.errors
import nats.js.errors
from aio_pika.abc import AbstractIncomingMessage
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from strategy_client.aio import within
from strategy_client.security import redact_url

__all__ = ["BusError", "BusOptions", "Delivery", "SignalBus", "RabbitBus", "NatsBus", "open_bus"]

SEED_QUEUE = "model-service.trading_signals"
AMQP_ERRORS = (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException, ConnectionError, OSError, TimeoutError)
NATS_ERRORS = (nats.errors.Error, nats.js.errors.Error, ConnectionError, OSError, TimeoutError)


class BusError(Exception):
    """The broker could not be reached or set up: one line (exit status 2 at start)."""


@dataclass
class BusOptions:
    rabbit: str = ""
    nats: str = ""
    queue: str = SEED_QUEUE  # RabbitMQ queue / NATS subject the signals arrive on
    dlq: str = ""  # default <queue>.dlq
    exchange: str = "tradebus.events"  # RabbitMQ topic exchange for the events
    events_queues: list[tuple[str, str]] = field(default_factory=list)  # RabbitMQ NAME=PATTERN bindings
    stream: str = "SIGNALS"  # NATS stream holding the signal subject and its dead letters
    durable: str = ""  # NATS durable consumer (default strategy-<instance>)
    prefix: str = "tradebus"  # NATS subject prefix of the events
    events_stream: str = "SIGNAL_EVENTS"  # created when no stream captures the events' subjects
    prefetch: int = 64
    ack_wait_s: float = 30.0  # NATS: redelivered when not acknowledged within this

    @property
    def dead_letters(self) -> str:
        return self.dlq or f"{self.queue}.dlq"

    @property
    def where(self) -> str:
        return f"RabbitMQ {redact_url(self.rabbit)}" if self.rabbit else f"NATS {redact_url(self.nats)}"


@dataclass
class Delivery:
    body: bytes
    content_type: str
    message_id: str
    redelivered: bool
    received_ns: int
    _ack: Callable[[], Awaitable[None]]
    acked: bool = False

    async def ack(self) -> None:
        if not self.acked:
            self.acked = True
            await self._ack()


class SignalBus(ABC):
    def __init__(self, opts: BusOptions) -> None:
        self.opts = opts
        self.dead_lettered = 0
        self.published = 0

    @abstractmethod
    async def connect(self, instance: str) -> None: ...

    @abstractmethod
    def deliveries(self) -> AsyncIterator[Delivery]: ...

    @abstractmethod
    async def dead_letter(self, delivery: Delivery, code: str, detail: str) -> None:
        """Park the message with its reason, then acknowledge it."""

    @abstractmethod
    async def publish(self, routing_key: str, body: bytes, message_id: str, headers: dict[str, str]) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...


class RabbitBus(SignalBus):
    def __init__(self, opts: BusOptions) -> None:
        super().__init__(opts)
        self._conn: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None

    async def connect(self, instance: str) -> None:
        o = self.opts
        try:
            conn = await within(aio_pika.connect_robust(o.rabbit, timeout=5), 6)
            self._conn = conn
            channel = await conn.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=o.prefetch)
            self._exchange = await channel.declare_exchange(o.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
            for name, pattern in o.events_queues:
                q = await channel.declare_queue(name, durable=True)
                await q.bind(self._exchange, routing_key=pattern)
            await channel.declare_queue(o.dead_letters, durable=True)
            self._queue = await channel.declare_queue(o.queue, durable=True)
            self._channel = channel
        except AMQP_ERRORS as exc:
            await self.close()
            raise BusError(f"{o.where}: cannot set up queue {o.queue}: {type(exc).__name__}: {exc}") from None

    async def deliveries(self) -> AsyncIterator[Delivery]:
        assert self._queue is not None
        async with self._queue.iterator() as it:
            async for msg in it:
                yield _rabbit_delivery(msg)

    async def dead_letter(self, delivery: Delivery, code: str, detail: str) -> None:
        assert self._channel is not None
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                delivery.body,
                content_type=delivery.content_type or None,
                message_id=delivery.message_id or None,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={"x-reason-code": code, "x-reason": detail[:1000], "x-original-queue": self.opts.queue},
            ),
            routing_key=self.opts.dead_letters,
        )
        self.dead_lettered += 1
        await delivery.ack()

    async def publish(self, routing_key: str, body: bytes, message_id: str, headers: dict[str, str]) -> None:
        assert self._exchange is not None
        await self._exchange.publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=dict(headers),
                type=headers.get("Tradebus-Event"),
                app_id="tradebus-signals",
            ),
            routing_key=routing_key,
        )
        self.published += 1

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


def _rabbit_delivery(msg: AbstractIncomingMessage) -> Delivery:
    return Delivery(
        body=msg.body,
        content_type=msg.content_type or "",
        message_id=msg.message_id or "",
        redelivered=bool(msg.redelivered),
        received_ns=time.time_ns(),
        _ack=msg.ack,
    )


class NatsBus(SignalBus):
    def __init__(self, opts: BusOptions) -> None:
        super().__init__(opts)
        self._nc: NatsClient | None = None
        self._js: nats.js.JetStreamContext | None = None
        self._sub: nats.js.JetStreamContext.PullSubscription | None = None

    async def connect(self, instance: str) -> None:
        o = self.opts
        try:
            nc = await within(nats.connect(o.nats, connect_timeout=5, name=f"tradebus-{instance}"), 6)
            self._nc = nc
            js = nc.jetstream(timeout=5)
            self._js = js
            await _ensure_stream(js, o.stream, [o.queue, o.dead_letters])
            events = f"{o.prefix}.signals.>"
            try:
                await js.find_stream_name_by_subject(f"{o.prefix}.signals.order.x")
            except nats.js.errors.NotFoundError:
                await _ensure_stream(js, o.events_stream, [events])
            self._sub = await js.pull_subscribe(
                o.queue,
                durable=o.durable or f"strategy-{instance}",
                stream=o.stream,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=o.ack_wait_s, max_ack_pending=o.prefetch),
            )
        except NATS_ERRORS as exc:
            await self.close()
            raise BusError(
                f"{o.where}: cannot set up stream {o.stream} / {o.queue}: {type(exc).__name__}: {exc}"
            ) from None

    async def deliveries(self) -> AsyncIterator[Delivery]:
        assert self._sub is not None
        while True:
            try:
                msgs = await self._sub.fetch(self.opts.prefetch, timeout=1.0)
            except TimeoutError:
                continue
            except NATS_ERRORS:
                await asyncio.sleep(0.5)  # the client reconnects by itself; fetch again then
                continue
            for msg in msgs:
                yield _nats_delivery(msg)

    async def dead_letter(self, delivery: Delivery, code: str, detail: str) -> None:
        assert self._js is not None
        headers = {"Tradebus-Reason-Code": code, "Tradebus-Reason": detail[:1000].replace("\n", " ")}
        if delivery.message_id:
            headers["Nats-Msg-Id"] = f"dlq-{delivery.message_id}"
        await self._js.publish(self.opts.dead_letters, delivery.body, headers=headers)
        self.dead_lettered += 1
        await delivery.ack()

    async def publish(self, routing_key: str, body: bytes, message_id: str, headers: dict[str, str]) -> None:
        assert self._js is not None
        await self._js.publish(
            f"{self.opts.prefix}.{routing_key}", body, headers={**headers, "Nats-Msg-Id": message_id}
        )
        self.published += 1

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            await nc.close()


def _nats_delivery(msg: Msg) -> Delivery:
    headers = msg.headers or {}
    return Delivery(
        body=msg.data,
        content_type=headers.get("Content-Type", ""),
        message_id=headers.get("Nats-Msg-Id", ""),
        redelivered=msg.metadata.num_delivered > 1,
        received_ns=time.time_ns(),
        _ack=msg.ack,
    )


async def _ensure_stream(js: nats.js.JetStreamContext, name: str, subjects: Sequence[str]) -> None:
    try:
        info = await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        await js.add_stream(StreamConfig(name=name, subjects=list(subjects)))
        return
    have = list(info.config.subjects or [])
    missing = [s for s in subjects if s not in have]
    if missing:
        await js.update_stream(StreamConfig(name=name, subjects=have + missing))


def open_bus(opts: BusOptions) -> SignalBus:
    if bool(opts.rabbit) == bool(opts.nats):
        raise BusError("give one broker: --rabbit URL or --nats URL")
    return RabbitBus(opts) if opts.rabbit else NatsBus(opts)
