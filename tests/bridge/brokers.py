"""Test support for the bridge: a TCP proxy we can cut (a broker outage without touching the
machine's shared servers), reachability checks, and readers of what reached the brokers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import aio_pika
import msgspec
import nats
from nats.js.api import DeliverPolicy

from bridge.envelope import Outgoing, outgoing_from_received
from strategy_client.events import Received
from strategy_client.model import Exchange
from strategy_client.wire import RunnerStatusEvent, TopicKind

from ..helpers import free_port

__all__ = ["NATS_URL", "RABBIT_URL", "CutProxy", "reachable", "read_jetstream", "read_queue", "status_event"]

NATS_URL = "nats://127.0.0.1:4222"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


class CutProxy:
    """Forwards 127.0.0.1:<port> to a broker. :meth:`cut` closes the listener and every
    connection (the broker looks dead: refused connections), :meth:`restore` listens again on
    the same port. Starts cut when ``listening=False`` (a broker down at the bridge's start).
    :meth:`hold` stops forwarding (what arrives is dropped): a broker that hangs, connections open."""

    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self.accepted = 0
        self.held = False

    def hold(self) -> None:
        self.held = True

    async def restore(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._conns):
            w.transport.abort()
        self._conns.clear()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._conns.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer, self), _pipe(up_reader, writer, self))
        self._conns.discard(writer)
        self._conns.discard(up_writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, proxy: CutProxy) -> None:
    try:
        while data := await reader.read(65536):
            if proxy.held:
                continue
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


async def read_jetstream(stream: str, subject: str, timeout_s: float = 2.0) -> list[tuple[str, dict[str, str], bytes]]:
    """Every message of ``stream`` on ``subject`` (wildcards allowed), in stream order:
    (subject, headers, body)."""
    nc = await nats.connect(NATS_URL)
    out: list[tuple[str, dict[str, str], bytes]] = []
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        total = info.state.messages
        if total == 0:
            return out
        sub = await js.subscribe(subject, stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
            while True:
                msg = await sub.next_msg(timeout=timeout_s)
                out.append((msg.subject, dict(msg.headers or {}), msg.data))
        await sub.unsubscribe()
    finally:
        await nc.close()
    return out


async def read_queue(queue_name: str, timeout_s: float = 1.0) -> list[tuple[str, dict[str, object], bytes]]:
    """Drain a RabbitMQ queue: (message_id, headers, body) in queue order (acked)."""
    conn = await aio_pika.connect(RABBIT_URL)
    out: list[tuple[str, dict[str, object], bytes]] = []
    try:
        channel = await conn.channel()
        queue = await channel.get_queue(queue_name, ensure=True)
        while True:
            msg = await queue.get(no_ack=True, fail=False, timeout=timeout_s)
            if msg is None:
                break
            out.append((msg.message_id or "", dict(msg.headers), msg.body))
    finally:
        await conn.close()
    return out


def decode_json(body: bytes) -> dict[str, object]:
    value = msgspec.json.decode(body)
    assert isinstance(value, dict)
    return value


def status_event(runner: str, seq: int) -> Outgoing:
    """A runner status event ready for a sink: the smallest message a lane or a sink publishes."""
    event = RunnerStatusEvent(exchange=Exchange.BINANCE, status="ready", detail=f"n{seq}")
    rec = Received(
        runner=runner,
        topic="status|binance|",
        kind=TopicKind.STATUS,
        exchange=Exchange.BINANCE,
        key=None,
        seq=seq,
        sent_ns=seq,
        recv_ns=time.time_ns(),
        event=event,
    )
    return outgoing_from_received(rec)
