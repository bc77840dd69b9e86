"""BinanceMarketStreams against a local stand-in for the spot and futures stream hosts."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchanges.base import StreamStatus
from exchanges.binance.market_stream import BinanceMarketStreams
from exchanges.binance.urls import BinanceUrls
from exchanges.transport.backoff import Backoff
from strategy_client.model import Exchange, InstrumentKey, MarketKind, OrderBook
from tests.helpers import eventually

from .ws_fake_server import Conn, FakeWsServer

FIXTURES = Path(__file__).parent / "fixtures"
SPOT_BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)
SPOT_ETH = InstrumentKey(Exchange.BINANCE, "ETHUSDT", MarketKind.SPOT)
PERP_BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
PERP_ETH = InstrumentKey(Exchange.BINANCE, "ETHUSDT", MarketKind.PERP)


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def urls(server: FakeWsServer) -> BinanceUrls:
    """Both hosts on the one stand-in; the path tells them apart."""
    return BinanceUrls(
        spot_rest="http://unused",
        spot_ws=server.url,
        spot_ws_api=server.url + "/ws-api/v3",
        futures_rest="http://unused",
        futures_ws=server.url,
        futures_ws_api=server.url,
    )


def streams_of(conn: Conn) -> list[str]:
    return conn.query["streams"][0].split("/")


def frame_for(stream: str, seq: int) -> dict[str, Any]:
    symbol = stream.split("@")[0].upper()
    if "@depth" in stream and stream.endswith("@100ms"):
        return {"stream": stream, "data": {**fixture("ws_spot_depth5.json"), "lastUpdateId": seq}}
    if "@markPrice" in stream:
        return {"stream": stream, "data": {**fixture("ws_mark_price.json"), "s": symbol, "E": seq}}
    return {"stream": stream, "data": {**fixture("ws_spot_book_ticker.json"), "s": symbol, "u": seq}}


def futures_depth(stream: str, seq: int) -> dict[str, Any]:
    symbol = stream.split("@")[0].upper()
    return {"stream": stream, "data": {**fixture("ws_futures_depth5.json"), "s": symbol, "u": seq}}


async def publish(conn: Conn, seq: int) -> None:
    for stream in streams_of(conn):
        is_futures_depth = conn.path.startswith("/public") and "@depth" in stream
        await conn.send(futures_depth(stream, seq) if is_futures_depth else frame_for(stream, seq))


def fast_streams(server: FakeWsServer, **kw: Any) -> BinanceMarketStreams:
    return BinanceMarketStreams(urls(server), backoff=Backoff(initial_s=0.01, max_s=0.05), **kw)


async def take(it: Any, n: int) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(5):
        while len(out) < n:
            out.append(await anext(it))
    return out


async def test_order_books_merge_spot_and_perp_connections() -> None:
    async with FakeWsServer(on_connect=lambda c: publish(c, 1)) as server:
        streams = fast_streams(server)
        async with aclosing(streams.order_books([SPOT_BTC, SPOT_ETH, PERP_BTC])) as books:
            got = await take(books, 3)
        assert {b.key for b in got} == {SPOT_BTC, SPOT_ETH, PERP_BTC}
        paths = sorted(c.path for c in server.conns)
        assert paths == [
            "/public/stream?streams=btcusdt@depth5@100ms",
            "/stream?streams=btcusdt@depth5@100ms/ethusdt@depth5@100ms",
        ]
        perp = next(b for b in got if b.key == PERP_BTC)
        assert perp.venue_ts_ms == 1752148800123 and perp.sequence == 1
        spot = next(b for b in got if b.key == SPOT_ETH)
        assert spot.sequence == 1 and spot.best_bid is not None and spot.best_bid.price == Decimal("64250.10")
        assert spot.local_ts_ns > 0
        await eventually(lambda: not server.live, what="connections closed with the iterator")
        assert streams.stats() == {}


async def test_run_order_books_pushes_parsed_books_into_the_sink_with_statuses_in_order() -> None:
    """Push mode: each frame parsed in the socket reader and handed to the sink — no buffer."""
    async with FakeWsServer(on_connect=lambda c: publish(c, 1)) as server:
        statuses: list[StreamStatus] = []
        streams = BinanceMarketStreams(
            urls(server), backoff=Backoff(initial_s=0.01, max_s=0.05), on_status=statuses.append
        )
        got: list[OrderBook] = []
        task = asyncio.create_task(streams.run_order_books([SPOT_BTC, PERP_BTC], got.append))
        try:
            await eventually(lambda: {b.key for b in got} == {SPOT_BTC, PERP_BTC}, what="both books pushed")
            assert streams._buffers == [] and streams.dropped == 0  # no frame buffer in push mode
            assert [s.connected for s in statuses] == [True, True]
            server.abort_all()
            await eventually(lambda: sum(s.reason.startswith("reconnected") for s in statuses) == 2, what="back")
            await eventually(lambda: len(got) >= 4, what="books after the reconnect")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_depth_choice_and_validation() -> None:
    async with FakeWsServer(on_connect=lambda c: publish(c, 1)) as server:
        streams = fast_streams(server)
        async with aclosing(streams.order_books([PERP_ETH], depth=20)) as books:
            (book,) = await take(books, 1)
        assert book.key == PERP_ETH
        assert server.conns[0].path == "/public/stream?streams=ethusdt@depth20@100ms"
    with pytest.raises(ValueError):
        BinanceMarketStreams(BinanceUrls.live()).order_books([SPOT_BTC], depth=7)
    with pytest.raises(ValueError):
        BinanceMarketStreams(BinanceUrls.live()).order_books([])
    with pytest.raises(ValueError):
        BinanceMarketStreams(BinanceUrls.live()).order_books([InstrumentKey(Exchange.OKX, "BTC-USDT", MarketKind.SPOT)])


async def test_funding_from_mark_price_on_the_market_path() -> None:
    async with FakeWsServer(on_connect=lambda c: publish(c, 1752148800000)) as server:
        streams = fast_streams(server, funding_intervals_ms={"ETHUSDT": 3_600_000})
        streams.set_funding_interval("btcusdt", 4 * 3_600_000)
        async with aclosing(streams.funding([PERP_BTC, PERP_ETH])) as rates:
            got = {r.key: r for r in await take(rates, 2)}
        assert server.conns[0].path == "/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s"
        assert got[PERP_BTC].interval_ms == 4 * 3_600_000 and got[PERP_ETH].interval_ms == 3_600_000
        assert got[PERP_BTC].rate == Decimal("0.00010000") and got[PERP_BTC].mark_price == Decimal("64251.33")
    with pytest.raises(ValueError):
        BinanceMarketStreams(BinanceUrls.live()).funding([SPOT_BTC])


async def test_book_tickers_spot_and_perp() -> None:
    async def publish_tickers(conn: Conn) -> None:
        for stream in streams_of(conn):
            symbol = stream.split("@")[0].upper()
            name = "ws_futures_book_ticker.json" if conn.path.startswith("/public") else "ws_spot_book_ticker.json"
            await conn.send({"stream": stream, "data": {**fixture(name), "s": symbol}})

    async with FakeWsServer(on_connect=publish_tickers) as server:
        streams = fast_streams(server)
        async with aclosing(streams.book_tickers([SPOT_BTC, PERP_BTC])) as tickers:
            got = {t.key: t for t in await take(tickers, 2)}
        assert got[PERP_BTC].venue_ts_ms == 1752148800123 and got[SPOT_BTC].sequence == 400900217
        assert sorted(c.path for c in server.conns) == [
            "/public/stream?streams=btcusdt@bookTicker",
            "/stream?streams=btcusdt@bookTicker",
        ]


async def test_malformed_frames_are_counted_and_dropped() -> None:
    async def publish_junk(conn: Conn) -> None:
        await conn.send("not json at all")
        await conn.send({"stream": "btcusdt@depth5@100ms", "data": {"lastUpdateId": "x"}})
        await conn.send({"stream": "@depth5@100ms", "data": fixture("ws_spot_depth5.json")})
        await publish(conn, 42)

    async with FakeWsServer(on_connect=publish_junk) as server:
        streams = fast_streams(server)
        async with aclosing(streams.order_books([SPOT_BTC])) as books:
            (book,) = await take(books, 1)
        assert book.sequence == 42
        assert streams.errors.counts == {"spot_depth": 2, "spot_depth:stream_name": 1}


async def test_reconnect_restores_the_streams_and_reports_status() -> None:
    statuses: list[StreamStatus] = []
    async with FakeWsServer(on_connect=lambda c: publish(c, len(server.conns))) as server:
        streams = fast_streams(server, on_status=statuses.append)
        async with aclosing(streams.order_books([SPOT_BTC, PERP_BTC])) as books:
            first = await take(books, 2)
            assert {b.sequence for b in first} == {1, 2}
            stats = streams.stats()
            server.abort_all()
            again = await take(books, 2)
            assert {b.key for b in again} == {SPOT_BTC, PERP_BTC} and min(b.sequence for b in again) >= 3
            assert sum(s.reconnects for s in stats.values()) == 2
        paths = [c.path for c in server.conns]
        assert len(paths) == 4 and sorted(paths[:2]) == sorted(paths[2:])
        assert [s.connected for s in statuses if s.stream.startswith("binance:spot")] == [True, False, True]
        assert any(s.reason.startswith("reconnected") for s in statuses)


async def test_slow_consumer_drops_oldest_frames() -> None:
    go = asyncio.Event()

    async def flood(conn: Conn) -> None:
        await publish(conn, 1)
        await go.wait()  # the rest only once the consumer has taken frame 1 and stopped reading
        for seq in range(2, 51):
            await publish(conn, seq)

    async with FakeWsServer(on_connect=flood) as server:
        streams = fast_streams(server, queue_size=5)
        async with aclosing(streams.order_books([SPOT_BTC])) as books:
            first: OrderBook = await asyncio.wait_for(anext(books), 5)
            go.set()
            await eventually(
                lambda: server.conns and next(iter(streams.stats().values())).messages == 50,
                what="all frames received",
            )
            rest = await take(books, 5)
        assert first.sequence == 1
        assert [b.sequence for b in rest] == [46, 47, 48, 49, 50]  # the newest survive
        assert streams.dropped == 44
