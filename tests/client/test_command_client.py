"""ZmqCommandClient against a ROUTER peer the test controls (real sockets): timeouts and late
replies, a peer that vanishes mid-call and comes back, replies it cannot use, version checks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
import zmq
import zmq.asyncio

from exchange_runner.ports import free_port
from strategy_client import ZmqCommandClient
from strategy_client.errors import BadReply, ProtocolMismatch, RequestTimeout, RunnerUnavailable
from strategy_client.model import Exchange
from strategy_client.wire import GetAllPositions, Header, Ping, Pong, PositionsReply, decode_header, encode

from ..helpers import eventually

Answer = Callable[[Header, bytes], list[bytes] | None]


class Peer:
    """A ROUTER on ``endpoint`` answering with ``answer(header, body)`` (None: stay silent)."""

    def __init__(self, endpoint: str, answer: Answer) -> None:
        self.endpoint = endpoint
        self.answer = answer
        self.sock = zmq.asyncio.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.received: list[Header] = []
        self.held: list[tuple[bytes, Header]] = []
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            identity, raw_header, body = await self.sock.recv_multipart()
            header = decode_header(raw_header)
            self.received.append(header)
            reply = self.answer(header, body)
            if reply is None:
                self.held.append((identity, header))
            else:
                await self.sock.send_multipart([identity, *reply])

    async def send_late(self, reply: bytes) -> None:
        for identity, header in self.held:
            await self.sock.send_multipart([identity, encode(Header(cid=header.id)), reply])

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.sock.close(linger=0)


def pong(version: int = 1) -> bytes:
    return encode(Pong(exchange=Exchange.BINANCE, runner_version="test", protocol_version=version))


def answer_ping(version: int = 1) -> Answer:
    return lambda h, body: [encode(Header(cid=h.id)), pong(version)]


@pytest.fixture()
async def endpoint() -> AsyncIterator[str]:
    yield f"tcp://127.0.0.1:{free_port()}"


async def test_timeout_then_late_reply_is_counted(endpoint: str) -> None:
    peer = Peer(endpoint, lambda h, body: None)
    client = ZmqCommandClient(endpoint, name="silent")
    try:
        await client.connect(check_version=False)
        with pytest.raises(RequestTimeout, match=r"get_all_positions to runner silent: no reply within 0.2s"):
            await client.call(GetAllPositions(exchange=Exchange.BINANCE), timeout_s=0.2)
        assert peer.received[0].timeout_ms == 200  # the runner is told how long we wait
        await peer.send_late(encode(PositionsReply(positions=())))
        await eventually(lambda: client.late_replies == 1, what="late reply counted")
        assert client.timeouts == 1 and client.in_flight == 0
    finally:
        client.close_now()
        await peer.close()


async def test_peer_gone_mid_call_fails_fast_and_reconnects(endpoint: str) -> None:
    peer = Peer(endpoint, lambda h, body: None)  # takes the call and never answers
    client = ZmqCommandClient(endpoint, name="flaky")
    try:
        await client.connect(check_version=False)
        call = asyncio.create_task(client.call(Ping(), timeout_s=60))
        await eventually(lambda: peer.received, what="request at the peer")
        await peer.close()  # the runner dies with the call in flight
        with pytest.raises(RunnerUnavailable, match="connection lost during the call"):
            await call  # long before its 60 s timeout
        with pytest.raises(RunnerUnavailable, match="is not connected"):
            await client.ping(timeout_s=60)  # and new calls fail at once
        peer = Peer(endpoint, answer_ping())  # back on the same endpoint: ZeroMQ reconnects
        await eventually(lambda: client.connected, what="reconnected")
        assert (await client.ping()).runner_version == "test"
        assert client.failed_fast >= 1
    finally:
        client.close_now()
        await peer.close()


async def test_nothing_listening_is_reported_not_waited_for() -> None:
    client = ZmqCommandClient(f"tcp://127.0.0.1:{free_port()}", name="nobody", connect_timeout_s=0.3)
    try:
        with pytest.raises(RunnerUnavailable, match=r"no connection within 0.3s"):
            await client.connect()
        with pytest.raises(RunnerUnavailable, match=r"nobody .* is not connected"):
            await client.call(Ping(), timeout_s=60)
    finally:
        client.close_now()


async def test_protocol_version_is_checked_at_connect(endpoint: str) -> None:
    peer = Peer(endpoint, answer_ping(version=2))
    client = ZmqCommandClient(endpoint, name="future")
    try:
        with pytest.raises(ProtocolMismatch, match="speaks protocol v2; this client speaks v1"):
            await client.connect()
    finally:
        client.close_now()
        await peer.close()


async def test_undecodable_or_wrong_reply_is_a_bad_reply(endpoint: str) -> None:
    replies = iter(
        [
            [encode(Header()), b"\xc1"],  # header without a correlation id: dropped, counted
            None,
        ]
    )

    def answer(h: Header, body: bytes) -> list[bytes] | None:
        first = next(replies, None)
        if first is not None:
            return first
        if msgspec.msgpack.decode(body)["method"] == "ping":
            return [encode(Header(cid=h.id)), msgspec.msgpack.encode({"type": "pong", "exchange": 42})]
        return [encode(Header(cid=h.id)), pong()]  # a pong where positions were asked for

    peer = Peer(endpoint, answer)
    client = ZmqCommandClient(endpoint, name="odd")
    try:
        await client.connect(check_version=False)
        with pytest.raises(RequestTimeout):
            await client.call(Ping(), timeout_s=0.3)
        assert client.late_replies == 1  # no pending call with an empty cid
        with pytest.raises(BadReply, match="could not be decoded"):
            await client.call(Ping(), timeout_s=5)
        with pytest.raises(BadReply, match="expected a PositionsReply, the runner sent Pong"):
            await client.get_all_positions("binance", timeout_s=5)
        assert client.bad_replies == 1
    finally:
        client.close_now()
        await peer.close()


def _thread_peer(endpoint: str, stop: threading.Event) -> None:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 50)
    sock.bind(endpoint)
    try:
        while not stop.is_set():
            try:
                identity, raw_header, _ = sock.recv_multipart()
            except zmq.Again:
                continue
            sock.send_multipart([identity, encode(Header(cid=decode_header(raw_header).id)), pong()])
    finally:
        sock.close(linger=0)


async def test_spinning_client_takes_replies_without_the_loop(endpoint: str) -> None:
    """spin_us: a lone call busy-reads its socket; the reply (from a peer in another thread)
    is taken inside the spin, and the result is the same as through the loop."""
    stop = threading.Event()
    peer = threading.Thread(target=_thread_peer, args=(endpoint, stop), daemon=True)
    peer.start()
    client = ZmqCommandClient(endpoint, name="spin", spin_us=1_000_000)
    try:
        await client.connect()
        pongs = [await client.ping() for _ in range(5)]
        assert all(p.runner_version == "test" for p in pongs)
        assert client.spin_hits >= 5 and client.in_flight == 0
        both = await asyncio.gather(client.ping(), client.ping(), client.ping())  # concurrent callers still fine
        assert len(both) == 3 and client.in_flight == 0
    finally:
        client.close_now()
        stop.set()
        peer.join(5)
