"""Hostile input on the ROUTER (issue 12, defect 1): every frame ends in a reply or a counted
drop, and nothing a peer sends stalls the reader for anyone else.

Real sockets, a real :class:`ZmqServer`; the runner wires it with a ``starter`` (the fast path)
so both paths are exercised.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
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

PONG = Pong(exchange=Exchange.BINANCE, runner_version="t", protocol_version=PROTOCOL_VERSION)


async def handler(req: Request, header: Header) -> Reply:
    return PONG if isinstance(req, Ping) else ErrorReply(code=ErrorCode.INTERNAL, message="unexpected")


def starter(req: Request, header: Header) -> Reply | None:
    return PONG if isinstance(req, Ping) else None


Served = tuple[ZmqServer, str, zmq.asyncio.Context]


@pytest.fixture(params=["handled", "started"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    srv = ZmqServer(router, handler, starter=starter if request.param == "started" else None)
    task = asyncio.create_task(srv.serve())
    yield srv, f"tcp://127.0.0.1:{port}", ctx
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    router.close(linger=0)
    ctx.term()


def dealer(ctx: zmq.asyncio.Context, endpoint: str) -> zmq.asyncio.Socket:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, 0)  # keep every reply: the test counts them
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(endpoint)
    return sock


async def replies(sock: zmq.asyncio.Socket, n: int, timeout: float = 15.0) -> list[tuple[Header, Reply]]:
    out: list[tuple[Header, Reply]] = []

    async def read() -> None:
        while len(out) < n:
            raw = await sock.recv_multipart()
            out.append((decode_header(raw[0]), decode_reply(raw[1])))

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise AssertionError(f"{len(out)} of {n} replies arrived") from None
    return out


def nested(depth: int) -> bytes:
    """``{"method": "ping", "x": [[[…1…]]]}`` nested ``depth`` arrays deep (1 byte per level)."""
    return b"\x82" + encode("method") + encode("ping") + encode("x") + b"\x91" * depth + b"\x01"


def ping(i: int) -> list[bytes]:
    return [encode(Header(id=f"p{i}")), encode(Ping())]


async def pings(sock: zmq.asyncio.Socket, n: int, tag: str) -> None:
    for i in range(n):
        await sock.send_multipart([encode(Header(id=f"{tag}{i}")), encode(Ping())])
    got = await replies(sock, n)
    assert [h.cid for h, _ in got] == [f"{tag}{i}" for i in range(n)]
    assert all(isinstance(r, Pong) for _, r in got)


async def test_deeply_nested_frames_do_not_silence_the_router(server: Served) -> None:
    srv, ep, ctx = server
    legit = dealer(ctx, ep)
    hostile = dealer(ctx, ep)
    try:
        await pings(legit, 1, "warm")  # the legit client is connected before the attack
        frame = nested(1000)
        assert len(frame) < 1100  # a ~1 KB frame
        for i in range(500):
            await hostile.send_multipart([encode(Header(id=f"h{i}")), frame])
        fresh = dealer(ctx, ep)
        try:
            await asyncio.gather(pings(legit, 20, "legit"), pings(fresh, 20, "fresh"))
        finally:
            fresh.close(linger=0)
        # every hostile frame got its own typed error reply, and was counted
        got = await replies(hostile, 500)
        assert [h.cid for h, _ in got] == [f"h{i}" for i in range(500)]
        assert all(isinstance(r, ErrorReply) and r.code is ErrorCode.DECODE_ERROR for _, r in got)
        assert all(isinstance(r, ErrorReply) and "nest" in r.message for _, r in got)
        assert srv.bad_frames[ErrorCode.DECODE_ERROR.value] == 500
        assert srv.errors["internal"] == 0
    finally:
        legit.close(linger=0)
        hostile.close(linger=0)


def garbage(rng: random.Random) -> list[tuple[list[bytes], ErrorCode | None]]:
    """Bad frames of every kind, with the error code each must get (None: served, a ping
    carrying an unknown field)."""
    deep_header = b"\x82" + encode("v") + encode(1) + encode("junk") + b"\x91" * 5000 + b"\x01"
    deep_map = b"\x81" + encode("method") + b"\x81\xa1k" * 2000 + b"\x01"
    wide = b"\xdd" + (60_000).to_bytes(4, "big") + b"\x90" * 60_000  # 60k empty arrays: shallow, but walked
    return [
        ([rng.randbytes(64)], ErrorCode.BAD_FRAME),
        ([encode(Header(id="g")), encode(Ping()), b"extra"], ErrorCode.BAD_FRAME),
        ([b"", b"", b"", b""], ErrorCode.BAD_FRAME),
        ([encode(Header(id="g")), rng.randbytes(512)], ErrorCode.DECODE_ERROR),
        ([rng.randbytes(40), encode(Ping())], ErrorCode.DECODE_ERROR),
        ([b"\xc1", encode(Ping())], ErrorCode.DECODE_ERROR),
        ([deep_header, encode(Ping())], ErrorCode.DECODE_ERROR),
        ([encode([1, 2, 3]), encode(Ping())], ErrorCode.DECODE_ERROR),
        ([msgspec.msgpack.encode({"v": "one"}), encode(Ping())], ErrorCode.DECODE_ERROR),
        ([encode(Header(id="g")), b"\x91" * 60_000 + b"\x01"], ErrorCode.DECODE_ERROR),
        ([encode(Header(id="g")), deep_map], ErrorCode.DECODE_ERROR),
        ([encode(Header(id="g")), wide], ErrorCode.DECODE_ERROR),  # not a request map
        ([encode(Header(id="g")), b"\x91" * 100_000 + b"\x01"], ErrorCode.OVERSIZED),
        ([encode(Header(id="g")), b"\x00" * (MAX_FRAME_BYTES + 1)], ErrorCode.OVERSIZED),
        ([b"\x80" * (MAX_FRAME_BYTES // 2 + 1), b"\x80" * (MAX_FRAME_BYTES // 2)], ErrorCode.OVERSIZED),
        ([encode(Header(id="g")), msgspec.msgpack.encode({"method": "x" * 10_000})], ErrorCode.UNKNOWN_METHOD),
        ([encode(Header(id="g")), msgspec.msgpack.encode({"method": "ping", "\x00": b"\xff" * 100})], None),
    ]


async def test_garbage_of_every_kind_is_answered_between_legit_pings(server: Served) -> None:
    srv, ep, ctx = server
    rng = random.Random(12)
    legit = dealer(ctx, ep)
    hostile = dealer(ctx, ep)
    try:
        kinds = garbage(rng) * 3
        rng.shuffle(kinds)
        for i, (frames, _) in enumerate(kinds):
            await hostile.send_multipart(frames)
            await legit.send_multipart(ping(i))
        legit_got = await replies(legit, len(kinds))
        assert all(isinstance(r, Pong) for _, r in legit_got)
        got = await replies(hostile, len(kinds))
        # replies may come out of order (a served ping finishes in a task): compare the tallies
        expected = Counter(code.value if code else "pong" for _, code in kinds)
        answered = Counter(r.code.value if isinstance(r, ErrorReply) else type(r).__name__.lower() for _, r in got)
        assert answered == expected
        refused = sum(1 for _, code in kinds if code)
        assert sum(srv.bad_frames.values()) == refused
        assert srv.errors["internal"] == 0
    finally:
        legit.close(linger=0)
        hostile.close(linger=0)


async def test_bad_numbers_and_ids_are_refused_at_decode_and_never_served() -> None:
    """Defect 4: ``NaN`` was ``internal``, ``Infinity``/``1e9999``/a 10,000-character client id
    reached the venue. Now each is ``invalid_params`` from the decoder; the handler (the path
    to the venue) never sees them."""
    served: list[Request] = []

    async def recording(req: Request, header: Header) -> Reply:
        served.append(req)
        return PONG

    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    srv = ZmqServer(router, recording)
    task = asyncio.create_task(srv.serve())
    sock = dealer(ctx, f"tcp://127.0.0.1:{port}")
    order = {"key": ["binance", "BTCUSDT", "perp"], "side": "buy", "type": "limit", "qty": "0.01", "price": "100"}
    bad = [{"qty": q} for q in ("NaN", "Infinity", "-1", "0", "1e9999", "9" * 5000)]
    bad += [{"price": p} for p in ("NaN", "-Infinity", "0")] + [{"client_id": "x" * 10_000}]
    try:
        for i, change in enumerate(bad):
            body = msgspec.msgpack.encode({"method": "submit_order", "order": order | change})
            await sock.send_multipart([encode(Header(id=f"b{i}")), body])
        await sock.send_multipart(
            [encode(Header(id="good")), msgspec.msgpack.encode({"method": "submit_order", "order": order})]
        )
        got = dict((h.cid, r) for h, r in await replies(sock, len(bad) + 1))
        for i in range(len(bad)):
            reply = got[f"b{i}"]
            assert isinstance(reply, ErrorReply) and reply.code is ErrorCode.INVALID_PARAMS, (bad[i], reply)
        assert isinstance(got["good"], Pong)
        assert len(served) == 1 and srv.bad_frames[ErrorCode.INVALID_PARAMS.value] == len(bad)
    finally:
        sock.close(linger=0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        router.close(linger=0)
        ctx.term()
