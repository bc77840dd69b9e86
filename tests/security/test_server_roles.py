"""The ROUTER's door in one process: a CURVE ZmqServer behind ServerSecurity's ZAP handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from exchange_runner.security import ServerSecurity
from exchange_runner.zmq_server import ZmqServer
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.security import AccessList, KeyPair, generate_keypair
from strategy_client.wire import (
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorReply,
    Header,
    Ping,
    Pong,
    Reply,
    Request,
    SubmitOrder,
    decode_header,
    decode_reply,
    encode,
)
from tests.helpers import eventually

ORDER = OrderRequest(
    key=InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP),
    side=Side.BUY,
    type=OrderType.LIMIT,
    qty=Decimal("1"),
    price=Decimal("1"),
)


async def handler(req: Request, header: Header) -> Reply:
    if isinstance(req, Ping):
        return Pong(exchange=Exchange.BINANCE, runner_version="t", protocol_version=PROTOCOL_VERSION)
    return ErrorReply(code=ErrorCode.NOT_FOUND, message="reached the handler")


class Door:
    def __init__(self, endpoint: str, security: ServerSecurity, server: ZmqServer, ctx: zmq.asyncio.Context) -> None:
        self.endpoint, self.security, self.server, self.ctx = endpoint, security, server, ctx

    async def call(self, request: Request, keys: KeyPair | None, wait_s: float = 2.0) -> tuple[Header, Reply] | None:
        dealer = self.ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        if keys is not None:
            dealer.setsockopt(zmq.CURVE_SERVERKEY, self.security.keys.public.encode())
            dealer.setsockopt(zmq.CURVE_PUBLICKEY, keys.public.encode())
            dealer.setsockopt(zmq.CURVE_SECRETKEY, keys.secret.encode())
        dealer.connect(self.endpoint)
        try:
            await dealer.send_multipart([encode(Header(id="r1")), encode(request)])
            raw = await asyncio.wait_for(dealer.recv_multipart(), wait_s)
        except TimeoutError:
            return None
        finally:
            dealer.close(linger=0)
        return decode_header(raw[0]), decode_reply(raw[1])


@pytest.fixture()
async def door(tmp_path: Path) -> AsyncIterator[tuple[Door, KeyPair, KeyPair]]:
    reader, trader = generate_keypair(), generate_keypair()
    allow = tmp_path / "allow.txt"
    allow.write_text(f"read {reader.public} r\ntrade {trader.public} t\n")
    security = ServerSecurity(generate_keypair(), AccessList(allow))
    ctx = zmq.asyncio.Context()
    security.serve_zap(ctx)
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    security.apply(router, "router")
    security.start()
    port = router.bind_to_random_port("tcp://127.0.0.1")
    server = ZmqServer(router, handler, authorize=security.authorize, epoch="ep-1")
    task = asyncio.create_task(server.serve())
    try:
        yield Door(f"tcp://127.0.0.1:{port}", security, server, ctx), reader, trader
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        router.close(linger=0)
        security.stop()
        ctx.term()


async def test_roles_per_request_and_the_epoch_in_every_reply(door: tuple[Door, KeyPair, KeyPair]) -> None:
    d, reader, trader = door
    got = await d.call(Ping(), reader)
    assert got is not None and isinstance(got[1], Pong) and got[0].ep == "ep-1"
    got = await d.call(SubmitOrder(order=ORDER), reader)
    assert got is not None
    header, reply = got
    assert isinstance(reply, ErrorReply) and reply.code is ErrorCode.FORBIDDEN and header.ep == "ep-1"
    assert reply.message == "submit_order needs role trade; client key 'r' has role read"
    got = await d.call(SubmitOrder(order=ORDER), trader)
    assert got is not None and isinstance(got[1], ErrorReply) and got[1].message == "reached the handler"
    assert d.server.errors["forbidden"] == 1 and d.security.forbidden["submit_order"] == 1


async def test_no_answer_without_an_admitted_key_and_each_attempt_counted(
    door: tuple[Door, KeyPair, KeyPair],
) -> None:
    d, _, _ = door
    assert await d.call(Ping(), None, wait_s=1.0) is None  # plaintext
    assert await d.call(Ping(), generate_keypair(), wait_s=1.0) is None  # unknown key
    await eventually(lambda: d.security.denied["unknown_key"] >= 1, what="the unknown key counted")
    await eventually(
        lambda: d.security.denied["protocol_error"] + d.security.denied["handshake_failed"] >= 1,
        what="the plaintext peer counted",
    )
    assert d.server.requests == {}  # nothing reached the server


async def test_a_frame_without_a_user_id_is_forbidden() -> None:
    """authorize on a plaintext socket (no ZAP, no User-Id): every request refused, none served."""
    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    seen: list[tuple[str | None, str]] = []

    def authorize(user: str | None, method: str) -> str | None:
        seen.append((user, method))
        return None if user else "no key"

    server = ZmqServer(router, handler, authorize=authorize)
    task = asyncio.create_task(server.serve())
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    try:
        await dealer.send_multipart([encode(Header(id="p1")), encode(Ping())])
        raw = await asyncio.wait_for(dealer.recv_multipart(), 5)
        reply = decode_reply(raw[1])
        assert isinstance(reply, ErrorReply) and reply.code is ErrorCode.FORBIDDEN and reply.message == "no key"
        assert seen == [(None, "ping")]
    finally:
        dealer.close(linger=0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        router.close(linger=0)
        ctx.term()
