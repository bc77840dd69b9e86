"""Order book snapshots and the pure arithmetic of walking them."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .enums import Side
from .key import InstrumentKey

__all__ = ["BookLevel", "OrderBook", "TextBook", "TextLevels", "BookWalk", "walk_book"]


class BookLevel(msgspec.Struct, frozen=True, array_like=True):
    price: Decimal
    qty: Decimal


class BookWalk(msgspec.Struct, frozen=True):
    """The result of taking ``filled`` from the book: average price and cost."""

    filled: Decimal
    notional: Decimal
    avg_price: Decimal | None
    worst_price: Decimal | None

    @property
    def complete(self) -> bool:
        return self.avg_price is not None


class OrderBook(msgspec.Struct, frozen=True, kw_only=True):
    """A top-of-book snapshot: bids best (highest) first, asks best (lowest) first.

    ``venue_ts_ms`` is the venue's event time, ``local_ts_ns`` our receive time
    (``time.time_ns()``), ``sequence`` the venue's update id (monotonic per instrument).
    """

    key: InstrumentKey
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    venue_ts_ms: int
    local_ts_ns: int
    sequence: int = 0

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price

    def age_ms(self, now_ns: int) -> float:
        return (now_ns - self.local_ts_ns) / 1e6

    def walk(self, side: Side, qty: Decimal) -> BookWalk:
        """What a taker order of ``side`` for ``qty`` would get from the visible levels."""
        return walk_book(self.asks if side is Side.BUY else self.bids, qty)


TextLevels = tuple[tuple[str, str], ...]
"""Book levels as the venue's decimal text: ``(price, qty)`` pairs of strings, encoded as a
:class:`BookLevel` is (``[price, qty]``). (Plain tuples: cheaper to decode than a Struct.)"""


class TextBook(msgspec.Struct, frozen=True, gc=False):
    """An :class:`OrderBook` whose levels are still the venue's decimal text.

    The runner's market-data hot path (docs/performance.md, "Session 7: the ingest path"): a
    venue adapter that decodes its frames straight into this skips building 2 × depth
    :class:`~decimal.Decimal` objects per update and the runner's encoder skips turning them
    back into text — on the wire a level is ``[price, qty]`` as strings either way, so a
    subscriber decodes exactly the Decimals the venue's text denotes. The adapter vouches that
    every string is a valid decimal number (``exchanges/binance/ws_parse.py``); :meth:`to_book`
    makes the Decimal book when the runner itself needs one (a query, the risk gate). The
    fields are :class:`OrderBook`'s, in its order (positional too: the hot path builds it so).
    """

    key: InstrumentKey
    bids: TextLevels
    asks: TextLevels
    venue_ts_ms: int
    local_ts_ns: int
    sequence: int = 0

    def to_book(self) -> OrderBook:
        """The same book with exact :class:`~decimal.Decimal` levels."""
        return OrderBook(
            key=self.key,
            bids=tuple([BookLevel(Decimal(p), Decimal(q)) for p, q in self.bids]),
            asks=tuple([BookLevel(Decimal(p), Decimal(q)) for p, q in self.asks]),
            venue_ts_ms=self.venue_ts_ms,
            local_ts_ns=self.local_ts_ns,
            sequence=self.sequence,
        )


def walk_book(levels: tuple[BookLevel, ...], qty: Decimal) -> BookWalk:
    """Consume ``qty`` from ``levels`` in order; avg_price is None when the book is too thin."""
    remaining = qty
    notional = Decimal(0)
    worst: Decimal | None = None
    for level in levels:
        if remaining <= 0:
            break
        take = min(remaining, level.qty)
        if take <= 0:
            continue
        notional += take * level.price
        remaining -= take
        worst = level.price
    filled = qty - remaining
    avg = notional / filled if filled > 0 and remaining <= 0 else None
    return BookWalk(filled=filled, notional=notional, avg_price=avg, worst_price=worst)
