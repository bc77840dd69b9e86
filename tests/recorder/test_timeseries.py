"""``record --timeseries``: trades and bars upserted into the machine's real PostgreSQL (a schema
of the test's own, dropped after), exactly and once however often a buffer is written."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from recorder import BARS, TRADES, Recorder, RecorderConfig, TimeseriesError, TimeseriesSink
from strategy_client.model import Bar, BarSource, Side, Trade
from strategy_client.wire import BarEvent, TopicKind, TradeEvent

from ..integration.conftest import ROOT
from ..journal.conftest import PG_URL, drop_schema, pg_reachable
from .test_market_channels import KEY, _received

D = Decimal
START_MS = 1_800_000_000_000


@pytest.fixture
def schema() -> Iterator[str]:
    why = pg_reachable()
    if why:
        pytest.skip(why)
    name = f"tbts_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        drop_schema(name)


def _trade(i: int) -> Trade:
    return Trade(
        key=KEY,
        trade_id=f"t-{i}",
        price=D("64210.50") + i,
        qty=D("0.0010"),
        side=Side.BUY if i % 2 else Side.SELL,
        venue_ts_ms=START_MS + i,
        count=1,
    )


def _bar(close: str) -> Bar:
    return Bar(
        key=KEY,
        interval_s=60,
        start_ms=START_MS,
        source=BarSource.TRADES,
        open=D("1.10"),
        high=D("1.30"),
        low=D("1.00"),
        close=D(close),
        volume=D("3"),
        quote_volume=D("3.45"),
        vwap=D("1.15"),
        trades=7,
    )


def _record(url: str, out: Path, trades: list[int], close: str) -> Recorder:
    rec = Recorder(RecorderConfig(out=str(out), timeseries=url))
    rec.store.open()
    assert rec.timeseries is not None
    rec.timeseries.open()
    for seq, i in enumerate(trades, start=1):
        rec.take(_received(TopicKind.TRADE, seq, TradeEvent(trade=_trade(i))))
    rec.take(_received(TopicKind.BAR, 1, BarEvent(bar=_bar(close), averages=())))
    rec.seal_all()
    rec.write_sealed()  # Parquet first; then the same buffers to PostgreSQL
    rec.write_timeseries()
    rec.timeseries.close()
    return rec


def _rows(schema: str, table: str) -> list[tuple[object, ...]]:
    with psycopg.connect(PG_URL) as conn:
        return conn.execute(f'SELECT * FROM "{schema}".{table} ORDER BY 1, 2, 3, 4').fetchall()


def test_trades_and_bars_are_upserted_exactly_once(schema: str, tmp_path: Path) -> None:
    url = f"{PG_URL}?schema={schema}"
    rec = _record(url, tmp_path / "a", [0, 1, 2], close="1.20")
    assert rec.stats.timeseries_rows == 4 and rec.timeseries_pending == 0
    trades = _rows(schema, "md_trades")
    assert [(r[3], r[5], r[6], r[7]) for r in trades] == [
        ("t-0", D("64210.50"), D("0.0010"), "sell"),
        ("t-1", D("64211.50"), D("0.0010"), "buy"),
        ("t-2", D("64212.50"), D("0.0010"), "sell"),
    ]
    assert trades[0][4] == datetime.fromtimestamp(START_MS / 1000, UTC)  # the venue's time, indexed
    assert trades[0][:3] == ("bybit", "perp", "BTCUSDT")
    # a second recorder (a restart, or a buffer sent again) with one trade seen before and one new,
    # and the bar closed at another price: one row per trade, the bar's latest values
    _record(url, tmp_path / "b", [2, 3], close="1.25")
    assert [r[3] for r in _rows(schema, "md_trades")] == ["t-0", "t-1", "t-2", "t-3"]
    bars = _rows(schema, "md_bars")
    assert len(bars) == 1
    assert bars[0][3:10] == (
        60,
        datetime.fromtimestamp(START_MS / 1000, UTC),
        "trades",
        D("1.10"),
        D("1.30"),
        D("1.00"),
        D("1.25"),
    )


def test_a_newer_layout_is_refused_with_one_line(schema: str) -> None:
    TimeseriesSink(f"{PG_URL}?schema={schema}").open()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".md_schema SET version = 99')
    sink = TimeseriesSink(f"{PG_URL}?schema={schema}")
    with pytest.raises(TimeseriesError, match="layout 99, newer than this recorder's 1"):
        sink.open()


def test_an_unreachable_database_keeps_the_rows_pending_and_a_full_backlog_drops_the_oldest(tmp_path: Path) -> None:
    rec = Recorder(
        RecorderConfig(out=str(tmp_path), timeseries="postgresql://127.0.0.1:1/none", max_timeseries_pending=1)
    )
    rec.store.open()
    for seq, i in enumerate([0, 1], start=1):
        rec.take(_received(TopicKind.TRADE, seq, TradeEvent(trade=_trade(i))))
    rec.take(_received(TopicKind.BAR, 1, BarEvent(bar=_bar("1.2"), averages=())))
    rec.seal_all()
    rec.write_sealed()  # two buffers (trades, bars) written to Parquet; one place for PostgreSQL
    assert rec.stats.by_channel == {TRADES: 2, BARS: 1}
    assert rec.stats.timeseries_dropped == 2 and rec.timeseries_pending == 1
    with pytest.raises(TimeseriesError, match="cannot reach the timeseries database"):
        rec.write_timeseries()
    assert rec.timeseries_pending == 1  # still there for the next try


def test_the_cli_refuses_a_bad_timeseries_url_in_one_line(tmp_path: Path) -> None:
    for url, said in (
        ("mysql://127.0.0.1/x", "takes a postgresql:// URL"),
        ("postgresql://127.0.0.1:1/none", "cannot reach the timeseries database"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "recorder.cli", "--out", str(tmp_path), "--timeseries", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("record: error:") and said in lines[0]
