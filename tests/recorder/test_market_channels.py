"""The recorder's trades, tickers and bars channels: each event is one row, decimals come back
digit for digit, a hole in a topic's numbers is a gaps row naming the channel."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from recorder import BARS, TICKERS, TRADES, Recorder, RecorderConfig, open_channel
from strategy_client import Received
from strategy_client.model import (
    AverageKind,
    Bar,
    BarSource,
    Exchange,
    InstrumentKey,
    MovingAverage,
    Side,
    Ticker,
    Trade,
)
from strategy_client.wire import BarEvent, Event, TickerEvent, TopicKind, TradeEvent, topic

D = Decimal
KEY = InstrumentKey.parse("bybit:perp:BTCUSDT")
NOW_NS = time.time_ns()


def _received(kind: TopicKind, seq: int, event: Event) -> Received:
    return Received(
        runner="bybit",
        topic=topic(kind, Exchange.BYBIT, KEY).decode(),
        kind=kind,
        exchange=Exchange.BYBIT,
        key=KEY,
        seq=seq,
        sent_ns=NOW_NS + seq,
        recv_ns=NOW_NS + seq + 1,
        event=event,
    )


def test_trades_tickers_and_bars_are_recorded_exactly(tmp_path: Path) -> None:
    rec = Recorder(RecorderConfig(out=str(tmp_path)))
    rec.store.open()
    trades = [
        Trade(
            key=KEY,
            trade_id=f"a1b2-{i}",
            price=D("64210.50") + i,
            qty=D("0.0010"),
            side=Side.SELL,
            venue_ts_ms=NOW_NS // 10**6,
            count=2,
        )
        for i in range(3)
    ]
    for i, t in enumerate(trades):
        rec.take(_received(TopicKind.TRADE, i + 1 if i < 2 else 5, TradeEvent(trade=t)))  # seq 3, 4 lost
    ticker = Ticker(key=KEY, last=D("64210.5"), high_24h=D("65000"), low_24h=D("63000.10"), volume_24h=D("12.5"))
    rec.take(_received(TopicKind.TICKER, 1, TickerEvent(ticker=ticker)))
    bar = Bar(
        key=KEY,
        interval_s=60,
        start_ms=1_800_000_000_000,
        source=BarSource.TRADES,
        open=D("1.10"),
        high=D("1.30"),
        low=D("1.00"),
        close=D("1.20"),
        volume=D("3"),
        quote_volume=D("3.45"),
        vwap=D("1.15"),
        trades=7,
    )
    averages = (MovingAverage(AverageKind.SMA, 20, None), MovingAverage(AverageKind.EMA, 5, D("1.1234")))
    rec.take(_received(TopicKind.BAR, 1, BarEvent(bar=bar, averages=averages)))
    rec.seal_all()
    rec.write_sealed()

    rows = open_channel(str(tmp_path), TRADES).to_table().sort_by("seq").to_pylist()
    assert [(r["seq"], r["trade_id"], D(r["price"]), r["qty"], r["side"], r["count"]) for r in rows] == [
        (1, "a1b2-0", D("64210.50"), "0.0010", "sell", 2),
        (2, "a1b2-1", D("64211.50"), "0.0010", "sell", 2),
        (5, "a1b2-2", D("64212.50"), "0.0010", "sell", 2),
    ]
    assert rows[0]["venue"] == "bybit" and rows[0]["instrument"] == "perp.BTCUSDT" and rows[0]["channel"] == "trades"
    (t,) = open_channel(str(tmp_path), TICKERS).to_table().to_pylist()
    assert (t["last"], t["high_24h"], t["low_24h"], t["volume_24h"], t["bid"], t["open_24h"]) == (
        "64210.5",
        "65000",
        "63000.10",
        "12.5",
        None,
        None,
    )
    (b,) = open_channel(str(tmp_path), BARS).to_table().to_pylist()
    assert (b["interval_s"], b["source"], b["open"], b["close"], b["vwap"], b["trades"]) == (
        60,
        "trades",
        "1.10",
        "1.20",
        "1.15",
        7,
    )
    assert b["averages"] == [
        {"kind": "sma", "window": 20, "value": None},
        {"kind": "ema", "window": 5, "value": "1.1234"},
    ]
    (gap,) = open_channel(str(tmp_path), "gaps").to_table().to_pylist()
    assert (gap["on_channel"], gap["expected"], gap["received"], gap["lost"]) == ("trades", 3, 5, 2)
