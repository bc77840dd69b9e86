"""PriceOracle: a stale, gapped, crossed or out-of-order book is never handed out as fresh."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arbitrage.errors import StaleData
from strategies.arbitrage.oracle import Freshness, OracleConfig, PriceOracle, PriceSource
from strategy_client.model import Exchange

from .builders import PERP, SPOT, book, funding

D = Decimal
MS = 1_000_000
T0 = 1_000_000_000_000


def good(seq: int, ts_ns: int) -> object:
    return book(PERP, [("100", "1")], [("101", "1")], ts_ns=ts_ns, seq=seq)


def test_freshness_verdicts() -> None:
    o = PriceOracle(OracleConfig(max_book_age_ms=1000))
    assert o.quote(PERP, T0).freshness is Freshness.MISSING
    assert o.on_book(book(PERP, [("100", "1")], [("101", "1")], ts_ns=T0, seq=5))
    assert o.quote(PERP, T0 + 1000 * MS).fresh
    too_old = o.quote(PERP, T0 + 1001 * MS)
    assert too_old.freshness is Freshness.TOO_OLD and too_old.book is not None
    with pytest.raises(StaleData, match="too_old"):
        o.book(PERP, T0 + 1001 * MS)
    # out of order and duplicate books are dropped and counted
    assert not o.on_book(book(PERP, [("1", "1")], [("2", "1")], ts_ns=T0 + MS, seq=4))
    assert not o.on_book(book(PERP, [("1", "1")], [("2", "1")], ts_ns=T0 + MS, seq=5))
    assert o.stats["books_out_of_order"] == 1 and o.stats["books_duplicate"] == 1
    assert o.book(PERP, T0).bids[0].price == D(100)
    # a gap makes it suspect until a newer book arrives
    o.on_gap(PERP, T0 + 2 * MS)
    assert o.quote(PERP, T0 + 2 * MS).freshness is Freshness.GAP
    assert o.on_book(book(PERP, [("100", "1")], [("101", "1")], ts_ns=T0 + 3 * MS, seq=6))
    assert o.quote(PERP, T0 + 3 * MS).fresh
    # venue-flagged stale, crossed and one-sided books
    o.on_book(book(PERP, [("100", "1")], [("101", "1")], ts_ns=T0 + 4 * MS, seq=7), venue_stale=True)
    assert o.quote(PERP, T0 + 4 * MS).freshness is Freshness.VENUE_STALE
    o.on_book(book(PERP, [("101", "1")], [("101", "1")], ts_ns=T0 + 5 * MS, seq=8))
    assert o.quote(PERP, T0 + 5 * MS).freshness is Freshness.CROSSED
    o.on_book(book(PERP, [], [("101", "1")], ts_ns=T0 + 6 * MS, seq=9))
    assert o.quote(PERP, T0 + 6 * MS).freshness is Freshness.ONE_SIDED


def test_stream_gap_and_resync() -> None:
    o = PriceOracle()
    o.on_book(book(PERP, [("100", "1")], [("101", "1")], ts_ns=T0, seq=10))
    o.on_book(book(SPOT, [("100", "1")], [("101", "1")], ts_ns=T0, seq=10))
    o.on_stream_gap(Exchange.BINANCE, T0 + MS)
    assert o.quote(PERP, T0 + MS).freshness is Freshness.GAP
    assert o.quote(SPOT, T0 + MS).freshness is Freshness.GAP
    # the runner's current book from a snapshot request clears the gap even if not newer
    assert o.on_book(book(PERP, [("100", "1")], [("101", "1")], ts_ns=T0, seq=10), resync=True)
    assert o.quote(PERP, T0 + MS).fresh
    assert not o.quote(SPOT, T0 + MS).fresh


def test_reference_prices() -> None:
    o = PriceOracle(OracleConfig(max_funding_age_ms=60_000))
    o.on_book(book(PERP, [("100", "1")], [("101", "1")], ts_ns=T0))
    assert o.reference(PERP, PriceSource.MID, T0).price == D("100.5")
    assert o.reference(PERP, PriceSource.BID, T0).price == D("100")
    assert o.reference(PERP, PriceSource.ASK, T0).price == D("101")
    with pytest.raises(StaleData, match="no funding rate"):
        o.reference(PERP, PriceSource.MARK, T0)
    o.on_funding(funding(PERP, "0.0001", mark="100.7"), T0)
    assert o.reference(PERP, PriceSource.MARK, T0 + 60_000 * MS).price == D("100.7")
    with pytest.raises(StaleData, match="too old"):
        o.reference(PERP, PriceSource.INDEX, T0 + 60_001 * MS)
    assert o.funding_or_none(PERP, T0 + 60_001 * MS) is None


ops = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(0, 30), st.integers(0, 3_000)),  # seq, receive offset (ms)
        st.tuples(st.just("gap"), st.integers(0, 3_000), st.just(0)),
        st.tuples(st.just("resync"), st.integers(0, 30), st.integers(0, 3_000)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(ops, st.integers(0, 6_000))
def test_never_returns_a_stale_book_as_fresh(operations: list[tuple[str, int, int]], now_ms: int) -> None:
    """Model check: a fresh book is the newest accepted one, young enough, and no gap since."""
    o = PriceOracle(OracleConfig(max_book_age_ms=1000))
    held: tuple[int, int] | None = None  # (seq, ts_ms) of the book the model holds
    gapped = False
    for kind, a, b in operations:
        if kind == "gap":
            o.on_gap(PERP, T0 + a * MS)
            gapped = gapped or held is not None
        else:
            seq, ts = a, b
            accepted = o.on_book(good(seq, T0 + ts * MS), resync=(kind == "resync"))  # type: ignore[arg-type]
            newer = held is None or kind == "resync" or (seq > held[0] if seq and held[0] else ts >= held[1])
            assert accepted == newer
            if accepted:
                held, gapped = (seq, ts), False
    quote = o.quote(PERP, T0 + now_ms * MS)
    if quote.fresh:
        assert held is not None and quote.book is not None
        assert (quote.book.sequence, quote.book.local_ts_ns) == (held[0], T0 + held[1] * MS)
        assert not gapped
        assert now_ms - held[1] <= 1000
    else:
        with pytest.raises(StaleData):
            o.book(PERP, T0 + now_ms * MS)
        assert held is None or gapped or now_ms - held[1] > 1000
