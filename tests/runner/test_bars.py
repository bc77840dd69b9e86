"""Bars and moving averages (exchange_runner/bars.py) against references computed independently
from the same trades: OHLCV, VWAP and trade counts by a pyarrow group-by, SMA/EMA by the
textbook formulas over the closes."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_runner.bars import BarAggregator, BarsConfig
from strategy_client.model import AverageKind, Bar, BarSource, InstrumentKey, Side, Trade

D = Decimal
KEY = InstrumentKey.parse("okx:spot:BTCUSDT")
T0 = 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000  # a UTC midnight


def _trades(rows: list[tuple[int, Decimal, Decimal, int]]) -> list[Trade]:
    return [
        Trade(key=KEY, trade_id=str(i), price=p, qty=q, side=Side.BUY, venue_ts_ms=ts, count=n)
        for i, (ts, p, q, n) in enumerate(rows)
    ]


def _reference(trades: list[Trade], interval_s: int) -> list[dict[str, object]]:
    ms = interval_s * 1000
    table = pa.table(
        {
            "bucket": [t.venue_ts_ms // ms * ms for t in trades],
            "seq": list(range(len(trades))),
            "price": pa.array([t.price for t in trades], pa.decimal128(38, 8)),
            "qty": pa.array([t.qty for t in trades], pa.decimal128(38, 8)),
            "notional": pa.array([t.price * t.qty for t in trades], pa.decimal128(38, 16)),
            "count": [t.count for t in trades],
        }
    )
    grouped = table.group_by("bucket", use_threads=False).aggregate(
        [
            ("seq", "min"),  # first / last: the price of the bucket's first / last trade
            ("price", "max"),
            ("price", "min"),
            ("seq", "max"),
            ("qty", "sum"),
            ("notional", "sum"),
            ("count", "sum"),
        ]
    )
    out = sorted(grouped.to_pylist(), key=lambda r: r["bucket"])  # type: ignore[arg-type,return-value]
    for r in out:
        r["price_first"] = trades[r["seq_min"]].price  # type: ignore[index]
        r["price_last"] = trades[r["seq_max"]].price  # type: ignore[index]
    return out  # type: ignore[return-value]


rows = st.lists(
    st.tuples(
        st.integers(0, 600_000),  # within 10 minutes
        st.decimals("90", "110", places=2),
        st.decimals("0.001", "5", places=3),
        st.integers(1, 4),
    ),
    min_size=1,
    max_size=150,
)


@settings(max_examples=50, deadline=None)
@given(raw=rows, interval_s=st.sampled_from([1, 5, 60, 300]))
def test_trade_bars_match_a_group_by_of_the_same_trades(
    raw: list[tuple[int, Decimal, Decimal, int]], interval_s: int
) -> None:
    raw.sort(key=lambda r: r[0])  # the venue's order: by time
    trades = _trades([(T0 + ts, p, q, n) for ts, p, q, n in raw])
    agg = BarAggregator(BarsConfig(intervals_s=[interval_s], sma=[], ema=[]), {KEY: BarSource.TRADES})
    closed: list[Bar] = []
    for t in trades:
        closed += [bar for bar, _ in agg.add_trade(t)]
    closed += [bar for bar, _ in agg.close_due(T0 + 10**9)]
    ref = _reference(trades, interval_s)
    assert [b.start_ms for b in closed] == [r["bucket"] for r in ref]
    for bar, r in zip(closed, ref, strict=True):
        assert (bar.open, bar.high, bar.low, bar.close) == (
            r["price_first"],
            r["price_max"],
            r["price_min"],
            r["price_last"],
        )
        assert bar.volume == r["qty_sum"] and bar.quote_volume == r["notional_sum"]
        assert bar.vwap == r["notional_sum"] / r["qty_sum"]  # type: ignore[operator]
        assert bar.trades == r["count_sum"] and bar.interval_s == interval_s and bar.source is BarSource.TRADES
    assert agg.bars(KEY, interval_s, limit=1000) == (tuple(closed), ())


@settings(max_examples=40, deadline=None)
@given(closes=st.lists(st.decimals("1", "1000", places=2), min_size=1, max_size=40), n=st.integers(1, 12))
def test_sma_and_ema_of_the_closes(closes: list[Decimal], n: int) -> None:
    agg = BarAggregator(BarsConfig(intervals_s=[1], sma=[n], ema=[n]), {KEY: BarSource.TRADES})
    got = []
    for i, c in enumerate(closes):  # one trade per second: each closes the previous bar
        for _bar, averages in agg.add_trade(_trades([(T0 + i * 1000, c, D(1), 1)])[0]):
            got.append(averages)
    got += [averages for _, averages in agg.close_due(T0 + 10**9)]
    assert len(got) == len(closes)
    ema: Decimal | None = None
    alpha = D(2) / (n + 1)
    for i, averages in enumerate(got):
        first, second = averages
        sma, ema_got = first.value, second.value
        assert (first.kind, first.window, second.kind, second.window) == (AverageKind.SMA, n, AverageKind.EMA, n)
        window = closes[max(0, i + 1 - n) : i + 1]
        assert sma == (sum(window, D(0)) / n if i + 1 >= n else None)
        if i + 1 == n:
            ema = sum(window, D(0)) / n
        elif i + 1 > n:
            assert ema is not None
            ema = ema + alpha * (closes[i] - ema)
        assert ema_got == ema


def test_mid_bars_late_items_and_the_timer() -> None:
    agg = BarAggregator(BarsConfig(intervals_s=[1, 60], sma=[2], ema=[], grace_ms=500), {KEY: BarSource.MID})
    assert agg.add_trade(_trades([(T0, D(1), D(1), 1)])[0]) == []  # a mid-bar instrument ignores trades
    assert agg.add_mid(KEY, D("100.5"), T0 + 100) == []
    assert agg.add_mid(KEY, D("101"), T0 + 900) == []
    assert agg.close_due(T0 + 1_400) == []  # within the grace
    ((bar, averages),) = agg.close_due(T0 + 1_500)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades) == (
        D("100.5"),
        D("101"),
        D("100.5"),
        D("101"),
        D(0),
        None,
        0,
    )
    assert bar.source is BarSource.MID and averages[0].value is None  # SMA(2) needs two closes
    assert agg.add_mid(KEY, D("99"), T0 + 999) == [] and agg.late == 1  # its 1 s bar has closed
    assert agg.bars(KEY, 1) == ((bar,), averages) and agg.bars(KEY, 5) is None
