"""The ``books`` integrity rules: snapshot, sequence chain, keep-alive, checksum, REST join."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.okx.books import BookGap, ChecksumMismatch, LocalBook, SnapshotSync
from exchanges.okx.checksum import book_checksum, checksum_text
from exchanges.okx.ws_schemas import BookData, decode_book

from .fixtures import fixture


def _data(bids: list[list[str]], asks: list[list[str]], seq: int, prev: int | None, checksum: int = 0) -> BookData:
    return BookData(asks=asks, bids=bids, ts="1", checksum=checksum, prevSeqId=prev, seqId=seq)


def test_checksum_text_of_the_reference_example() -> None:
    text = checksum_text([("64210.4", "12"), ("64210.3", "5")], [("64210.5", "3")])
    assert text == "64210.4:12:64210.5:3:64210.3:5"
    signed = book_checksum([("64210.4", "12"), ("64210.3", "5")], [("64210.5", "3")])
    assert -(2**31) <= signed < 2**31


def test_documented_snapshot_then_update() -> None:
    book = LocalBook()
    book.load(decode_book(fixture("ws_books_snapshot")).data[0])
    assert book.apply(decode_book(fixture("ws_books_update")).data[0])
    bids, asks = book.top(5)
    assert bids == [("64210.4", "1250"), ("64210.3", "5")] and asks == [("64210.6", "40")]
    assert book.seq_id == 335226848597 and book.checksums_checked == 0  # checksum 0: not provided


def test_gap_keepalive_and_maintenance_reset() -> None:
    book = LocalBook()
    book.load(_data([["10", "1"]], [["11", "1"]], seq=100, prev=-1))
    assert book.apply(_data([], [], seq=100, prev=100))  # keep-alive
    with pytest.raises(BookGap):
        book.apply(_data([["10", "2"]], [], seq=103, prev=101))
    assert book.apply(_data([["10", "2"]], [], seq=5, prev=100))  # seqId reset after maintenance
    assert book.seq_id == 5
    with pytest.raises(BookGap):
        LocalBook().apply(_data([], [], seq=2, prev=1))


def test_checksum_mismatch() -> None:
    bids, asks = [["10", "1"], ["9", "2"]], [["11", "3"]]
    good = book_checksum([("10", "1"), ("9", "2")], [("11", "3")])
    book = LocalBook()
    book.load(_data(bids, asks, seq=1, prev=-1, checksum=good))
    assert book.checksums_checked == 1
    wrong = book_checksum([("10", "1")], [("11", "3")])
    with pytest.raises(ChecksumMismatch):
        book.apply(_data([["9", "0"], ["8", "1"]], [], seq=2, prev=1, checksum=wrong))


def test_rest_snapshot_join_without_ws_snapshot() -> None:
    book, sync = LocalBook(), SnapshotSync()
    sync.add(_data([["10", "5"]], [], seq=105, prev=100))
    sync.add(_data([["10", "6"]], [], seq=110, prev=105))
    sync.replay(book, _data([["10", "5"], ["9", "1"]], [["11", "1"]], seq=107, prev=None))
    assert book.seq_id == 110 and book.top(1)[0] == [("10", "6")]
    assert book.apply(_data([["9", "0"]], [], seq=111, prev=110))
    stale = LocalBook()
    too_old = SnapshotSync()
    too_old.add(_data([["10", "5"]], [], seq=120, prev=115))
    with pytest.raises(BookGap):
        too_old.replay(stale, _data([["10", "1"]], [], seq=110, prev=None))


_levels = st.dictionaries(st.integers(1, 40), st.integers(0, 9), max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_levels, _levels), min_size=1, max_size=15))
def test_book_equals_applying_every_update(updates: list[tuple[dict[int, int], dict[int, int]]]) -> None:
    """Any chain of updates leaves the local book equal to a reference dict, checksums agree."""
    reference: dict[str, dict[int, int]] = {"bids": {}, "asks": {}}
    book = LocalBook()
    book.load(_data([], [], seq=0, prev=-1))
    for seq, (bid_changes, ask_changes) in enumerate(updates, start=1):
        for side, changes in (("bids", bid_changes), ("asks", ask_changes)):
            for price, size in changes.items():
                if size:
                    reference[side][price] = size
                else:
                    reference[side].pop(price, None)
        bids = sorted(reference["bids"].items(), reverse=True)
        asks = sorted(reference["asks"].items())
        expected = book_checksum([(str(p), str(s)) for p, s in bids[:25]], [(str(p), str(s)) for p, s in asks[:25]])
        update = _data(
            [[str(p), str(s)] for p, s in bid_changes.items()],
            [[str(p), str(s)] for p, s in ask_changes.items()],
            seq=seq,
            prev=seq - 1,
            checksum=expected,  # a CRC of exactly 0 reads as "not provided": checked otherwise
        )
        assert book.apply(update)
    top_bids, top_asks = book.top(100)
    assert [(Decimal(p), int(s)) for p, s in top_bids] == sorted(reference["bids"].items(), reverse=True)
    assert [(Decimal(p), int(s)) for p, s in top_asks] == sorted(reference["asks"].items())
