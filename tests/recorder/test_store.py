"""The recorder without processes: rows in, Parquet out (local and fsspec ``memory://``), exact
decimals, holes and resets in the gaps channel, the buffer bounds, day partitions, escaping."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import fsspec
import pytest

from recorder import ParquetStore, Recorder, RecorderConfig, StoreError, channel_files, open_channel
from recorder.rows import day_of, instrument_dir
from strategy_client import Received
from strategy_client.model import BookLevel, Exchange, FundingRate, InstrumentKey, MarketKind, OrderBook
from strategy_client.wire import BookEvent, FundingEvent, TopicKind, topic

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.BINANCE, "ETHUSDT", MarketKind.SPOT)
DAY_NS = 86_400 * 10**9
T0 = 1_796_601_600 * 10**9  # 2026-12-07 00:00:00 UTC


def received(kind: TopicKind, key: InstrumentKey, seq: int, ns: int, event: BookEvent | FundingEvent) -> Received:
    return Received(
        runner="bn",
        topic=topic(kind, key.exchange, key).decode(),
        kind=kind,
        exchange=key.exchange,
        key=key,
        seq=seq,
        sent_ns=ns,
        recv_ns=ns + 1,
        event=event,
    )


def book_item(key: InstrumentKey, seq: int, *, bid: str = "64250.10", ask: str = "64250.20", ns: int = T0) -> Received:
    book = OrderBook(
        key=key,
        bids=(BookLevel(Decimal(bid), Decimal("0.00000001")), BookLevel(Decimal("64250.00"), Decimal("12.5"))),
        asks=(BookLevel(Decimal(ask), Decimal("1E+3")),),
        venue_ts_ms=ns // 10**6,
        local_ts_ns=ns,
        sequence=1000 + seq,
    )
    return received(TopicKind.BOOK, key, seq, ns, BookEvent(book=book))


def funding_item(seq: int) -> Received:
    rate = FundingRate(
        key=PERP,
        rate=Decimal("0.00010000"),
        interval_ms=28_800_000,
        next_funding_ts_ms=T0 // 10**6 + 3_600_000,
        mark_price=Decimal("64250.123456789"),
        index_price=Decimal("64249.9"),
        ts_ms=T0 // 10**6,
    )
    return received(TopicKind.FUNDING, PERP, seq, T0, FundingEvent(funding=rate))


def recorder(out: str, **kw: int) -> Recorder:
    return Recorder(RecorderConfig(out=out, **kw))  # type: ignore[arg-type]


def test_decimals_round_trip_exactly_and_funding_is_recorded(tmp_path: Path) -> None:
    rec = recorder(str(tmp_path))
    rec.take(book_item(PERP, 1))
    rec.take(funding_item(1))
    rec.seal_all()
    rec.write_sealed()
    (row,) = open_channel(str(tmp_path), "book").to_table().to_pylist()
    assert row["bid_px"] == ["64250.10", "64250.00"] and row["bid_qty"] == ["1E-8", "12.5"]
    assert [Decimal(v) for v in row["bid_qty"]] == [Decimal("0.00000001"), Decimal("12.5")]
    assert Decimal(row["ask_qty"][0]) == Decimal("1000") and row["ask_px"] == ["64250.20"]
    assert (row["venue"], row["instrument"], row["channel"]) == ("binance", "perp.BTCUSDT", "book")
    assert (row["seq"], row["sequence"], row["sent_ns"], row["recv_ns"]) == (1, 1001, T0, T0 + 1)
    (f,) = open_channel(str(tmp_path), "funding").to_table().to_pylist()
    assert (f["rate"], f["mark_price"], f["index_price"]) == ("0.00010000", "64250.123456789", "64249.9")
    assert rec.stats.rows == 2 and rec.stats.files == 2 and rec.stats.bytes > 0


def test_holes_and_resets_go_to_the_gaps_channel(tmp_path: Path) -> None:
    rec = recorder(str(tmp_path))
    for seq in (1, 2, 5, 6, 1, 2):  # 3 and 4 lost; then the runner restarted
        rec.take(book_item(PERP, seq))
    rec.seal_all()
    rec.write_sealed()
    gaps = sorted(open_channel(str(tmp_path), "gaps").to_table().to_pylist(), key=lambda g: g["recv_ns"])
    assert [(g["reason"], g["expected"], g["received"], g["lost"]) for g in gaps] == [
        ("gap", 3, 5, 2),
        ("reset", 7, 1, 0),
    ]
    assert gaps[0]["on_channel"] == "book" and gaps[0]["topic"] == "ob|binance|perp|BTCUSDT|"
    assert rec.stats.gaps == 2 and rec.stats.lost == 2
    assert open_channel(str(tmp_path), "book").count_rows() == 6


def test_buffer_bounds(tmp_path: Path) -> None:
    rec = recorder(str(tmp_path), flush_rows=10, max_buffer_rows=15)
    for seq in range(1, 10):
        rec.take(book_item(PERP, seq))
    assert (rec.buffered, rec.sealed) == (9, 0)
    rec.take(book_item(PERP, 10))  # a full buffer is sealed
    assert (rec.buffered, rec.sealed) == (0, 1)
    for seq in range(1, 9):
        rec.take(book_item(PERP, 10 + seq))
        rec.take(book_item(SPOT, seq))
    # 16 rows would be over the bound: the largest buffer went to the writer early
    assert rec.buffered <= 15 and rec.sealed == 2
    rec.seal_all()
    rec.write_sealed()
    assert rec.stats.rows == 26 and rec.sealed == 0
    assert sorted(
        r["seq"] for r in open_channel(str(tmp_path), "book").to_table().to_pylist() if r["symbol"] == "BTCUSDT"
    ) == list(range(1, 19))


def test_memory_filesystem_url() -> None:
    url = f"memory://rec-{uuid.uuid4().hex[:8]}"
    rec = recorder(url)
    assert ParquetStore(url).open() == 0
    for seq in range(1, 4):
        rec.take(book_item(PERP, seq))
    rec.seal_all()
    rec.write_sealed()
    (path,) = channel_files(url, "book")
    assert "/venue=binance/instrument=perp.BTCUSDT/channel=book/date=2026-12-07/bn-" in path
    assert [r["seq"] for r in open_channel(url, "book").to_table().to_pylist()] == [1, 2, 3]
    fs = fsspec.filesystem("memory")
    fs.rm(url.removeprefix("memory://"), recursive=True)


def test_days_split_files_and_symbols_are_escaped(tmp_path: Path) -> None:
    odd = InstrumentKey(Exchange.OKX, "BTC/USDT", MarketKind.SPOT)
    assert instrument_dir(odd) == "spot.BTC%2FUSDT"
    assert day_of(T0) == "2026-12-07" and day_of(T0 - 1) == "2026-12-06"
    rec = recorder(str(tmp_path))
    rec.take(book_item(odd, 1, ns=T0 - 1))
    rec.take(book_item(odd, 2, ns=T0 + DAY_NS))
    rec.seal_all()
    rec.write_sealed()
    files = channel_files(str(tmp_path), "book")
    assert [Path(f).parent.name for f in files] == ["date=2026-12-06", "date=2026-12-08"]
    assert all(Path(f).parent.parent.parent.name == "instrument=spot.BTC%2FUSDT" for f in files)
    rows = open_channel(str(tmp_path), "book").to_table().to_pylist()
    assert {r["instrument"] for r in rows} == {"spot.BTC/USDT"} and {r["symbol"] for r in rows} == {"BTC/USDT"}


def test_store_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        ParquetStore(str(afile)).open()
    with pytest.raises(StoreError, match="Protocol not known"):
        ParquetStore("nosuch://x")
    with pytest.raises(ValueError, match="unknown channel"):
        channel_files(str(tmp_path), "orders")  # not market data: never recorded
