"""A checksum mismatch drops the book and resubscribes it, against a scripted OKX server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from decimal import Decimal

import pytest
from aiohttp import WSMsgType, web

from exchanges.okx.checksum import book_checksum
from exchanges.okx.market_stream import OkxMarketStreams
from exchanges.okx.symbols import SymbolMap, VenueInstrument
from exchanges.okx.urls import OkxUrls
from exchanges.transport.backoff import Backoff
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderBook
from tests.helpers import eventually, free_port

PERP = InstrumentKey(Exchange.OKX, "BTCUSDT", MarketKind.PERP)
INST = VenueInstrument(
    key=PERP, inst_id="BTC-USDT-SWAP", inst_type="SWAP", tick_sz=Decimal("0.1"), lot_sz=Decimal("0.01"),
    min_sz=Decimal("0.01"), ct_val=Decimal("0.01"),
)  # fmt: skip
ARG = {"channel": "books", "instId": "BTC-USDT-SWAP"}


def _push(action: str, bids: list[list[str]], asks: list[list[str]], seq: int, prev: int, checksum: int) -> str:
    data = {"asks": asks, "bids": bids, "ts": "1", "checksum": checksum, "prevSeqId": prev, "seqId": seq}
    return json.dumps({"arg": ARG, "action": action, "data": [data]})


class Script:
    """First subscription: a good snapshot, then an update whose checksum is wrong. Every later
    subscription: a good snapshot and a good update."""

    def __init__(self) -> None:
        self.ops: list[str] = []

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT or msg.data == "ping":
                continue
            req = json.loads(msg.data)
            self.ops.append(req["op"])
            await ws.send_str(json.dumps({"id": req.get("id", ""), "event": req["op"], "arg": ARG, "connId": "x"}))
            if req["op"] != "subscribe":
                continue
            bids, asks = [["100", "2"]], [["101", "3"]]
            await ws.send_str(_push("snapshot", bids, asks, 10, -1, book_checksum([("100", "2")], [("101", "3")])))
            good = book_checksum([("100", "5")], [("101", "3")])
            first = self.ops.count("subscribe") == 1
            await ws.send_str(_push("update", [["100", "5"]], [], 11, 10, good + 1 if first else good))
        return ws


@pytest.fixture
async def server() -> AsyncIterator[tuple[Script, int]]:
    script = Script()
    app = web.Application()
    app.router.add_get("/ws/v5/public", script.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield script, port
    finally:
        await runner.cleanup()


async def test_checksum_mismatch_resubscribes(server: tuple[Script, int]) -> None:
    script, port = server
    streams = OkxMarketStreams(OkxUrls.sim(port), lambda: SymbolMap([INST]), backoff=Backoff(0.05, 0.1))
    books: list[OrderBook] = []
    async with aclosing(streams.order_books([PERP])) as it:
        async for book in it:
            books.append(book)
            if len(books) == 3:
                break
    # snapshot (good) → update (bad checksum: dropped, resubscribed) → snapshot → update
    assert [b.sequence for b in books] == [10, 10, 11]
    assert books[-1].bids[0].qty == Decimal("0.05")  # 5 contracts of 0.01 BTC
    assert streams.resyncs["checksum"] == 1 and script.ops == ["subscribe", "unsubscribe", "subscribe"]


async def test_checksum_mismatch_resubscribes_in_push_mode(server: tuple[Script, int]) -> None:
    script, port = server
    streams = OkxMarketStreams(OkxUrls.sim(port), lambda: SymbolMap([INST]), backoff=Backoff(0.05, 0.1))
    books: list[OrderBook] = []
    task = asyncio.create_task(streams.run_order_books([PERP], books.append))
    try:
        await eventually(lambda: len(books) >= 3, what="snapshot, snapshot again, update")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [b.sequence for b in books[:3]] == [10, 10, 11]
    assert streams.resyncs["checksum"] == 1 and script.ops == ["subscribe", "unsubscribe", "subscribe"]
