"""PriceOracle: the latest book, mark and index per instrument, with their age and gap flags.

The oracle holds the newest book per :class:`InstrumentKey` as the engine feeds it (from the
subscriber's book events, or a ``GetBookSnapshot`` reply after a resync) and answers "is there
a book I may trade on?". It never hands out a stale book as fresh: :meth:`PriceOracle.quote`
always says *why* a book is unusable, and :meth:`PriceOracle.book` raises :class:`StaleData`.

A book is **fresh** only when all hold:

* one was received (``MISSING`` otherwise);
* its age ``now_ns − book.local_ts_ns`` is at most ``max_book_age_ms`` (``TOO_OLD``);
* no sequence gap was reported on its stream since it arrived (``GAP``) — books are top-N
  snapshots, so the next newer book (or a resync snapshot) clears the flag;
* the runner did not flag it stale (``VENUE_STALE``, the ``stale`` field of ``BookEvent``);
* both sides have levels (``ONE_SIDED``) and it is not crossed, best bid < best ask (``CROSSED``).

Out-of-order and duplicate books (a lower or equal venue ``sequence``, or an older receive time
when the venue gives no sequence) are dropped and counted; they never replace a newer book.

Mark and index prices come from funding-rate updates (``FundingRate.mark_price`` /
``index_price``) and are fresh while younger than ``max_funding_age_ms``.

The oracle is pure: it reads no clock (every call takes ``now_ns``) and does no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import msgspec

from strategy_client.model import Exchange, FundingRate, InstrumentKey, OrderBook
from strategy_client.wire import PriceSource

from .errors import StaleData

__all__ = [
    "Freshness",
    "OracleConfig",
    "BookQuote",
    "RefPrice",
    "PriceOracle",
    "PriceSource",
]


class Freshness(StrEnum):
    FRESH = "fresh"
    MISSING = "missing"
    TOO_OLD = "too_old"
    GAP = "gap"
    VENUE_STALE = "venue_stale"
    ONE_SIDED = "one_sided"
    CROSSED = "crossed"


class OracleConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Staleness limits. ``max_funding_age_ms`` should exceed the runner's funding poll interval."""

    max_book_age_ms: int = 2_000
    max_funding_age_ms: int = 120_000

    def problems(self, where: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.max_book_age_ms <= 0:
            out.append((f"{where}.max_book_age_ms", f"{self.max_book_age_ms} must be positive"))
        if self.max_funding_age_ms <= 0:
            out.append((f"{where}.max_funding_age_ms", f"{self.max_funding_age_ms} must be positive"))
        return out


class BookQuote(msgspec.Struct, frozen=True, kw_only=True):
    """A book with its verdict. ``book`` may be present but unusable: check :attr:`fresh`."""

    key: InstrumentKey
    book: OrderBook | None
    freshness: Freshness
    age_ms: float | None = None

    @property
    def fresh(self) -> bool:
        return self.freshness is Freshness.FRESH

    def require(self) -> OrderBook:
        """The book, or :class:`StaleData` naming why it must not be traded on."""
        if self.book is None or not self.fresh:
            raise StaleData(str(self.key), self.freshness.value, self.age_ms)
        return self.book


class RefPrice(msgspec.Struct, frozen=True, kw_only=True):
    key: InstrumentKey
    price: Decimal
    source: PriceSource
    age_ms: float


@dataclass(slots=True)
class _BookSlot:
    book: OrderBook
    gap_since_ns: int | None = None
    venue_stale: bool = False


@dataclass(slots=True)
class _FundingSlot:
    rate: FundingRate
    received_ns: int


def _age_ms(now_ns: int, then_ns: int) -> float:
    return max(0.0, (now_ns - then_ns) / 1e6)


class PriceOracle:
    """Latest book and funding per key. Counters: :attr:`stats` (accepted, dropped, gaps...)."""

    def __init__(self, config: OracleConfig | None = None) -> None:
        self.config = config or OracleConfig()
        self._books: dict[InstrumentKey, _BookSlot] = {}
        self._funding: dict[InstrumentKey, _FundingSlot] = {}
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ inputs

    def on_book(self, book: OrderBook, *, venue_stale: bool = False, resync: bool = False) -> bool:
        """Store ``book`` if it is newer than the one held; returns whether it was accepted.

        ``resync`` marks a book from a snapshot request after a gap: it is accepted even when
        not newer (it is the runner's current book) and clears the gap flag.
        """
        slot = self._books.get(book.key)
        if slot is not None and not resync:
            held = slot.book
            if book.sequence and held.sequence:
                if book.sequence < held.sequence:
                    self.stats["books_out_of_order"] += 1
                    return False
                if book.sequence == held.sequence:
                    self.stats["books_duplicate"] += 1
                    return False
            elif book.local_ts_ns < held.local_ts_ns:
                self.stats["books_out_of_order"] += 1
                return False
        self._books[book.key] = _BookSlot(book=book, venue_stale=venue_stale)
        self.stats["books_accepted"] += 1
        return True

    def on_gap(self, key: InstrumentKey, now_ns: int) -> None:
        """A sequence gap on ``key``'s book stream: its book is suspect until a newer one arrives."""
        slot = self._books.get(key)
        self.stats["gaps"] += 1
        if slot is not None and slot.gap_since_ns is None:
            slot.gap_since_ns = now_ns

    def on_stream_gap(self, exchange: Exchange, now_ns: int) -> None:
        """A gap or reconnect on a whole event stream: every book of ``exchange`` is suspect."""
        for key in list(self._books):
            if key.exchange is exchange:
                self.on_gap(key, now_ns)

    def on_funding(self, rate: FundingRate, received_ns: int) -> bool:
        """Store a funding rate (with its mark and index); older updates are dropped and counted."""
        slot = self._funding.get(rate.key)
        if slot is not None and rate.ts_ms and slot.rate.ts_ms and rate.ts_ms < slot.rate.ts_ms:
            self.stats["funding_out_of_order"] += 1
            return False
        self._funding[rate.key] = _FundingSlot(rate=rate, received_ns=received_ns)
        self.stats["funding_accepted"] += 1
        return True

    def forget(self, key: InstrumentKey) -> None:
        self._books.pop(key, None)
        self._funding.pop(key, None)

    # ------------------------------------------------------------------ queries

    def keys(self) -> list[InstrumentKey]:
        return sorted(self._books)

    def quote(self, key: InstrumentKey, now_ns: int) -> BookQuote:
        """The held book for ``key`` with its verdict (see the module docstring)."""
        slot = self._books.get(key)
        if slot is None:
            return BookQuote(key=key, book=None, freshness=Freshness.MISSING)
        book = slot.book
        age = _age_ms(now_ns, book.local_ts_ns)
        verdict = Freshness.FRESH
        if slot.gap_since_ns is not None:
            verdict = Freshness.GAP
        elif slot.venue_stale:
            verdict = Freshness.VENUE_STALE
        elif age > self.config.max_book_age_ms:
            verdict = Freshness.TOO_OLD
        elif not book.bids or not book.asks:
            verdict = Freshness.ONE_SIDED
        elif book.bids[0].price >= book.asks[0].price:
            verdict = Freshness.CROSSED
        return BookQuote(key=key, book=book, freshness=verdict, age_ms=age)

    def book(self, key: InstrumentKey, now_ns: int) -> OrderBook:
        """A fresh book for ``key`` or :class:`StaleData`."""
        return self.quote(key, now_ns).require()

    def funding(self, key: InstrumentKey, now_ns: int) -> FundingRate:
        """A fresh funding rate for ``key`` or :class:`StaleData`."""
        slot = self._funding.get(key)
        if slot is None:
            raise StaleData(str(key), "no funding rate")
        age = _age_ms(now_ns, slot.received_ns)
        if age > self.config.max_funding_age_ms:
            raise StaleData(str(key), "funding rate too old", age)
        return slot.rate

    def funding_or_none(self, key: InstrumentKey, now_ns: int) -> FundingRate | None:
        try:
            return self.funding(key, now_ns)
        except StaleData:
            return None

    def reference(self, key: InstrumentKey, source: PriceSource, now_ns: int) -> RefPrice:
        """A reference price from the book (mid, bid, ask) or the funding feed (mark, index)."""
        if source in (PriceSource.MARK, PriceSource.INDEX):
            rate = self.funding(key, now_ns)
            price = rate.mark_price if source is PriceSource.MARK else rate.index_price
            if price <= 0:
                raise StaleData(str(key), f"no {source.value} price")
            age = _age_ms(now_ns, self._funding[key].received_ns)
            return RefPrice(key=key, price=price, source=source, age_ms=age)
        quote = self.quote(key, now_ns)
        book = quote.require()
        if source is PriceSource.BID:
            value = book.bids[0].price
        elif source is PriceSource.ASK:
            value = book.asks[0].price
        else:
            value = (book.bids[0].price + book.asks[0].price) / 2
        return RefPrice(key=key, price=value, source=source, age_ms=quote.age_ms or 0.0)
