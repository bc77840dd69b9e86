"""The local order book's integrity rules: snapshot/delta, u=1 restart, gaps, stale u, crossing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.bybit.book import Desync, LocalBook

D = Decimal


def _book() -> LocalBook:
    book = LocalBook(50)
    book.apply("snapshot", [(D("100"), D("1")), (D("99"), D("2"))], [(D("101"), D("1"))], 10)
    return book


def test_snapshot_then_deltas() -> None:
    book = _book()
    book.apply("delta", [(D("100"), D("0")), (D("98"), D("3"))], [(D("101"), D("0.5"))], 11)
    bids, asks = book.top(5)
    assert [(lv.price, lv.qty) for lv in bids] == [(D("99"), D("2")), (D("98"), D("3"))]
    assert [(lv.price, lv.qty) for lv in asks] == [(D("101"), D("0.5"))] and book.u == 11


def test_delete_of_an_absent_level_is_harmless() -> None:
    book = _book()
    book.apply("delta", [(D("50"), D("0"))], [], 11)
    assert len(book.bids) == 2


@pytest.mark.parametrize(("u", "reason"), [(10, "stale"), (9, "stale"), (13, "gap")])
def test_bad_sequence_desyncs_and_resets(u: int, reason: str) -> None:
    book = _book()
    with pytest.raises(Desync) as err:
        book.apply("delta", [], [], u)
    assert reason in err.value.reason and not book.synced


def test_delta_before_snapshot_and_u_one_restart() -> None:
    book = LocalBook(50)
    with pytest.raises(Desync, match="before snapshot"):
        book.apply("delta", [], [], 5)
    book = _book()
    book.apply("delta", [(D("97"), D("9"))], [(D("105"), D("1"))], 1)  # service restart: replaces the book
    assert book.u == 1 and set(book.bids) == {D("97")}
    book.apply("delta", [], [], 2)


def test_lenient_sequence_accepts_skips() -> None:
    book = LocalBook(50, strict_sequence=False)
    book.apply("snapshot", [(D("1"), D("1"))], [(D("2"), D("1"))], 10)
    book.apply("delta", [], [], 15)
    assert book.u == 15


def test_crossed_book_desyncs() -> None:
    book = _book()
    with pytest.raises(Desync, match="crossed"):
        book.apply("delta", [(D("102"), D("1"))], [], 11)


levels = st.lists(st.tuples(st.integers(1, 40), st.integers(0, 5)), max_size=12)


@given(st.lists(st.tuples(levels, levels), min_size=1, max_size=20))
def test_deltas_equal_replacing_levels(updates: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]) -> None:
    """Applying deltas is the same as setting each level's size (0 removes) on plain dicts."""
    book = LocalBook(50, strict_sequence=True)
    book.apply("snapshot", [], [], 1000)
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    u = 1000
    for b, a in updates:
        b_levels = [(D(p), D(q)) for p, q in b]  # bids below 41
        a_levels = [(D(p + 100), D(q)) for p, q in a]  # asks above 100: never crossed
        u += 1
        book.apply("delta", b_levels, a_levels, u)
        for side, lvls in ((bids, b_levels), (asks, a_levels)):
            for p, q in lvls:
                if q > 0:
                    side[p] = q
                else:
                    side.pop(p, None)
    assert book.bids == bids and book.asks == asks and book.u == u
