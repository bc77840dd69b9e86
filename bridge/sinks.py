"""The brokers the bridge publishes to: NATS JetStream and RabbitMQ (docs/bus.md).

A sink publishes a batch and returns only when the broker has acknowledged every message of it
(JetStream publish acks; RabbitMQ publisher confirms), or raises :class:`SinkDown`. It does not
reconnect by itself: :class:`~bridge.health.SinkHandle` owns the connection's life (one log
line per outage, reconnect with backoff).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import aio_pika
import aiormq
import aiormq.abc
import msgspec
import nats
import nats.errors
import nats.js.errors
import pamqp.commands
import pamqp.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from strategy_client.aio import within

from .envelope import Outgoing, PayloadFormat, encoded

__all__ = [
    "NatsOptions",
    "NatsSink",
    "RabbitOptions",
    "RabbitSink",
    "Sink",
    "SinkConfigError",
    "SinkDown",
    "parse_queue_binding",
]

_NATS_ERRORS = (nats.errors.Error, OSError, TimeoutError)
_AMQP_ERRORS = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,  # a RuntimeError: publishing on a closed channel
    pamqp.exceptions.PAMQPException,
    OSError,
    TimeoutError,
)


class SinkDown(Exception):
    """The broker could not be reached or did not acknowledge; ``line`` says which and why."""

    def __init__(self, sink: str, what: str) -> None:
        super().__init__(f"{sink}: {what}")
        self.line = f"{sink}: {what}"


class SinkConfigError(ValueError):
    """A setting the broker refuses (e.g. a stream that exists with other subjects)."""


class Sink(Protocol):
    name: str
    fmt: PayloadFormat
    on_lost: Callable[[str], None] | None  # the handle's: the connection dropped while idle
    unroutable: int  # acknowledged but delivered nowhere (RabbitMQ: no queue bound for the key)

    @property
    def checkpoint_key(self) -> str:
        """The destination's identity in the checkpoint (kind and stream / exchange): pointing a
        bridge at another stream starts that stream from the beginning, not from the old one's point."""
        ...

    def describe(self) -> str: ...

    async def connect(self) -> None: ...

    async def publish(self, batch: Sequence[Outgoing]) -> int:
        """Publish and wait for every acknowledgement; the number the broker took as
        duplicates (0 where it cannot tell)."""
        ...

    async def close(self) -> None: ...


def _payloads(batch: Sequence[Outgoing], fmt: PayloadFormat) -> list[tuple[Outgoing, bytes, dict[str, str]]]:
    return [(out, *encoded(out, fmt)) for out in batch]


# -- NATS JetStream ---------------------------------------------------------------------------


class NatsOptions(msgspec.Struct, frozen=True, kw_only=True):
    url: str = "nats://127.0.0.1:4222"
    stream: str = "TRADEBUS"
    prefix: str = "tradebus"
    retention: str = "limits"  # limits | interest | workqueue
    storage: str = "file"  # file | memory
    max_age_s: float = 86_400.0  # 0: unlimited
    max_bytes: int = -1
    max_msgs_per_subject: int = -1
    duplicate_window_s: float = 120.0
    replicas: int = 1
    connect_timeout_s: float = 2.0
    ack_timeout_s: float = 30.0  # a lost connection is seen at once (on_lost); this bounds a hung broker


class NatsSink:
    def __init__(self, opts: NatsOptions, fmt: PayloadFormat = PayloadFormat.JSON, name: str = "nats") -> None:
        self.opts = opts
        self.fmt = fmt
        self.name = name
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self.on_lost: Callable[[str], None] | None = None
        self.unroutable = 0  # never: every subject is the stream's
        self._closing = False
        # done once the connection is lost or closed: a publish waiting for its acknowledgements
        # ends then (nats-py leaves a closed connection's acknowledgements pending for ever, and
        # the lane would sit out ack_timeout_s after the broker was back)
        self._gone: asyncio.Future[None] | None = None

    @property
    def checkpoint_key(self) -> str:
        return f"{self.name}:{self.opts.stream}"

    def describe(self) -> str:
        return f"JetStream {self.opts.url} stream {self.opts.stream} subjects {self.opts.prefix}.>"

    def stream_config(self) -> StreamConfig:
        o = self.opts
        return StreamConfig(
            name=o.stream,
            subjects=[f"{o.prefix}.>"],
            retention=RetentionPolicy(o.retention),
            storage=StorageType(o.storage),
            max_age=o.max_age_s or None,
            max_bytes=o.max_bytes,
            max_msgs_per_subject=o.max_msgs_per_subject,
            duplicate_window=o.duplicate_window_s,
            num_replicas=o.replicas,
        )

    async def connect(self) -> None:
        await self.close()
        try:
            nc = await within(
                nats.connect(
                    self.opts.url,
                    connect_timeout=self.opts.connect_timeout_s,
                    allow_reconnect=False,
                    max_reconnect_attempts=0,
                    name="tradebus-bridge",
                    error_cb=self._quiet,
                    disconnected_cb=self._disconnected,
                    closed_cb=self._disconnected,
                ),
                self.opts.connect_timeout_s + 1.0,
            )
        except _NATS_ERRORS as exc:
            raise SinkDown(self.name, f"cannot connect to {self.opts.url}: {type(exc).__name__}: {exc}") from None
        js = nc.jetstream(timeout=self.opts.ack_timeout_s)
        self._nc, self._js = nc, js
        self._gone = asyncio.get_running_loop().create_future()
        try:
            await self._ensure_stream(js)
        except _NATS_ERRORS as exc:
            await self.close()
            raise SinkDown(self.name, f"stream {self.opts.stream}: {type(exc).__name__}: {exc}") from None

    async def _quiet(self, exc: Exception) -> None:
        """nats-py's error callback: the handle reports outages, one line each (no tracebacks)."""

    async def _disconnected(self) -> None:
        self._end_waits()
        if not self._closing and self.on_lost is not None:
            self.on_lost(f"{self.name}: connection to {self.opts.url} lost")

    def _end_waits(self) -> None:
        gone, self._gone = self._gone, None
        if gone is not None and not gone.done():
            gone.set_result(None)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        config = self.stream_config()
        try:
            await js.stream_info(self.opts.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(config)
            return
        try:
            await js.update_stream(config)
        except (nats.js.errors.BadRequestError, nats.js.errors.ServerError) as exc:  # e.g. another storage type
            await self.close()
            raise SinkConfigError(
                f"JetStream stream {self.opts.stream} exists with settings this bridge cannot apply: {exc.description}"
            ) from None

    async def publish(self, batch: Sequence[Outgoing]) -> int:
        js, gone = self._js, self._gone
        if js is None or gone is None:
            raise SinkDown(self.name, "not connected")
        prefix = self.opts.prefix
        acked: asyncio.Future[list[Any]] | None = None
        try:
            futures = [
                await js.publish_async(f"{prefix}.{out.key}", body, headers={**hdrs, "Nats-Msg-Id": out.id})
                for out, body, hdrs in _payloads(batch, self.fmt)
            ]
            acked = asyncio.gather(*futures)
            await asyncio.wait((acked, gone), timeout=self.opts.ack_timeout_s, return_when=asyncio.FIRST_COMPLETED)
            if not acked.done():
                why = "connection lost" if gone.done() else f"no acknowledgement within {self.opts.ack_timeout_s:g} s"
                raise SinkDown(self.name, f"publish failed: {why}")
            acks = acked.result()
        except (*_NATS_ERRORS, nats.js.errors.APIError) as exc:
            raise SinkDown(self.name, f"publish failed: {type(exc).__name__}: {exc}") from None
        finally:
            if acked is not None and not acked.done():
                acked.cancel()
                acked.add_done_callback(_retrieved)  # a cancelled gather's outcome, read: nothing to log
        return sum(1 for ack in acks if ack.duplicate)

    async def close(self) -> None:
        self._end_waits()
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            self._closing = True
            try:
                await nc.close()
            except _NATS_ERRORS:
                pass
            finally:
                self._closing = False


def _retrieved(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


# -- RabbitMQ ---------------------------------------------------------------------------------


class RabbitOptions(msgspec.Struct, frozen=True, kw_only=True):
    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    exchange: str = "tradebus.events"
    queues: tuple[tuple[str, str], ...] = ()  # (queue name, binding pattern): declared durable and bound
    connect_timeout_s: float = 2.0
    confirm_timeout_s: float = 30.0


def parse_queue_binding(text: str) -> tuple[str, str]:
    """``NAME=PATTERN`` (e.g. ``ws-gateway.order=exec.#``); a bare ``NAME`` binds ``#``."""
    name, _, pattern = text.partition("=")
    name = name.strip()
    if not name:
        raise ValueError(f"queue binding {text!r}: expected NAME=PATTERN, e.g. ws-gateway.order=exec.#")
    return name, pattern.strip() or "#"


class RabbitSink:
    def __init__(self, opts: RabbitOptions, fmt: PayloadFormat = PayloadFormat.JSON, name: str = "rabbitmq") -> None:
        self.opts = opts
        self.fmt = fmt
        self.name = name
        self._conn: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._raw: aiormq.Channel | None = None
        self.on_lost: Callable[[str], None] | None = None
        self.unroutable = 0
        self._closing = False

    @property
    def checkpoint_key(self) -> str:
        return f"{self.name}:{self.opts.exchange}"

    def describe(self) -> str:
        return f"RabbitMQ {_redact(self.opts.url)} topic exchange {self.opts.exchange}"

    async def connect(self) -> None:
        await self.close()
        o = self.opts
        try:
            conn = await within(aio_pika.connect(o.url, timeout=o.connect_timeout_s), o.connect_timeout_s + 1)
            self._conn = conn
            conn.close_callbacks.add(self._lost)
            channel = await conn.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(o.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
            for queue_name, pattern in o.queues:
                queue = await channel.declare_queue(queue_name, durable=True)
                await queue.bind(exchange, routing_key=pattern)
        except _AMQP_ERRORS as exc:
            await self.close()
            raise SinkDown(self.name, f"cannot set up {_redact(o.url)}: {type(exc).__name__}: {exc}") from None
        self._channel, self._exchange = channel, exchange
        raw = await channel.get_underlay_channel()
        if not isinstance(raw, aiormq.Channel):
            await self.close()
            raise SinkConfigError(f"aio-pika gave a {type(raw).__name__}, not an aiormq.Channel")
        self._raw = raw

    async def publish(self, batch: Sequence[Outgoing]) -> int:
        channel = self._raw
        if channel is None:
            raise SinkDown(self.name, "not connected")
        content_type = "application/json" if self.fmt is PayloadFormat.JSON else "application/msgpack"
        exchange = self.opts.exchange
        # aiormq directly, wait=False: each publish queues its frames without waiting for the
        # writer (aio-pika's publish waits per message, one event-loop turn each); the
        # confirmations are awaited together
        pending = [
            channel.basic_publish(
                body,
                exchange=exchange,
                routing_key=out.key,
                properties=pamqp.commands.Basic.Properties(
                    content_type=content_type,
                    delivery_mode=2,  # persistent
                    message_id=out.id,
                    headers=dict(hdrs),
                    message_type=hdrs["Tradebus-Event"],
                    app_id="tradebus-bridge",
                ),
                mandatory=True,
                wait=False,
            )
            for out, body, hdrs in _payloads(batch, self.fmt)
        ]
        try:
            results = await within(asyncio.gather(*pending), self.opts.confirm_timeout_s)
        except _AMQP_ERRORS as exc:
            raise SinkDown(self.name, f"publish failed: {type(exc).__name__}: {exc}") from None
        nacked = sum(1 for r in results if isinstance(r, pamqp.commands.Basic.Nack))
        if nacked:
            raise SinkDown(self.name, f"the broker refused {nacked} of {len(results)} messages (nack)")
        # confirmed either way; a returned (mandatory) message found no queue bound for its key
        self.unroutable += sum(1 for r in results if isinstance(r, aiormq.abc.DeliveredMessage))
        return 0

    def _lost(self, _conn: Any, exc: BaseException | None = None) -> None:
        if not self._closing and self.on_lost is not None:
            self.on_lost(f"{self.name}: connection to {_redact(self.opts.url)} lost ({exc})")

    async def close(self) -> None:
        conn, self._conn, self._channel, self._exchange = self._conn, None, None, None
        self._raw = None
        if conn is not None and not conn.is_closed:
            self._closing = True
            try:
                await within(conn.close(), 2.0)
            except _AMQP_ERRORS:
                pass
            finally:
                self._closing = False


def _redact(url: str) -> str:
    """``amqp://user:***@host``: never log a password."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"
