"""BybitMarketStreams and the Bybit WebSocket dialect against a local stand-in for the public
and private stream hosts: subscribe frames and acks, books from snapshot + delta, a gap
resubscribes for a new snapshot, reconnect replays topics, auth, the JSON ping."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchanges.base import StreamStatus
from exchanges.bybit.market_stream import BybitMarketStreams
from exchanges.bybit.parse import SymbolMap
from exchanges.bybit.urls import BybitUrls
from exchanges.bybit.ws import BybitWs
from exchanges.transport.backoff import Backoff
from exchanges.transport.ws import Frame
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderBook
from tests.exchanges.binance.ws_fake_server import Conn, FakeWsServer
from tests.helpers import eventually

FIXTURES = Path(__file__).parent / "fixtures"
PERP = InstrumentKey(Exchange.BYBIT, "BTCUSDT", MarketKind.PERP)
FAST = Backoff(initial_s=0.01, max_s=0.05)


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def urls(server: FakeWsServer) -> BybitUrls:
    return BybitUrls(
        rest="http://unused",
        public_spot=server.url + "/v5/public/spot",
        public_linear=server.url + "/v5/public/linear",
        private=server.url + "/v5/private",
        trade=server.url + "/v5/trade",
    )


def requests(conn: Conn, op: str) -> list[dict[str, Any]]:
    return [m for m in conn.json_received() if m.get("op") == op]


async def ack(conn: Conn, message: str | bytes) -> None:
    msg = json.loads(message)
    if msg["op"] in ("subscribe", "unsubscribe"):
        await conn.send({"success": True, "ret_msg": "", "conn_id": "c1", "req_id": msg["req_id"], "op": msg["op"]})
    elif msg["op"] == "ping":
        await conn.send({"success": True, "ret_msg": "pong", "conn_id": "c1", "req_id": msg["req_id"], "op": "ping"})


def delta(u: int, **data: Any) -> dict[str, Any]:
    doc = fixture("ws_orderbook_delta.json")
    doc["data"] = {**doc["data"], "u": u, **data}
    return doc


async def take_books(it: Any, n: int) -> list[OrderBook]:
    out: list[OrderBook] = []
    async with asyncio.timeout(10):
        while len(out) < n:
            out.append(await anext(it))
    return out


def streams(server: FakeWsServer, statuses: list[StreamStatus]) -> BybitMarketStreams:
    symbols = SymbolMap()
    symbols.add(MarketKind.PERP, "BTCUSDT", "BTCUSDT")
    return BybitMarketStreams(urls(server), symbols, on_status=statuses.append, backoff=FAST)


async def test_books_from_snapshot_and_delta_with_acks_consumed() -> None:
    statuses: list[StreamStatus] = []
    async with FakeWsServer(on_message=ack) as server:
        market = streams(server, statuses)
        async with aclosing(market.order_books([PERP])) as books:
            first_task = asyncio.ensure_future(take_books(books, 1))
            await eventually(lambda: server.conns and requests(server.conns[0], "subscribe"), what="subscribe")
            conn = server.conns[0]
            assert conn.path == "/v5/public/linear"
            assert requests(conn, "subscribe")[0]["args"] == ["orderbook.50.BTCUSDT"]
            await conn.send(fixture("ws_orderbook_snapshot.json"))
            [snap] = await first_task
            assert snap.key == PERP and snap.bids[0].price == Decimal("64210.40")
            await conn.send(delta(18521289))
            [book] = await take_books(books, 1)
            assert book.bids[0].price == Decimal("64210.30") and book.asks[0].qty == Decimal("0.500")
            assert book.sequence > snap.sequence
    assert statuses and statuses[0].connected


async def test_a_gap_resubscribes_for_a_new_snapshot() -> None:
    statuses: list[StreamStatus] = []
    async with FakeWsServer(on_message=ack) as server:
        market = streams(server, statuses)
        async with aclosing(market.order_books([PERP])) as books:
            first = asyncio.ensure_future(take_books(books, 1))
            await eventually(lambda: server.conns and requests(server.conns[0], "subscribe"), what="subscribe")
            conn = server.conns[0]
            await conn.send(fixture("ws_orderbook_snapshot.json"))
            await first
            nxt = asyncio.ensure_future(take_books(books, 1))
            await conn.send(delta(18521300))  # u jumps: a gap
            await eventually(lambda: requests(conn, "unsubscribe"), what="unsubscribe after the gap")
            await eventually(lambda: len(requests(conn, "subscribe")) == 2, what="subscribed again")
            assert market.resyncs == {"orderbook.50.BTCUSDT": 1}
            snapshot = fixture("ws_orderbook_snapshot.json")
            snapshot["data"]["u"] = 18521400
            snapshot["data"]["b"] = [["64210.45", "1.000"]]  # a new top (an unchanged top is not yielded)
            await conn.send(snapshot)
            [again] = await nxt
            assert again.bids[0].price == Decimal("64210.45")


async def test_push_mode_books_and_gap_resubscribe_from_the_reader() -> None:
    statuses: list[StreamStatus] = []
    async with FakeWsServer(on_message=ack) as server:
        market = streams(server, statuses)
        got: list[OrderBook] = []
        task = asyncio.create_task(market.run_order_books([PERP], got.append))
        try:
            await eventually(lambda: server.conns and requests(server.conns[0], "subscribe"), what="subscribe")
            conn = server.conns[0]
            await conn.send(fixture("ws_orderbook_snapshot.json"))
            await conn.send(delta(18521289))
            await conn.send(delta(18521289))  # stale: dropped, resubscribed by a task of its own
            await eventually(lambda: len(requests(conn, "subscribe")) == 2, what="subscribed again")
            assert requests(conn, "unsubscribe") and market.resyncs == {"orderbook.50.BTCUSDT": 1}
            assert [b.bids[0].price for b in got] == [Decimal("64210.40"), Decimal("64210.30")]
            assert statuses[0].connected and market.stats()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert market.stats() == {}


async def test_reconnect_replays_the_topics_and_reports_the_gap() -> None:
    statuses: list[StreamStatus] = []
    async with FakeWsServer(on_message=ack) as server:
        market = streams(server, statuses)
        async with aclosing(market.order_books([PERP])) as books:
            first = asyncio.ensure_future(take_books(books, 1))
            await eventually(lambda: server.conns and requests(server.conns[0], "subscribe"), what="subscribe")
            server.abort_all()
            await eventually(lambda: len(server.conns) == 2 and requests(server.conns[1], "subscribe"), what="replay")
            assert requests(server.conns[1], "subscribe")[0]["args"] == ["orderbook.50.BTCUSDT"]
            await server.conns[1].send(fixture("ws_orderbook_snapshot.json"))
            await first
    reasons = [s.reason for s in statuses]
    assert any(r.startswith("closed") for r in reasons) and any(r.startswith("reconnected") for r in reasons)


async def test_spot_topics_go_out_ten_per_request() -> None:
    async with FakeWsServer(on_message=ack) as server:
        topics = [f"orderbook.50.SYM{i}USDT" for i in range(23)]
        ws = BybitWs("spot", urls(server).public_spot, topics=topics, max_args=10, backoff=FAST)
        task = asyncio.create_task(ws.run())
        try:
            await eventually(lambda: server.conns and len(requests(server.conns[0], "subscribe")) == 3, what="chunks")
            sizes = [len(r["args"]) for r in requests(server.conns[0], "subscribe")]
            assert sizes == [10, 10, 3] and len({r["req_id"] for r in requests(server.conns[0], "subscribe")}) == 3
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_private_stream_authenticates_first_and_pings_with_json() -> None:
    async def auth_ok(conn: Conn, message: str | bytes) -> None:
        msg = json.loads(message)
        if msg["op"] == "auth":
            await conn.send({"success": True, "ret_msg": "", "op": "auth", "conn_id": "c1"})
        else:
            await ack(conn, message)

    async with FakeWsServer(on_message=auth_ok) as server:
        ws = BybitWs(
            "user",
            urls(server).private,
            topics=["order", "execution"],
            auth=lambda: ["bybit-key", 1_760_325_070_000, "sig"],
            backoff=FAST,
            ping_interval_s=0.05,
            ping_timeout_s=1.0,
        )
        task = asyncio.create_task(ws.run())
        try:
            first = await asyncio.wait_for(ws.buffer.get(), 10)
            assert isinstance(first, StreamStatus) and first.connected
            await eventually(lambda: len(requests(server.conns[0], "ping")) >= 2, what="JSON pings")
            ops = [m["op"] for m in server.conns[0].json_received()]
            assert ops[:2] == ["auth", "subscribe"] and requests(server.conns[0], "auth")[0]["args"][0] == "bybit-key"
            await server.conns[0].send(fixture("ws_order.json"))
            item = await asyncio.wait_for(ws.buffer.get(), 10)
            assert isinstance(item, Frame) and b'"topic":"order"' in item.data.replace(b" ", b"")
            assert len(ws.buffer) == 0  # auth, acks and pongs were consumed
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_refused_auth_is_reported_and_retried_with_backoff() -> None:
    async def refuse(conn: Conn, message: str | bytes) -> None:
        if json.loads(message)["op"] == "auth":
            await conn.send(fixture("ws_auth_failed.json"))

    async with FakeWsServer(on_message=refuse) as server:
        ws = BybitWs("user", urls(server).private, topics=["order"], auth=lambda: ["k", 1, "s"], backoff=FAST)
        task = asyncio.create_task(ws.run())
        try:
            status = await asyncio.wait_for(ws.buffer.get(), 10)
            assert isinstance(status, StreamStatus) and status.reason == "auth failed: Params Error"
            await eventually(lambda: len(server.conns) >= 3, what="retried")
            assert all(not requests(c, "subscribe") for c in server.conns)
            assert ws.stats.login_failures >= 2
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
