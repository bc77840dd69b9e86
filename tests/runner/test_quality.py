"""Quality control (exchange_runner/quality.py): each check rejects what it should and passes what
it should (hypothesis), rejections are counted by instrument, item and check, runs of rejections
rebase, bursts warn."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_runner.quality import QualityConfig, QualityControl
from strategy_client.model import BookLevel, InstrumentKey, OrderBook, Side, Ticker, Trade

D = Decimal
KEY = InstrumentKey.parse("binance:perp:BTCUSDT")
NOW = 1_800_000_000_000
OFF = {"max_deviation_bps": 0.0, "zscore_max": 0.0}  # price checks off: one check at a time

FAST = settings(max_examples=60, deadline=None)


def book(bid: str | Decimal, ask: str | Decimal, seq: int, ts: int = NOW, qty: str = "1") -> OrderBook:
    return OrderBook(
        key=KEY,
        bids=(BookLevel(D(bid), D(qty)),),
        asks=(BookLevel(D(ask), D(qty)),),
        venue_ts_ms=ts,
        local_ts_ns=0,
        sequence=seq,
    )


def trade(tid: str, price: str | Decimal = "100", ts: int = NOW, qty: str = "1") -> Trade:
    return Trade(key=KEY, trade_id=tid, price=D(price), qty=D(qty), side=Side.BUY, venue_ts_ms=ts)


def qc(**kw: object) -> QualityControl:
    return QualityControl(QualityConfig(**kw))  # type: ignore[arg-type]


@FAST
@given(ahead=st.integers(1, 10**9), within=st.integers(0, 5_000))
def test_future_timestamps(ahead: int, within: int) -> None:
    q = qc(**OFF)
    assert q.check_book(book("99", "101", 1, ts=NOW + 5_000 + ahead), NOW) == "future"
    assert q.check_trade(trade("1", ts=NOW + 5_000 + ahead), NOW) == "future"
    assert q.check_book(book("99", "101", 2, ts=NOW + 5_000 - within), NOW) is None
    assert q.rejected[(KEY, "book", "future")] == 1 and q.rejected[(KEY, "trade", "future")] == 1


@FAST
@given(behind=st.integers(1, 10**9), within=st.integers(0, 60_000))
def test_stale_timestamps_and_the_bound_off(behind: int, within: int) -> None:
    q = qc(**OFF)
    assert q.check_book(book("99", "101", 1, ts=NOW - 60_000 - behind), NOW) == "stale"
    assert q.check_book(book("99", "101", 2, ts=NOW - within), NOW) is None
    assert qc(max_age_ms=0, **OFF).check_book(book("99", "101", 1, ts=NOW - 60_000 - behind), NOW) is None
    assert q.check_book(book("99", "101", 3, ts=0), NOW) is None  # no venue time: not checked


@FAST
@given(first=st.integers(2, 10**12), back=st.integers(1, 10**6), forward=st.integers(1, 10**6))
def test_book_sequence_out_of_order_duplicate_and_forward(first: int, back: int, forward: int) -> None:
    q = qc(**OFF)
    assert q.check_book(book("99", "101", first), NOW) is None
    assert q.check_book(book("99", "101", max(1, first - back)), NOW) == "out_of_order"
    assert q.check_book(book("99", "101", first, qty="2"), NOW) == "duplicate"  # same id, other levels
    assert q.check_book(book("99", "101", first), NOW) is None  # the held book re-sent: a refresh
    assert q.check_book(book("99", "101", first + forward), NOW) is None


@FAST
@given(bid=st.decimals("0.01", "100000", places=2), gap=st.decimals("0", "1000", places=2))
def test_crossed_books_are_rejected_and_ordered_ones_pass(bid: Decimal, gap: Decimal) -> None:
    q = qc(**OFF)
    assert q.check_book(book(bid, bid - gap, 1), NOW) == "crossed"  # bid ≥ ask
    assert q.check_book(book(bid, bid + gap + D("0.01"), 2), NOW) is None


@FAST
@given(bad=st.decimals("-1000", "0", places=3))
def test_range_non_positive_prices_and_sizes(bad: Decimal) -> None:
    q = qc(**OFF)
    assert q.check_book(book("99", "101", 1, qty=str(bad)), NOW) == "range"
    assert q.check_trade(trade("1", price=bad), NOW) == "range"
    assert q.check_trade(trade("2", qty=str(bad)), NOW) == "range"
    assert q.check_ticker(Ticker(key=KEY, last=bad, venue_ts_ms=NOW), NOW) == "range"


@FAST
@given(spread_bps=st.floats(0.5, 500))
def test_range_spread_bound(spread_bps: float) -> None:
    q = qc(max_spread_bps=10.0, **OFF)
    ask = D(100) * (1 + D(spread_bps) / 10_000)
    verdict = q.check_book(book("100", ask.quantize(D("0.000001")), 1), NOW)
    mid = (100 + float(ask)) / 2
    assert (verdict == "range") == ((float(ask) - 100) * 10_000 > 10.0 * mid)


@FAST
@given(dev_bps=st.floats(-3_000, 3_000).filter(lambda x: abs(abs(x) - 500) > 1))
def test_deviation_from_the_reference_mid(dev_bps: float) -> None:
    q = qc(zscore_max=0.0)
    assert q.check_book(book("99.99", "100.01", 1), NOW) is None  # the reference: mid 100
    mid = D(100) * (1 + D(dev_bps) / 10_000)
    half = D("0.01")
    verdict = q.check_book(book(mid - half, mid + half, 2), NOW + 10)
    assert verdict == ("deviation" if abs(dev_bps) > 500 else None)
    # trades are held against the same reference
    assert q.check_trade(trade("7", price=mid.quantize(D("0.0001"))), NOW + 20) == (
        "deviation" if abs(dev_bps) > 500 and verdict else None
    )


def test_deviation_reference_ages_out() -> None:
    q = qc(zscore_max=0.0, reference_max_age_ms=1_000)
    assert q.check_book(book("99.99", "100.01", 1), NOW) is None
    assert q.check_book(book("199.99", "200.01", 2, ts=NOW + 2_000), NOW + 2_000) is None  # old reference


@FAST
@given(
    returns=st.lists(st.floats(-5, 5), min_size=60, max_size=120),
    k=st.floats(0, 40).filter(lambda x: abs(x - 10) > 0.01),
)
def test_zscore_of_the_return_against_the_rolling_window(returns: list[float], k: float) -> None:
    q = qc(max_deviation_bps=0.0, zscore_window=100, zscore_min_samples=50, zscore_floor_bps=1.0)
    mid = 100.0
    seq = 1
    taken: list[float] = []
    for r in returns:
        new = mid * math.exp(r / 10_000)
        b = D(repr(round(new, 6)))
        got = q.check_book(book(b - D("0.000001"), b + D("0.000001"), seq), NOW)
        seq += 1
        if got is None:
            real = math.log(float(b) / mid) * 10_000
            taken.append(real)
            mid = float(b)
    window = taken[-100:]
    mean = sum(window) / len(window)
    std = max(math.sqrt(max(sum(x * x for x in window) / len(window) - mean * mean, 0.0)), 1.0)
    r = mean + k * std
    new = mid * math.exp(r / 10_000)
    b = D(repr(round(new, 6)))
    real = math.log(float(b) / mid) * 10_000
    z = abs(real - mean) / std
    verdict = q.check_book(book(b - D("0.000001"), b + D("0.000001"), seq), NOW)
    if abs(z - 10) > 0.05:  # away from the edge (rounding to 6 places)
        assert verdict == ("zscore" if z > 10 else None), (z, verdict)


def test_zscore_needs_its_minimum_samples_and_a_floor() -> None:
    q = qc(max_deviation_bps=0.0, zscore_min_samples=50)
    for i in range(60):  # a quiet book: every return 0
        assert q.check_book(book("99.99", "100.01", i + 1), NOW) is None
    assert q.check_book(book("100.04", "100.06", 61), NOW) is None  # 5 bps: floor 1 bp → z = 5
    assert q.check_book(book("100.19", "100.21", 62), NOW) == "zscore"  # ~15 bps


def test_runs_of_rejections_rebase_so_an_instrument_is_never_locked_out() -> None:
    q = qc(zscore_max=0.0, rebase_after=3)
    assert q.check_book(book("99.99", "100.01", 1), NOW) is None
    assert q.check_book(book("149.99", "150.01", 2), NOW) == "deviation"
    assert q.check_book(book("149.99", "150.01", 3), NOW) == "deviation"
    assert q.check_book(book("149.99", "150.01", 4), NOW) is None  # the third in a row: the new level
    assert q.check_book(book("150.00", "150.02", 5), NOW) is None
    assert q.rebased == 1 and q.rejected[(KEY, "book", "deviation")] == 2
    # a venue that restarted its ids (sequence back to 1) is taken after the run as well
    for seq in (1, 2):
        assert q.check_book(book("150.00", "150.02", seq), NOW) == "out_of_order"
    assert q.check_book(book("150.00", "150.02", 3), NOW) is None
    assert q.check_book(book("150.00", "150.02", 4), NOW) is None


@FAST
@given(ids=st.lists(st.integers(0, 10**9), min_size=2, max_size=30, unique=True))
def test_trade_ids_numeric_order_and_duplicates(ids: list[int]) -> None:
    q = qc(**OFF)
    ids.sort()
    for i in ids:
        assert q.check_trade(trade(str(i)), NOW) is None
    assert q.check_trade(trade(str(ids[-1])), NOW) == "duplicate"
    assert q.check_trade(trade(str(ids[0])), NOW) == "out_of_order"


@FAST
@given(ids=st.lists(st.uuids(), min_size=1, max_size=20, unique=True))
def test_trade_ids_non_numeric_duplicates_and_time_order(ids: list[object]) -> None:
    q = qc(**OFF)
    for n, uid in enumerate(ids):
        assert q.check_trade(trade(str(uid), ts=NOW + n), NOW + 100) is None
    assert q.check_trade(trade(str(ids[0]), ts=NOW + 50), NOW + 100) == "duplicate"
    assert q.check_trade(trade("x-new", ts=NOW - 1), NOW + 100) == "out_of_order"


def _ticker(ts: int, *, last: str = "100", bid: str | None = None, ask: str | None = None, **kw: str) -> Ticker:
    return Ticker(
        key=KEY,
        last=D(last),
        bid=D(bid) if bid else None,
        ask=D(ask) if ask else None,
        venue_ts_ms=ts,
        **{k: D(v) for k, v in kw.items()},  # type: ignore[arg-type]
    )


@FAST
@given(bid=st.decimals("1", "1000", places=2), gap=st.decimals("0", "10", places=2))
def test_tickers_crossed_range_order(bid: Decimal, gap: Decimal) -> None:
    q = qc(**OFF)
    assert q.check_ticker(_ticker(NOW, bid=str(bid), ask=str(bid - gap)), NOW) == "crossed"
    assert q.check_ticker(_ticker(NOW, high_24h="90", low_24h="110"), NOW) == "range"
    assert q.check_ticker(_ticker(NOW, bid=str(bid), ask=str(bid + gap + 1), high_24h="110", low_24h="90"), NOW) is None
    assert q.check_ticker(_ticker(NOW), NOW) == "duplicate"
    assert q.check_ticker(_ticker(NOW - 1), NOW) == "out_of_order"
    assert q.check_ticker(_ticker(NOW + 1000), NOW) is None


def test_rejections_counted_and_a_burst_warns_until_its_window_passes() -> None:
    q = qc(burst_rejects=5, burst_window_s=10.0, **OFF)
    q.check_book(book("99", "101", 10), NOW)
    for _ in range(5):
        assert q.check_book(book("99", "101", 10, qty="3"), NOW) == "duplicate"
    assert q.rejected[(KEY, "book", "duplicate")] == 5 and q.checked["book"] == 6
    assert q.warnings(NOW + 1) == [f"quality: 5 items of {KEY} rejected in the last 10s"]
    assert q.warnings(NOW + 11_000) == []


def test_times_are_held_against_the_venue_clock_not_a_skewed_host() -> None:
    q = qc(**OFF)
    venue_now = NOW + 90_000  # the host clock is 90 s behind the venue
    assert q.check_book(book("99", "101", 1, ts=venue_now), NOW) == "future"
    q.clock_offset_ms = 90_000  # what the adapter measured
    assert q.check_book(book("99", "101", 2, ts=venue_now), NOW) is None
    assert q.check_trade(trade("1", ts=venue_now - 1_000), NOW) is None
    assert q.check_book(book("99", "101", 3, ts=NOW), NOW) == "stale"  # 90 s behind the venue
