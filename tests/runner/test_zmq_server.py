"""ZmqServer over real sockets: every bad-frame kind gets a typed error reply and is counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest
import zmq
import zmq.asyncio

from exchange_runner.zmq_server import ZmqServer
from strategy_client.model import Exchange
from strategy_client.wire import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorReply,
    Header,
    Ping,
    Pong,
    Reply,
    Request,
    decode_header,
    decode_reply,
    encode,
)

RELEASE: dict[str, asyncio.Event] = {}


async def handler(req: Request, header: Header) -> Reply:
    if isinstance(req, Ping):
        return Pong(exchange=Exchange.BINANCE, runner_version="t", protocol_version=PROTOCOL_VERSION)
    # a slow venue call, held until the test releases it: must not block other clients
    await RELEASE.setdefault("slow", asyncio.Event()).wait()
    return ErrorReply(code=ErrorCode.INTERNAL, message="slow")


@pytest.fixture()
async def server() -> AsyncIterator[tuple[ZmqServer, str, zmq.asyncio.Context]]:
    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    srv = ZmqServer(router, handler)
    task = asyncio.create_task(srv.serve())
    yield srv, f"tcp://127.0.0.1:{port}", ctx
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    router.close(linger=0)
    ctx.term()


async def call(ctx: zmq.asyncio.Context, endpoint: str, frames: list[bytes]) -> tuple[Header, Reply]:
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)
    try:
        await dealer.send_multipart(frames)
        raw = await asyncio.wait_for(dealer.recv_multipart(), 5)
    finally:
        dealer.close(linger=0)
    return decode_header(raw[0]), decode_reply(raw[1])


async def test_ping(server: tuple[ZmqServer, str, zmq.asyncio.Context]) -> None:
    srv, ep, ctx = server
    hdr, rep = await call(ctx, ep, [encode(Header(id="m1")), encode(Ping())])
    assert isinstance(rep, Pong) and hdr.cid == "m1"
    assert srv.requests["ping"] == 1


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([b"only-one"], ErrorCode.BAD_FRAME),
        ([b"\xc1", encode(Ping())], ErrorCode.DECODE_ERROR),
        ([encode(Header(v=99, id="x")), encode(Ping())], ErrorCode.VERSION_MISMATCH),
        ([encode(Header(id="x")), msgspec.msgpack.encode({"method": "fly"})], ErrorCode.UNKNOWN_METHOD),
        (
            [encode(Header(id="x")), msgspec.msgpack.encode({"method": "get_position", "key": 3})],
            ErrorCode.INVALID_PARAMS,
        ),
        ([encode(Header(id="x")), b"\x00" * (MAX_FRAME_BYTES + 1)], ErrorCode.OVERSIZED),
    ],
)
async def test_bad_frames_get_typed_errors(
    server: tuple[ZmqServer, str, zmq.asyncio.Context], frames: list[bytes], code: ErrorCode
) -> None:
    srv, ep, ctx = server
    _, rep = await call(ctx, ep, frames)
    assert isinstance(rep, ErrorReply) and rep.code is code
    assert srv.bad_frames[code.value] == 1
    # and the server is still serving
    _, ok = await call(ctx, ep, [encode(Header(id="after")), encode(Ping())])
    assert isinstance(ok, Pong)


async def test_version_mismatch_names_both_versions(
    server: tuple[ZmqServer, str, zmq.asyncio.Context],
) -> None:
    _, ep, ctx = server
    _, rep = await call(ctx, ep, [encode(Header(v=7, id="x")), encode(Ping())])
    assert isinstance(rep, ErrorReply) and "v7" in rep.message and f"v{PROTOCOL_VERSION}" in rep.message


async def test_slow_call_does_not_block_others(server: tuple[ZmqServer, str, zmq.asyncio.Context]) -> None:
    _, ep, ctx = server
    from strategy_client.wire import GetAllPositions

    slow = asyncio.create_task(
        call(ctx, ep, [encode(Header(id="slow")), encode(GetAllPositions(exchange=Exchange.BINANCE))])
    )
    _, fast = await call(ctx, ep, [encode(Header(id="fast")), encode(Ping())])
    assert isinstance(fast, Pong) and not slow.done()
    RELEASE.setdefault("slow", asyncio.Event()).set()
    _, rep = await slow
    assert isinstance(rep, ErrorReply) and rep.message == "slow"
    RELEASE.clear()
