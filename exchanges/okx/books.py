"""The integrity rules of OKX's ``books`` channel (reference §6), as a pure local book.

* a ``snapshot`` (``prevSeqId`` -1) replaces the book;
* each ``update`` must have ``prevSeqId`` equal to the ``seqId`` last applied — otherwise a
  message was lost and the book is out of sync (:class:`BookGap`). An update with
  ``prevSeqId == seqId`` and empty sides is a keep-alive; after maintenance ``seqId`` may drop
  below ``prevSeqId`` once, which is accepted when ``prevSeqId`` matches;
* sizes are absolute (``"0"`` deletes the level); prices and sizes are kept as the strings
  received, because the checksum is computed over them;
* a non-zero ``checksum`` must equal the CRC32 of the resulting top 25 levels
  (:class:`ChecksumMismatch`); ``0`` means not provided (OKX production since 2026-06-23).

Without a snapshot (OKX's planned 2026 behaviour) :class:`SnapshotSync` buffers updates until a
REST book with ``seqId`` S arrives, drops updates with ``seqId <= S`` and requires the first
kept one to have ``prevSeqId <= S < seqId``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from .checksum import CHECKSUM_LEVELS, book_checksum
from .ws_schemas import BookData

__all__ = ["BookError", "BookGap", "ChecksumMismatch", "LocalBook", "SnapshotSync"]


class BookError(Exception):
    """The local book can no longer be trusted: resync it."""


class BookGap(BookError):
    pass


class ChecksumMismatch(BookError):
    pass


_Side = dict[Decimal, tuple[str, str]]


def _apply(side: _Side, levels: Sequence[Sequence[str]], name: str) -> None:
    for level in levels:
        if len(level) < 2:
            raise BookError(f"{name}: level {level!r} needs [px, sz, ...]")
        try:
            price = Decimal(level[0])
            size = Decimal(level[1])
        except InvalidOperation:
            raise BookError(f"{name}: level {level!r} is not numeric") from None
        if size == 0:
            side.pop(price, None)
        else:
            side[price] = (level[0], level[1])


class LocalBook:
    """One instrument's book as the ``books`` channel describes it (see the module doc)."""

    def __init__(self, *, verify_checksum: bool = True) -> None:
        self._bids: _Side = {}
        self._asks: _Side = {}
        self.seq_id: int | None = None
        self.ts_ms = 0
        self.verify_checksum = verify_checksum
        self.checksums_checked = 0
        self.rest_seq: int | None = None  # set by load_rest: the next update syncs against it

    @property
    def synced(self) -> bool:
        return self.seq_id is not None

    def reset(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self.seq_id = None
        self.rest_seq = None

    def load(self, data: BookData) -> None:
        """A snapshot (WS or REST); ``seqId`` required."""
        if data.seqId is None:
            raise BookError("snapshot without seqId")
        self._bids.clear()
        self._asks.clear()
        _apply(self._bids, data.bids, "bids")
        _apply(self._asks, data.asks, "asks")
        self.seq_id = data.seqId
        self.rest_seq = None
        self.ts_ms = int(data.ts) if data.ts.isdigit() else self.ts_ms
        self._check(data.checksum)

    def load_rest(self, data: BookData) -> None:
        """A REST snapshot with ``seqId`` S: updates with ``seqId <= S`` will be dropped and the
        first kept one must have ``prevSeqId <= S``."""
        self.load(BookData(asks=data.asks, bids=data.bids, ts=data.ts, checksum=0, seqId=data.seqId))
        self.rest_seq = data.seqId

    def apply(self, data: BookData) -> bool:
        """An update; False when it is older than a REST snapshot just loaded (dropped).
        Raises :class:`BookGap` / :class:`ChecksumMismatch` (then resync)."""
        if self.seq_id is None:
            raise BookGap("update before any snapshot")
        if data.seqId is None or data.prevSeqId is None:
            raise BookError("update without seqId/prevSeqId")
        if self.rest_seq is not None:
            if data.seqId <= self.rest_seq:
                return False
            if data.prevSeqId > self.rest_seq:
                raise BookGap(f"REST book seqId {self.rest_seq} is older than the update's prevSeqId {data.prevSeqId}")
            self.seq_id = data.prevSeqId
            self.rest_seq = None
        if data.prevSeqId != self.seq_id:
            raise BookGap(f"prevSeqId {data.prevSeqId} != last seqId {self.seq_id}")
        _apply(self._bids, data.bids, "bids")
        _apply(self._asks, data.asks, "asks")
        self.seq_id = data.seqId
        if data.ts.isdigit():
            self.ts_ms = int(data.ts)
        self._check(data.checksum)
        return True

    def _check(self, checksum: int) -> None:
        if not self.verify_checksum or checksum == 0:
            return
        self.checksums_checked += 1
        bids, asks = self.top(CHECKSUM_LEVELS)
        got = book_checksum(bids, asks)
        if got != checksum:
            raise ChecksumMismatch(f"checksum {got} != venue's {checksum} at seqId {self.seq_id}")

    def top(self, depth: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The best ``depth`` levels per side as received: bids descending, asks ascending."""
        bids = [self._bids[p] for p in sorted(self._bids, reverse=True)[:depth]]
        asks = [self._asks[p] for p in sorted(self._asks)[:depth]]
        return bids, asks


class SnapshotSync:
    """Updates buffered while a REST snapshot is fetched (``books`` without a WS snapshot)."""

    def __init__(self, max_buffered: int = 1000) -> None:
        self.pending: list[BookData] = []
        self.max_buffered = max_buffered

    def add(self, data: BookData) -> None:
        self.pending.append(data)
        if len(self.pending) > self.max_buffered:
            del self.pending[0]

    def replay(self, book: LocalBook, snapshot: BookData) -> None:
        """Load the REST ``snapshot`` and apply the buffered updates after it; raises
        :class:`BookGap` when the snapshot is older than the buffer (fetch again)."""
        book.load_rest(snapshot)
        pending, self.pending = self.pending, []
        for update in pending:
            book.apply(update)
