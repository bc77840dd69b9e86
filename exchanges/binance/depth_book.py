"""A full-depth Binance book kept from the diff-depth stream and a REST snapshot (pure, no I/O).

Binance's documented procedure ("How to manage a local order book correctly"), for one symbol:

1. open ``<symbol>@depth@100ms`` and buffer its events;
2. get a snapshot (``GET /api/v3/depth`` / ``GET /fapi/v1/depth``) with its ``lastUpdateId`` L;
3. drop buffered events with ``u`` ≤ L (spot) / ``u`` < L (USD-M);
4. the first event applied must straddle the snapshot: ``U`` ≤ L + 1 ≤ ``u`` (spot) /
   ``U`` ≤ L ≤ ``u`` (USD-M; also taken: ``pu`` = L, the event right after the snapshot) — if the
   oldest buffered event starts after that, the snapshot is older than the stream: get another;
5. every later event continues the previous one: ``U`` = previous ``u`` + 1 (spot) / ``pu`` =
   previous ``u`` (USD-M); anything else is a gap → start over from step 2;
6. quantities are absolute: 0 removes the level.

:class:`DiffBook` does steps 3–6 and answers :class:`Desync` (with the reason) when the book must
be resynchronised; the stream (``depth_stream.py``) does the I/O.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from decimal import Decimal

from strategy_client.model import BookLevel

__all__ = ["DiffBook", "Desync", "Diff"]

_ZERO = Decimal(0)


class Desync(Exception):
    """The book no longer follows the stream: get a new snapshot (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Diff:
    """One diff-depth event: ``U``..``u`` (USD-M also ``pu``), absolute level quantities."""

    __slots__ = ("first", "last", "prev", "bids", "asks", "ts_ms")

    def __init__(
        self,
        first: int,
        last: int,
        prev: int,
        bids: Iterable[BookLevel],
        asks: Iterable[BookLevel],
        ts_ms: int,
    ) -> None:
        self.first = first
        self.last = last
        self.prev = prev
        self.bids = tuple(bids)
        self.asks = tuple(asks)
        self.ts_ms = ts_ms


class DiffBook:
    """One symbol's full book (see the module doc). ``futures``: USD-M rules (``pu``)."""

    def __init__(self, futures: bool, *, max_buffer: int = 1000) -> None:
        self.futures = futures
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_id = 0  # the last applied u (or the snapshot's L before the first event)
        self.ts_ms = 0
        self.synced = False
        self._first = True  # the next event applied is the first after the snapshot
        self.buffer: deque[Diff] = deque(maxlen=max_buffer)

    def reset(self) -> None:
        """Forget everything (a reconnect, a desync): buffer until the next snapshot."""
        self.bids.clear()
        self.asks.clear()
        self.buffer.clear()
        self.last_id = 0
        self.synced = False
        self._first = True

    def on_diff(self, diff: Diff) -> bool:
        """Buffer it (no snapshot yet) or apply it; True when the book changed. Desync on a gap."""
        if not self.synced:
            self.buffer.append(diff)
            return False
        return self._apply(diff)

    def on_snapshot(self, last_update_id: int, bids: Iterable[BookLevel], asks: Iterable[BookLevel]) -> bool:
        """Take the snapshot and apply the buffered events after it; True once synced. Desync
        if the snapshot is older than the oldest event buffered (get a newer one) or the
        buffer has a gap."""
        self.bids = {lv.price: lv.qty for lv in bids if lv.qty}
        self.asks = {lv.price: lv.qty for lv in asks if lv.qty}
        self.last_id = last_update_id
        self._first = True
        self.synced = True
        pending = list(self.buffer)
        self.buffer.clear()
        for diff in pending:
            self._apply(diff)
        return True

    def _apply(self, diff: Diff) -> bool:
        last = self.last_id
        if self._first:
            # step 3: events the snapshot already holds; step 4: the first must straddle it
            if diff.last < last or (not self.futures and diff.last == last):
                return False
            edge = last if self.futures else last + 1
            if diff.first > edge and not (self.futures and diff.prev == last):  # (USD-M: pu links it too)
                self.synced = False
                raise Desync(f"snapshot {last} is older than the stream (first event U={diff.first})")
            self._first = False
        elif diff.last <= last:
            return False  # a repeat of what is applied (a duplicate or stale frame)
        elif self.futures:
            if diff.prev != last:
                self.synced = False
                raise Desync(f"gap: pu={diff.prev}, last u={last}")
        elif diff.first != last + 1:
            self.synced = False
            raise Desync(f"gap: U={diff.first}, last u={last}")
        for side, levels in ((self.bids, diff.bids), (self.asks, diff.asks)):
            for lv in levels:
                if lv.qty == _ZERO:
                    side.pop(lv.price, None)
                else:
                    side[lv.price] = lv.qty
        self.last_id = diff.last
        self.ts_ms = diff.ts_ms
        return True

    def top(self, n: int) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]:
        """The best ``n`` levels a side, best first."""
        bids = heapq.nlargest(n, self.bids)
        asks = heapq.nsmallest(n, self.asks)
        return (
            tuple(BookLevel(p, self.bids[p]) for p in bids),
            tuple(BookLevel(p, self.asks[p]) for p in asks),
        )
