"""replay_events over a real runner: the journaled events come back byte-identical to what PUB
sent, in journal order, paged with ``more``; books are never journaled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from strategy_client.command_client import ZmqCommandClient
from strategy_client.errors import CoreApiError
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderRequest, OrderType, Side
from strategy_client.wire import (
    CancelOrder,
    ErrorCode,
    EventsReply,
    GetReferencePrice,
    OrderReply,
    PriceReply,
    PriceSource,
    ReplayEvents,
    SubmitOrder,
    decode_header,
)

from ..helpers import eventually
from .conftest import RunnerProc, start_runner

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)


class RawFrames:
    """Every frame PUB sends, as bytes."""

    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.frames: list[tuple[bytes, bytes, bytes]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            t, h, b = await self.sock.recv_multipart()
            self.frames.append((t, h, b))

    def journaled(self) -> dict[int, tuple[bytes, bytes]]:
        """jseq → (topic, event bytes) of the events that carried a journal sequence."""
        out = {}
        for t, h, b in self.frames:
            header = decode_header(h)
            if header.jseq:
                out[header.jseq] = (t, b)
        return out

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.sock.close(linger=0)


@pytest.fixture()
async def wired(runner_proc: RunnerProc) -> AsyncIterator[tuple[ZmqCommandClient, RawFrames]]:
    rec = runner_proc.record()
    raw = RawFrames(rec.pub_endpoint)
    cli = ZmqCommandClient(rec.router_endpoint, name=rec.name)
    await cli.connect()
    try:
        yield cli, raw
    finally:
        await cli.close()
        await raw.close()


async def _replay_all(cli: ZmqCommandClient, after: int, topic: bytes = b"", limit: int = 1000) -> list[EventsReply]:
    pages = []
    while True:
        rep = await cli.call(ReplayEvents(after_seq=after, topic=topic, limit=limit), timeout_s=10)
        assert isinstance(rep, EventsReply)
        pages.append(rep)
        if not rep.more:
            return pages
        after = rep.next_after


async def test_replay_gives_back_what_pub_sent_byte_for_byte(wired: tuple[ZmqCommandClient, RawFrames]) -> None:
    cli, raw = wired
    # the SUB's subscription has reached the runner (ZeroMQ slow joiner) once any event arrives
    await eventually(lambda: raw.frames, timeout=10, what="the raw SUB receiving events")
    start = await cli.call(ReplayEvents(after_seq=0, limit=1), timeout_s=10)
    assert isinstance(start, EventsReply)
    first = start.last_seq
    bid = await cli.call(GetReferencePrice(key=PERP, source=PriceSource.BID))
    assert isinstance(bid, PriceReply)
    low = (bid.price.price * Decimal("0.9")).quantize(Decimal("0.1"))
    for i in range(3):
        req = OrderRequest(
            key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.002"), price=low, client_id=f"rp-{i}"
        )
        placed = await cli.call(SubmitOrder(order=req))
        assert isinstance(placed, OrderReply)
        await cli.call(CancelOrder(key=PERP, client_id=f"rp-{i}"))

    def seen_all() -> bool:
        cancels = [b for t, b in raw.journaled().values() if t.startswith(b"exec") and b"rp-2" in b]
        return len(cancels) >= 2

    await eventually(seen_all, timeout=10, interval=0.05, what="the orders' events published")
    published = {j: tb for j, tb in raw.journaled().items() if j > first}
    pages = await _replay_all(cli, first)
    replayed = {e.jseq: (e.topic, e.event) for p in pages for e in p.events}
    assert set(published) <= set(replayed)
    for jseq, (t, body) in published.items():
        assert replayed[jseq] == (t, body), jseq  # same topic, same bytes
    seqs = [e.jseq for p in pages for e in p.events]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert not any(t.startswith(b"ob") for t, _ in replayed.values())  # books are never journaled

    # one topic, one event per reply: paged with more / next_after, same events
    exec_topic = next(t for t, _ in published.values() if t.startswith(b"exec"))
    paged = await _replay_all(cli, first, topic=exec_topic, limit=1)
    assert len(paged) >= 6 and all(len(p.events) <= 1 for p in paged)
    got = [(e.jseq, e.event) for p in paged for e in p.events]
    want = sorted((j, b) for j, (t, b) in replayed.items() if t == exec_topic)
    assert got == want


async def test_a_runner_without_journal_has_nothing_to_replay(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rp = start_runner(redis_server.url, tmp_path, "jr-nojournal", "--no-journal")
    try:
        rec = rp.record()
        async with ZmqCommandClient(rec.router_endpoint) as cli:
            with pytest.raises(CoreApiError) as err:
                await cli.call(ReplayEvents(after_seq=0), timeout_s=10)
            assert err.value.code is ErrorCode.NOT_FOUND and "--no-journal" in str(err.value)
            low = await _low(cli)
            req = OrderRequest(
                key=PERP, side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.002"), price=low, client_id="nj-1"
            )
            assert isinstance(await cli.call(SubmitOrder(order=req)), OrderReply)  # orders go, unjournaled
        assert not (tmp_path / "data").exists() or not list((tmp_path / "data").glob("*.sqlite3"))
    finally:
        rp.stop()


async def _low(cli: ZmqCommandClient) -> Decimal:
    bid = await cli.call(GetReferencePrice(key=PERP, source=PriceSource.BID))
    assert isinstance(bid, PriceReply)
    return (bid.price.price * Decimal("0.9")).quantize(Decimal("0.1"))
