from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from strategy_client.model import BookLevel, Exchange, InstrumentKey, MarketKind, OrderBook, Side, walk_book

KEY = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)
D = Decimal


def book() -> OrderBook:
    return OrderBook(
        key=KEY,
        bids=(BookLevel(D("100"), D("1")), BookLevel(D("99"), D("2"))),
        asks=(BookLevel(D("101"), D("1")), BookLevel(D("102"), D("3"))),
        venue_ts_ms=1,
        local_ts_ns=2,
        sequence=3,
    )


def test_walk_buys_through_levels() -> None:
    w = book().walk(Side.BUY, D("2"))
    assert w.avg_price == D("101.5")
    assert w.worst_price == D("102")
    assert w.complete


def test_walk_too_thin_has_no_average() -> None:
    w = book().walk(Side.SELL, D("4"))
    assert w.filled == D("3")
    assert w.avg_price is None and not w.complete


def test_mid_and_spread() -> None:
    b = book()
    assert b.mid == D("100.5") and b.spread == D("1")


levels = st.lists(
    st.tuples(st.integers(1, 10_000), st.integers(1, 1000)), min_size=1, max_size=10, unique_by=lambda t: t[0]
)


@given(levels, st.integers(1, 5000))
def test_walk_average_between_best_and_worst(raw: list[tuple[int, int]], want: int) -> None:
    lv = tuple(BookLevel(D(p), D(q)) for p, q in sorted(raw))
    w = walk_book(lv, D(want))
    assert w.filled <= D(want)
    if w.avg_price is not None:
        assert lv[0].price <= w.avg_price <= (w.worst_price or lv[0].price)
        assert w.filled == D(want)
