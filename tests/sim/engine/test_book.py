"""MatchingBook: price-time priority, lazy cancels, level totals, update ids and diffs."""

from __future__ import annotations

from decimal import Decimal as D

from exchanges.sim.engine.book import MatchingBook, Resting
from strategy_client.model import MarketKind, Side


def entry(side: Side, price: str, qty: str, account: str = "x") -> Resting:
    return Resting(account, None, side, D(price), D(qty))


def test_best_prices_and_levels_sorted() -> None:
    book = MatchingBook(MarketKind.SPOT, "T")
    for p in ("100", "101", "99"):
        book.bids.add(entry(Side.BUY, p, "1"))
    for p in ("105", "103", "104"):
        book.asks.add(entry(Side.SELL, p, "2"))
    assert book.bids.best_price() == D("101")
    assert book.asks.best_price() == D("103")
    assert [p for p, _ in book.bids.levels(10)] == [D("101"), D("100"), D("99")]
    assert [p for p, _ in book.asks.levels(2)] == [D("103"), D("104")]
    assert not book.is_crossed()


def test_fifo_within_a_price_and_aggregated_totals() -> None:
    book = MatchingBook(MarketKind.SPOT, "T")
    first, second = entry(Side.SELL, "10", "1", "a"), entry(Side.SELL, "10", "2", "b")
    book.asks.add(first)
    book.asks.add(second)
    assert book.asks.levels(1) == [(D("10"), D("3"))]
    assert book.asks.best_entry() is first
    book.fill(first, D("1"))
    assert book.asks.best_entry() is second
    assert book.asks.levels(1) == [(D("10"), D("2"))]


def test_lazy_cancel_in_the_middle_of_a_queue() -> None:
    book = MatchingBook(MarketKind.SPOT, "T")
    a, b, c = (entry(Side.BUY, "10", "1", n) for n in "abc")
    for e in (a, b, c):
        book.bids.add(e)
    book.cancel(b)
    assert book.bids.levels(1) == [(D("10"), D("2"))]
    book.fill(a, D("1"))
    assert book.bids.best_entry() is c  # the dead entry b is skipped
    book.cancel(c)
    assert book.bids.best_price() is None
    assert book.bids.best_entry() is None
    assert len(book.bids) == 0


def test_flush_counts_one_id_per_changed_level_and_chains() -> None:
    book = MatchingBook(MarketKind.PERP, "T", first_update_id=500)
    assert book.flush() is None
    book.bids.add(entry(Side.BUY, "10", "1"))
    book.asks.add(entry(Side.SELL, "11", "1"))
    book.asks.add(entry(Side.SELL, "12", "1"))
    d1 = book.flush()
    assert d1 is not None
    assert (d1.prev_update_id, d1.first_update_id, d1.update_id) == (500, 501, 503)
    assert d1.bids == [(D("10"), D("1"))]
    assert d1.asks == [(D("11"), D("1")), (D("12"), D("1"))]
    e = book.asks.best_entry()
    assert e is not None
    book.fill(e, D("1"))
    d2 = book.flush()
    assert d2 is not None
    assert d2.prev_update_id == d1.update_id and d2.first_update_id == d1.update_id + 1
    assert d2.asks == [(D("11"), D("0"))]  # level removed


def test_change_and_change_back_is_no_update() -> None:
    book = MatchingBook(MarketKind.SPOT, "T")
    e = entry(Side.BUY, "10", "1")
    book.bids.add(e)
    book.flush()
    before = book.update_id
    book.bids.grow(e, D("1"))
    book.bids.reduce(e, D("1"))
    assert book.flush() is None
    assert book.update_id == before


def test_market_maker_entry_forgotten_when_used_up() -> None:
    book = MatchingBook(MarketKind.SPOT, "T")
    e = entry(Side.SELL, "10", "1")
    book.asks.add(e)
    book.mm_asks[e.price] = e
    book.fill(e, D("0.4"))
    assert book.mm_asks[D("10")] is e
    book.fill(e, D("0.6"))
    assert D("10") not in book.mm_asks
    assert book.would_cross(Side.BUY, D("10")) is False


def test_would_cross() -> None:
    book = MatchingBook(MarketKind.SPOT, "T")
    book.asks.add(entry(Side.SELL, "10", "1"))
    book.bids.add(entry(Side.BUY, "9", "1"))
    assert book.would_cross(Side.BUY, D("10"))
    assert not book.would_cross(Side.BUY, D("9.99"))
    assert book.would_cross(Side.SELL, D("9"))
    assert not book.would_cross(Side.SELL, D("9.01"))


def test_churn_behind_a_long_lived_head_keeps_queues_bounded() -> None:
    book = MatchingBook(MarketKind.SPOT, "T")
    head = entry(Side.SELL, "10", "5", "mm")
    book.asks.add(head)
    keep = entry(Side.SELL, "10", "1", "k")
    book.asks.add(keep)
    for i in range(2000):
        a, b = entry(Side.SELL, "10", "1", f"a{i}"), entry(Side.SELL, "10", "1", f"b{i}")
        book.asks.add(a)
        book.asks.add(b)
        book.cancel(a)  # in the middle: lazy
        book.cancel(b)  # at the tail: dropped at once
    queue = book.asks.queues[D("10")]
    assert len(queue) < 40
    assert book.asks.levels(1) == [(D("10"), D("6"))]
    book.fill(head, D("5"))
    assert book.asks.best_entry() is keep
