"""PriceManager, unit by unit: a scripted venue (its REST book only) and an injected clock
(tests/runner/fakes.py) — no process, no network. Freshness is moved by the clock, never by sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, cast

import pytest
import zmq

from exchange_runner.actors.price import BookResult, GetBook, GetBooks, NoMarketData, PriceManager
from exchanges.base import ExchangeAdapter
from strategy_client.model import BookLevel, Exchange, FundingRate, InstrumentKey, MarketKind, OrderBook
from strategy_client.wire import BookEvent, TopicKind
from tests.helpers import eventually
from tests.runner.fakes import FakeClock, RecordingPublisher, running

D = Decimal
BTC = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
ETH = InstrumentKey(Exchange.BINANCE, "ETHUSDT", MarketKind.PERP)
WALL_NS = 1_700_000_000_000 * 1_000_000


def book(key: InstrumentKey, bid: str, seq: int) -> OrderBook:
    return OrderBook(
        key=key,
        bids=(BookLevel(D(bid), D("1")),),
        asks=(BookLevel(D(bid) + 1, D("1")),),
        venue_ts_ms=WALL_NS // 1_000_000,
        local_ts_ns=WALL_NS,
        sequence=seq,
    )


class RestBooks:
    """The one adapter call PriceManager makes: ``fetch_order_book``. ``gate`` holds the answers
    until the test opens it; ``fail`` makes them raise."""

    def __init__(self) -> None:
        self.books: dict[InstrumentKey, OrderBook] = {}
        self.calls: list[InstrumentKey] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def fetch_order_book(self, key: InstrumentKey, depth: int = 20) -> OrderBook:
        self.calls.append(key)
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self.books[key]


class Rig:
    def __init__(self, prices: PriceManager, rest: RestBooks, clock: FakeClock, publisher: RecordingPublisher) -> None:
        self.prices = prices
        self.rest = rest
        self.clock = clock
        self.publisher = publisher

    async def feed(self, b: OrderBook) -> None:
        before = self.prices.books_in + self.prices.out_of_order
        self.prices.feed.put_nowait(b)
        await eventually(lambda: self.prices.books_in + self.prices.out_of_order > before, what="book applied")


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    ctx: zmq.Context[Any] = zmq.Context()
    clock, rest = FakeClock(wall_ms=WALL_NS // 1_000_000), RestBooks()
    publisher = RecordingPublisher(ctx)
    prices = PriceManager(
        cast(ExchangeAdapter, rest),
        publisher,
        [BTC, ETH],
        stale_after_s=5.0,
        fetch_timeout_s=5.0,
        monotonic=clock.monotonic,
        wall_ns=lambda: clock.wall_ms() * 1_000_000,
    )
    try:
        async with running(prices):
            yield Rig(prices, rest, clock, publisher)
    finally:
        publisher.close()
        ctx.term()


async def test_a_streamed_book_is_published_and_served_fresh_without_rest(rig: Rig) -> None:
    await rig.feed(book(BTC, "100", seq=1))
    assert rig.publisher.events == [(TopicKind.BOOK, BookEvent(book=book(BTC, "100", seq=1)))]
    got = await rig.prices.ask(GetBook(BTC))
    assert got == BookResult(book(BTC, "100", seq=1), stale=False)
    assert rig.rest.calls == [] and rig.prices.fetches == 0
    assert rig.prices.fresh_book(BTC) == book(BTC, "100", seq=1)


async def test_an_older_sequence_is_dropped_and_counted(rig: Rig) -> None:
    await rig.feed(book(BTC, "100", seq=5))
    await rig.feed(book(BTC, "99", seq=4))
    assert rig.prices.out_of_order == 1 and rig.prices.books_in == 1
    assert (await rig.prices.ask(GetBook(BTC))).book.sequence == 5
    assert len(rig.publisher.events) == 1  # the late book was not published either


async def test_a_book_goes_stale_by_the_clock_and_one_rest_fetch_serves_every_waiter(rig: Rig) -> None:
    await rig.feed(book(BTC, "100", seq=1))
    rig.clock.advance(4.9)
    assert rig.prices.fresh_book(BTC) is not None
    rig.clock.advance(0.1)  # stale_after_s reached: no longer fresh
    assert rig.prices.fresh_book(BTC) is None
    rig.rest.books[BTC] = book(BTC, "101", seq=2)
    rig.rest.gate.clear()
    waiters = [asyncio.ensure_future(rig.prices.ask(GetBook(BTC))) for _ in range(3)]
    await eventually(lambda: rig.rest.calls == [BTC], what="the REST fetch started")
    rig.rest.gate.set()
    got = await asyncio.gather(*waiters)
    assert got == [BookResult(book(BTC, "101", seq=2), stale=False)] * 3
    assert rig.rest.calls == [BTC] and rig.prices.fetches == 1  # one fetch for the three callers


async def test_a_failed_fetch_serves_the_old_book_flagged_stale(rig: Rig) -> None:
    await rig.feed(book(BTC, "100", seq=1))
    rig.clock.advance(10)
    rig.rest.fail = TimeoutError("venue did not answer")
    got = await rig.prices.ask(GetBook(BTC))
    assert got == BookResult(book(BTC, "100", seq=1), stale=True)  # never served as fresh


async def test_no_book_at_all_is_an_error_naming_the_instrument(rig: Rig) -> None:
    rig.rest.fail = ConnectionError("refused")
    with pytest.raises(NoMarketData, match="no book for binance:perp:ETHUSDT: refused"):
        await rig.prices.ask(GetBook(ETH))


async def test_get_books_flags_each_book_by_its_own_age(rig: Rig) -> None:
    await rig.feed(book(BTC, "100", seq=1))
    rig.clock.advance(3)
    await rig.feed(book(ETH, "10", seq=1))
    rig.clock.advance(2.5)  # BTC 5.5 s old, ETH 2.5 s
    got = await rig.prices.ask(GetBooks())
    assert {(r.book.key, r.stale) for r in got} == {(BTC, True), (ETH, False)}
    assert rig.rest.calls == []  # GetBooks reports what it has; it fetches nothing


async def test_a_mark_price_is_fresh_by_the_wall_clock(rig: Rig) -> None:
    mark = FundingRate(
        key=BTC,
        rate=D("0.0001"),
        interval_ms=8 * 3600 * 1000,
        next_funding_ts_ms=0,
        mark_price=D("100.5"),
        index_price=D("100.4"),
        ts_ms=WALL_NS // 1_000_000,
    )
    await rig.prices.update_mark(mark)
    await eventually(lambda: rig.prices.fresh_mark(BTC) == D("100.5"), what="mark applied")
    rig.clock.advance(5.001)
    assert rig.prices.fresh_mark(BTC) is None
