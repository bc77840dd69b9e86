"""PriceManager: the live books of the venue.

Consumes the depth stream through a drop-oldest queue (market data: the newest book wins),
keeps the last book per instrument with the time it arrived (a book older than
``stale_after_s`` is not fresh), publishes every book, and answers book/reference-price
queries. A miss (no fresh book) starts one background REST fetch per instrument; callers wait
for it. A book that could not be refreshed is returned flagged ``stale`` — never served as fresh.

The feed is the market-data hot path: each wake-up of the consumer applies every book already
queued (``get_batch``), so a burst costs one task switch, not one per book; freshness is a
timestamp compared when asked, so applying a book is two dict writes and a publish. A book may
come as a :class:`~strategy_client.model.TextBook` (levels as the venue's decimal text): it is
checked, kept and published as it came — no Decimal is made for it — and turned into a Decimal
:class:`OrderBook` (once, then kept in its place) only when something here reads its prices (a
query, the risk gate, mid bars).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, MutableMapping
from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from exchanges.base import ExchangeAdapter
from strategy_client.aio import within
from strategy_client.model import FundingRate, InstrumentKey, OrderBook, TextBook
from strategy_client.wire import GetReferencePrice, PriceReply, PriceSource, Query, ReferencePrice

from ..bus import DropOldestQueue
from ..publisher import Publisher
from ..quality import QualityControl
from ..refusals import NotAvailable
from .base import Actor

__all__ = ["PriceManager", "GetBook", "GetBooks", "BookResult", "NoMarketData"]


class _Fetched(msgspec.Struct):
    key: InstrumentKey
    book: OrderBook | None
    error: str = ""


class _MarkUpdate(msgspec.Struct):
    funding: FundingRate


class BookResult(msgspec.Struct, frozen=True):
    book: OrderBook
    stale: bool


class NoMarketData(NotAvailable):
    """Nothing to answer from: no book at all for the instrument (none streamed and the venue
    did not answer), no mark/index price, or no side of the book asked for. A book that is only
    old is served, flagged ``stale`` — never this."""


class GetBook(Query[BookResult], frozen=True):
    key: InstrumentKey


class GetBooks(Query[list[BookResult]], frozen=True):
    keys: tuple[InstrumentKey, ...] = ()


Msg = GetBook | GetBooks | GetReferencePrice | _Fetched | _MarkUpdate


class PriceManager(Actor[Msg]):
    ANSWERS = (GetReferencePrice,)

    def __init__(
        self,
        adapter: ExchangeAdapter,
        publisher: Publisher,
        keys: list[InstrumentKey],
        *,
        stale_after_s: float = 5.0,
        queue_size: int = 4096,
        fetch_timeout_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ns: Callable[[], int] = time.time_ns,
        quality: QualityControl | None = None,
    ) -> None:
        super().__init__("price")
        self.adapter = adapter
        self.publisher = publisher
        self.keys = keys
        self.stale_after_s = stale_after_s
        self.fetch_timeout_s = fetch_timeout_s
        self.monotonic = monotonic  # book arrival and freshness
        self.wall_ns = wall_ns  # ages of mark prices and books
        self.feed: DropOldestQueue[OrderBook | TextBook] = DropOldestQueue(queue_size, name="price.feed")
        self._last: dict[InstrumentKey, OrderBook | TextBook] = {}
        self._arrived: dict[InstrumentKey, float] = {}  # self.monotonic() when _last[key] arrived
        self._marks: dict[InstrumentKey, FundingRate] = {}
        self._waiting: dict[InstrumentKey, list[asyncio.Future[BookResult]]] = {}
        self.books_in = 0
        self.fetches = 0
        self.out_of_order = 0
        # quality control (docs/market-data.md): a book it rejects is dropped (a venue's re-sent
        # identical book passes: it says the stream is alive)
        self.quality = quality if quality is not None and quality.enabled else None
        self.rejected = 0
        # books whose mid goes into mid bars (the market actor's feed), if any
        self.mid_keys: frozenset[InstrumentKey] = frozenset()
        self.mid_sink: Callable[[OrderBook], None] | None = None

    # -- inputs -----------------------------------------------------------------------
    def on_start(self) -> None:
        self.spawn(self._consume_feed(), "feed")

    def counting_push(self, counts: MutableMapping[str, int], name: str) -> Callable[[OrderBook | TextBook], None]:
        """The sink a pushing adapter's socket reader calls with each book (one call per book):
        it counts the book in ``counts[name]`` (the runner's items per venue stream) and puts
        it in the feed — but while the consumer sleeps on an empty feed the book is applied at
        once, in the reader's turn: no wake-up of the consumer, no queue (``_apply`` never
        awaits, so it runs as it would in the consumer's turn, and books stay in order: once
        anything is queued, later books queue behind it)."""
        feed, apply = self.feed, self._apply

        def sink(book: OrderBook | TextBook) -> None:
            counts[name] += 1
            if feed.idle:
                feed.put_count += 1
                apply(book)
            else:
                feed.put_nowait(book)

        return sink

    async def _consume_feed(self) -> None:
        feed = self.feed
        apply = self._apply
        while True:
            for book in await feed.get_batch():
                apply(book)

    def _apply(self, book: OrderBook | TextBook) -> None:
        key = book.key
        last = self._last
        qc = self.quality
        if qc is not None:
            failed = qc.check_book(book, self.wall_ns() // 1_000_000)
            if failed is not None:
                self.rejected += 1
                return
        else:
            prev = last.get(key)
            if prev is not None and book.sequence and prev.sequence and book.sequence < prev.sequence:
                self.out_of_order += 1
                return
        self.books_in += 1
        last[key] = book
        self._arrived[key] = self.monotonic()
        self.publisher.publish_book(book)
        if self.mid_sink is not None and key in self.mid_keys:
            self.mid_sink(self._book(key))
        if self._waiting:
            waiting = self._waiting.pop(key, None)
            if waiting:
                for fut in waiting:
                    if not fut.done():
                        fut.set_result(BookResult(self._book(key), False))

    def _book(self, key: InstrumentKey) -> OrderBook:
        """The last book of ``key`` (it must have one) as a Decimal book; a :class:`TextBook`
        is turned into one once and kept in its place."""
        book = self._last[key]
        if isinstance(book, TextBook):
            book = self._last[key] = book.to_book()
        return book

    def _fresh(self, key: InstrumentKey) -> OrderBook | None:
        """The last book of ``key`` if it arrived less than ``stale_after_s`` ago."""
        arrived = self._arrived.get(key)
        if arrived is None or self.monotonic() - arrived >= self.stale_after_s:
            return None
        return self._book(key) if key in self._last else None

    def fresh_book(self, key: InstrumentKey) -> OrderBook | None:
        """The last book of ``key`` if fresh, else None (read by the risk gate, same thread)."""
        return self._fresh(key)

    def fresh_mark(self, key: InstrumentKey) -> Decimal | None:
        """The last mark price of a perp if younger than ``stale_after_s``, else None (risk gate)."""
        mark = self._marks.get(key)
        if mark is None or not mark.ts_ms or self.wall_ns() / 1e6 - mark.ts_ms > self.stale_after_s * 1000:
            return None
        return mark.mark_price

    async def update_mark(self, funding: FundingRate) -> None:
        await self.tell(_MarkUpdate(funding))

    # -- inbox ------------------------------------------------------------------------
    def _handle(self, msg: Msg) -> Any:
        if isinstance(msg, GetBook):
            return self._get_book(msg.key)
        if isinstance(msg, GetReferencePrice):
            return self._reference(msg.key, msg.source)
        if isinstance(msg, GetBooks):
            keys = msg.keys or tuple(self._last)
            return [BookResult(self._book(k), self._fresh(k) is None) for k in keys if k in self._last]
        if isinstance(msg, _Fetched):
            return self._on_fetched(msg)
        if isinstance(msg, _MarkUpdate):
            self._marks[msg.funding.key] = msg.funding
            return None
        raise TypeError(f"unexpected message {type(msg).__name__}")

    def _get_book(self, key: InstrumentKey) -> BookResult | asyncio.Future[BookResult]:
        fresh = self._fresh(key)
        if fresh is not None:
            return BookResult(fresh, False)
        fut: asyncio.Future[BookResult] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.setdefault(key, [])
        waiting.append(fut)
        if len(waiting) == 1:
            self.spawn(self._fetch(key), f"fetch:{key}")
        return fut

    async def _fetch(self, key: InstrumentKey) -> None:
        self.fetches += 1
        try:
            book = await within(self.adapter.fetch_order_book(key), self.fetch_timeout_s)
            msg = _Fetched(key, book)
        except Exception as exc:  # noqa: BLE001 - reported to the waiting callers
            logger.warning("price: REST book fetch for {} failed: {}", key, exc)
            msg = _Fetched(key, None, str(exc) or type(exc).__name__)
        await self.tell(msg)

    def _on_fetched(self, msg: _Fetched) -> None:
        if msg.book is not None:
            prev = self._last.get(msg.key)
            if prev is None or not prev.sequence or msg.book.sequence >= prev.sequence:
                self._last[msg.key] = msg.book
                self._arrived[msg.key] = self.monotonic()
        waiting = self._waiting.pop(msg.key, [])
        last = self._book(msg.key) if msg.key in self._last else None
        for fut in waiting:
            if fut.done():
                continue
            if last is not None:
                fut.set_result(BookResult(last, self._fresh(msg.key) is None))
            else:
                fut.set_exception(NoMarketData(f"no book for {msg.key}: {msg.error}"))

    def _reference(self, key: InstrumentKey, source: PriceSource) -> PriceReply | asyncio.Future[PriceReply]:
        now_ns = self.wall_ns()
        if source in (PriceSource.MARK, PriceSource.INDEX):
            mark = self._marks.get(key)
            if mark is None:
                raise NoMarketData(f"no mark/index price for {key} (is it a perp?)")
            price = mark.mark_price if source is PriceSource.MARK else mark.index_price
            age_ms = max(0.0, now_ns / 1e6 - mark.ts_ms) if mark.ts_ms else 0.0
            ref = ReferencePrice(
                key=key,
                price=price,
                source=source,
                ts_ms=mark.ts_ms,
                stale=age_ms > self.stale_after_s * 1000,
                age_ms=age_ms,
            )
            return PriceReply(price=ref)
        got = self._get_book(key)
        if isinstance(got, BookResult):
            return _price_from_book(got, source, now_ns)
        out: asyncio.Future[PriceReply] = asyncio.get_running_loop().create_future()

        def done(f: asyncio.Future[BookResult]) -> None:
            if out.done():
                return
            if (failure := f.exception()) is not None:
                out.set_exception(failure)
                return
            try:
                out.set_result(_price_from_book(f.result(), source, self.wall_ns()))
            except Exception as exc:  # noqa: BLE001 - whatever pricing the book raised is the caller's answer
                out.set_exception(exc)

        got.add_done_callback(done)
        return out


def _price_from_book(res: BookResult, source: PriceSource, now_ns: int) -> PriceReply:
    book = res.book
    price: Decimal | None
    if source is PriceSource.BID:
        price = book.best_bid.price if book.best_bid else None
    elif source is PriceSource.ASK:
        price = book.best_ask.price if book.best_ask else None
    else:
        price = book.mid
    if price is None:
        raise NoMarketData(f"book for {book.key} has no {source.value} side")
    ref = ReferencePrice(
        key=book.key,
        price=price,
        source=source,
        ts_ms=book.venue_ts_ms,
        stale=res.stale,
        age_ms=book.age_ms(now_ns),
    )
    return PriceReply(price=ref)
