"""A local order book kept from Bybit's ``orderbook.{depth}`` snapshots and deltas (§6).

Integrity rules:

* a ``snapshot`` — or any message with ``u`` == 1 (Bybit's service restart) — replaces the
  book;
* a ``delta`` applies level by level: size 0 deletes the level, anything else inserts or
  replaces it;
* a delta before any snapshot, a ``u`` that does not increase (stale or replayed), a ``u``
  that skips (``strict_sequence``: Bybit pushes ``u`` + 1 per message on a topic; a gap means
  a message was lost), or a book that ends up crossed, is a :class:`Desync`: the caller drops
  the book and resubscribes for a fresh snapshot.
"""

from __future__ import annotations

from decimal import Decimal

from strategy_client.model import BookLevel

__all__ = ["LocalBook", "Desync"]

Level = tuple[Decimal, Decimal]


class Desync(Exception):
    """The book can no longer be trusted; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LocalBook:
    def __init__(self, depth: int, *, strict_sequence: bool = True) -> None:
        self.depth = depth
        self.strict = strict_sequence
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.u: int | None = None
        self.seq = 0
        self.ts_ms = 0

    @property
    def synced(self) -> bool:
        return self.u is not None

    def reset(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.u = None

    def apply(self, kind: str, bids: list[Level], asks: list[Level], u: int, *, seq: int = 0, ts_ms: int = 0) -> None:
        """Apply one message; raises :class:`Desync` (and resets) when the book breaks."""
        if kind == "snapshot" or u == 1:
            self.bids = {p: q for p, q in bids if q > 0}
            self.asks = {p: q for p, q in asks if q > 0}
        elif kind == "delta":
            if self.u is None:
                raise Desync("delta before snapshot")
            if u <= self.u:
                self.reset()
                raise Desync(f"stale update: u {u} after {self.u}")
            if self.strict and u != self.u + 1:
                gap = u - self.u - 1
                self.reset()
                raise Desync(f"sequence gap: u {u} after {self.u} ({gap} missing)")
            for side, levels in ((self.bids, bids), (self.asks, asks)):
                for price, qty in levels:
                    if qty > 0:
                        side[price] = qty
                    else:
                        side.pop(price, None)
        else:
            raise Desync(f"unknown message type {kind!r}")
        self.u = u
        self.seq = seq or self.seq
        self.ts_ms = ts_ms or self.ts_ms
        if self.bids and self.asks and max(self.bids) >= min(self.asks):
            best_bid, best_ask = max(self.bids), min(self.asks)
            self.reset()
            raise Desync(f"crossed book: bid {best_bid} >= ask {best_ask}")

    def top(self, levels: int) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]:
        bids = sorted(self.bids.items(), reverse=True)[:levels]
        asks = sorted(self.asks.items())[:levels]
        return tuple(BookLevel(p, q) for p, q in bids), tuple(BookLevel(p, q) for p, q in asks)
