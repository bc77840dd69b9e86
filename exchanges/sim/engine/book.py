"""MatchingBook: one instrument's limit order book with price-time priority.

Each side keeps a FIFO queue per price, the aggregated quantity per price and a sorted list
of prices (``bisect``), so best price, add and cancel cost O(1)/O(log n) plus a list insert
when a new level appears. Cancels are lazy: an entry's quantity drops to zero and the level
total at once; dead entries are skipped (and dropped) when matching reaches them.

The book also owns its update ids: every change of a level's aggregated quantity between two
``flush`` calls counts one id, and ``flush`` reports the levels that changed since the last
flush (``U``/``u``/``pu`` of Binance diff depth).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

from strategy_client.model import MarketKind, Side

from .orders import SimOrder
from .views import Level

__all__ = ["Resting", "BookSide", "MatchingBook", "BookDiff"]

ZERO = Decimal(0)


class Resting:
    """One order's presence on the book. ``order`` is None for synthetic (market-maker) liquidity."""

    __slots__ = ("account", "order", "price", "qty", "side")

    def __init__(
        self, account: str, order: SimOrder | None, side: Side, price: Decimal, qty: Decimal
    ) -> None:
        self.account = account
        self.order = order
        self.side = side
        self.price = price
        self.qty = qty


class BookSide:
    """Bids (``is_bid``) or asks. ``keys`` holds sort keys ascending: -price for bids, price for asks."""

    __slots__ = ("is_bid", "queues", "totals", "keys", "touched", "dead")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.queues: dict[Decimal, deque[Resting]] = {}
        self.totals: dict[Decimal, Decimal] = {}
        self.keys: list[Decimal] = []
        self.touched: dict[Decimal, Decimal] = {}  # price -> total before the first change
        self.dead: dict[Decimal, int] = {}  # price -> dead entries left inside its queue

    def __len__(self) -> int:
        return len(self.keys)

    def best_price(self) -> Decimal | None:
        if not self.keys:
            return None
        k = self.keys[0]
        return -k if self.is_bid else k

    def crosses(self, price: Decimal, limit: Decimal) -> bool:
        """Would a taker with ``limit`` trade against this side's ``price``?"""
        return price >= limit if self.is_bid else price <= limit

    def _touch(self, price: Decimal, before: Decimal) -> None:
        if price not in self.touched:
            self.touched[price] = before

    def add(self, entry: Resting) -> None:
        price = entry.price
        queue = self.queues.get(price)
        if queue is None:
            self._touch(price, ZERO)
            self.queues[price] = deque((entry,))
            self.totals[price] = entry.qty
            insort(self.keys, -price if self.is_bid else price)
        else:
            total = self.totals[price]
            self._touch(price, total)
            queue.append(entry)
            self.totals[price] = total + entry.qty

    def _drop_level(self, price: Decimal) -> None:
        del self.queues[price]
        del self.totals[price]
        self.dead.pop(price, None)
        key = -price if self.is_bid else price
        i = bisect_left(self.keys, key)
        del self.keys[i]

    def reduce(self, entry: Resting, qty: Decimal) -> None:
        """Take ``qty`` off a live entry (a fill or a resize down); drops the level when empty."""
        price = entry.price
        total = self.totals[price]
        self._touch(price, total)
        entry.qty -= qty
        total -= qty
        if total <= 0:
            self._drop_level(price)
        else:
            self.totals[price] = total
            if entry.qty <= 0:
                self._discard(price, entry)

    def _discard(self, price: Decimal, entry: Resting) -> None:
        """Drop a dead entry from its queue: at once at either end, otherwise lazily, compacting
        the queue when dead entries outnumber live ones (keeps memory bounded under churn)."""
        queue = self.queues[price]
        if queue[0] is entry:
            queue.popleft()
        elif queue[-1] is entry:
            queue.pop()
        else:
            dead = self.dead.get(price, 0) + 1
            if dead > 16 and dead * 2 > len(queue):
                self.queues[price] = deque(e for e in queue if e.qty > 0)
                self.dead.pop(price, None)
            else:
                self.dead[price] = dead

    def grow(self, entry: Resting, qty: Decimal) -> None:
        """Add ``qty`` to a live entry keeping its queue position (market-maker top-up)."""
        price = entry.price
        total = self.totals[price]
        self._touch(price, total)
        entry.qty += qty
        self.totals[price] = total + qty

    def remove(self, entry: Resting) -> None:
        if entry.qty > 0:
            self.reduce(entry, entry.qty)

    def best_entry(self) -> Resting | None:
        """The first live entry at the best price (dead entries are dropped on the way)."""
        while self.keys:
            k = self.keys[0]
            price = -k if self.is_bid else k
            queue = self.queues[price]
            while queue:
                head = queue[0]
                if head.qty > 0:
                    return head
                queue.popleft()
                dead = self.dead.get(price)
                if dead is not None:
                    if dead > 1:
                        self.dead[price] = dead - 1
                    else:
                        del self.dead[price]
            # a level whose queue is all dead has total 0 and was dropped already
            raise AssertionError(f"level {price} has a total but no live entry")
        return None

    def entries(self) -> Iterator[Resting]:
        """Live entries in priority order (best price first, FIFO within a price)."""
        for k in self.keys:
            price = -k if self.is_bid else k
            for entry in self.queues[price]:
                if entry.qty > 0:
                    yield entry

    def levels(self, depth: int) -> list[Level]:
        totals = self.totals
        if self.is_bid:
            return [(-k, totals[-k]) for k in self.keys[:depth]]
        return [(k, totals[k]) for k in self.keys[:depth]]

    def take_changes(self) -> list[Level]:
        changed = [
            (price, self.totals.get(price, ZERO))
            for price, before in self.touched.items()
            if self.totals.get(price, ZERO) != before
        ]
        self.touched.clear()
        changed.sort(key=lambda lv: lv[0], reverse=self.is_bid)
        return changed


class BookDiff:
    """What one ``flush`` found: the new id range and the changed levels."""

    __slots__ = ("first_update_id", "update_id", "prev_update_id", "bids", "asks")

    def __init__(self, first: int, last: int, prev: int, bids: list[Level], asks: list[Level]) -> None:
        self.first_update_id = first
        self.update_id = last
        self.prev_update_id = prev
        self.bids = bids
        self.asks = asks


class MatchingBook:
    """Both sides of one instrument, its market-maker entries, trade ids and update ids."""

    __slots__ = ("kind", "symbol", "bids", "asks", "mm_bids", "mm_asks", "update_id", "trade_seq", "ts_ms")

    def __init__(
        self, kind: MarketKind, symbol: str, *, first_update_id: int = 1000, first_trade_id: int = 1
    ) -> None:
        self.kind = kind
        self.symbol = symbol
        self.bids = BookSide(True)
        self.asks = BookSide(False)
        self.mm_bids: dict[Decimal, Resting] = {}
        self.mm_asks: dict[Decimal, Resting] = {}
        self.update_id = first_update_id
        self.trade_seq = first_trade_id - 1
        self.ts_ms = 0

    def side(self, side: Side) -> BookSide:
        """The side an order of ``side`` rests on."""
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> BookSide:
        """The side an order of ``side`` trades against."""
        return self.asks if side is Side.BUY else self.bids

    def mm_entries(self, side: Side) -> dict[Decimal, Resting]:
        return self.mm_bids if side is Side.BUY else self.mm_asks

    def next_trade_id(self) -> int:
        self.trade_seq += 1
        return self.trade_seq

    def would_cross(self, side: Side, price: Decimal) -> bool:
        best = self.opposite(side).best_price()
        if best is None:
            return False
        return best <= price if side is Side.BUY else best >= price

    def is_crossed(self) -> bool:
        bid, ask = self.bids.best_price(), self.asks.best_price()
        return bid is not None and ask is not None and bid >= ask

    def fill(self, entry: Resting, qty: Decimal) -> None:
        """A resting entry traded ``qty``; forget a market-maker entry once it is used up."""
        book_side = self.bids if entry.side is Side.BUY else self.asks
        book_side.reduce(entry, qty)
        if entry.qty <= 0 and entry.order is None:
            mm = self.mm_entries(entry.side)
            if mm.get(entry.price) is entry:
                del mm[entry.price]

    def cancel(self, entry: Resting) -> None:
        book_side = self.bids if entry.side is Side.BUY else self.asks
        book_side.remove(entry)
        if entry.order is None:
            mm = self.mm_entries(entry.side)
            if mm.get(entry.price) is entry:
                del mm[entry.price]

    def flush(self) -> BookDiff | None:
        """Close the current batch of changes; None when no level's quantity changed."""
        if not self.bids.touched and not self.asks.touched:
            return None
        bids = self.bids.take_changes()
        asks = self.asks.take_changes()
        n = len(bids) + len(asks)
        if n == 0:
            return None
        prev = self.update_id
        self.update_id = prev + n
        return BookDiff(prev + 1, self.update_id, prev, bids, asks)
