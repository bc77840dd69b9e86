"""DiffBook (Binance's local order book procedure): whatever the stream and the snapshot's place in
it, the kept book equals the book the events build; a snapshot older than the stream, a gap and a
stale frame are told apart (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.binance.depth_book import Desync, Diff, DiffBook
from strategy_client.model import BookLevel

D = Decimal
BIDS = [D(100 - i) for i in range(1, 8)]
ASKS = [D(100 + i) for i in range(1, 8)]

change = st.tuples(st.booleans(), st.integers(0, 6), st.sampled_from([D(0), D("0.5"), D(1), D("2.25")]))
events_st = st.lists(st.tuples(st.integers(0, 3), st.lists(change, max_size=4)), min_size=1, max_size=30)


def _build(raw: list[tuple[int, list[tuple[bool, int, Decimal]]]], start_id: int = 10):
    """The events with their ids, and the book after each (the reference)."""
    events: list[Diff] = []
    states: list[tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = []
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    last = start_id
    for span, changes in raw:
        b = [BookLevel(BIDS[i], q) for is_bid, i, q in changes if is_bid]
        a = [BookLevel(ASKS[i], q) for is_bid, i, q in changes if not is_bid]
        events.append(Diff(last + 1, last + 1 + span, last, b, a, 1_000 + len(events)))
        last = last + 1 + span
        for side, levels in ((bids, b), (asks, a)):
            for lv in levels:
                if lv.qty:
                    side[lv.price] = lv.qty
                else:
                    side.pop(lv.price, None)
        states.append((dict(bids), dict(asks)))
    return events, states


def _levels(side: dict[Decimal, Decimal]) -> list[BookLevel]:
    return [BookLevel(p, q) for p, q in side.items()]


@settings(max_examples=80, deadline=None)
@given(raw=events_st, data=st.data(), futures=st.booleans())
def test_the_kept_book_is_the_book_the_events_build(raw: list, data: st.DataObject, futures: bool) -> None:
    events, states = _build(raw)
    n = len(events)
    snap_at = data.draw(st.integers(0, n), label="events in the snapshot")
    stream_from = data.draw(st.integers(0, n), label="first event the stream delivered")
    book = DiffBook(futures=futures)
    snap_bids, snap_asks = states[snap_at - 1] if snap_at else ({}, {})
    snap_id = events[snap_at - 1].last if snap_at else events[0].prev
    buffered = events[stream_from:]
    cut = data.draw(st.integers(0, len(buffered)), label="events buffered before the snapshot came")
    for e in buffered[:cut]:
        assert book.on_diff(e) is False
    try:
        book.on_snapshot(snap_id, _levels(snap_bids), _levels(snap_asks))
        for e in buffered[cut:]:
            book.on_diff(e)
    except Desync as exc:
        # only when the stream began after the snapshot's place (events in between are missing)
        assert stream_from > snap_at and "older than the stream" in exc.reason
        return
    if stream_from > snap_at and buffered:
        pytest.fail("a snapshot older than the stream was taken")
    final = states[-1] if buffered or snap_at == n else states[snap_at - 1] if snap_at else ({}, {})
    assert (book.bids, book.asks) == final
    top_bids, top_asks = book.top(3)
    assert [lv.price for lv in top_bids] == sorted(final[0], reverse=True)[:3]
    assert [lv.price for lv in top_asks] == sorted(final[1])[:3]


@pytest.mark.parametrize("futures", [False, True])
def test_a_gap_is_a_desync_and_a_stale_frame_is_skipped(futures: bool) -> None:
    events, _ = _build([(0, [(True, 0, D(1))]), (1, [(True, 1, D(1))]), (0, [(False, 0, D(1))])])
    book = DiffBook(futures=futures)
    book.on_snapshot(events[0].prev, [], [])
    assert book.on_diff(events[0]) is True
    assert book.on_diff(events[0]) is False  # the same frame again: skipped
    with pytest.raises(Desync, match="gap"):
        book.on_diff(events[2])  # events[1] lost
    assert not book.synced
    book.reset()
    assert book.on_diff(events[2]) is False and len(book.buffer) == 1  # buffering for a new snapshot
