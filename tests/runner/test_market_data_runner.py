"""Trades, tickers and bars over a real runner on the offline Binance venue: the config's channels
pick what each instrument gets; events arrive on their own topics; get_bars and
get_quality_stats answer through the client's registry; a bad trade is dropped and counted."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from exchange_runner.bars import BarsConfig
from exchange_runner.config import RunnerConfig
from exchange_runner.metrics import RunnerMetrics
from exchange_runner.ports import free_port_pair
from exchange_runner.quality import QualityConfig
from exchange_runner.runner import ExchangeRunner
from recorder import BARS, TICKERS, TRADES, Recorder, RecorderConfig, open_channel
from strategy_client.model import BarSource, InstrumentKey, OrderRequest, OrderType, Side, Trade
from strategy_client.router import ZmqRouter
from strategy_client.wire import (
    BarEvent,
    BookEvent,
    GetBars,
    GetQualityStats,
    RunnerStatusEvent,
    TickerEvent,
    TradeEvent,
)
from tests.helpers import eventually
from tests.integration.rawsub import Sub

from .inprocess import in_process_runner

PERP = InstrumentKey.parse("binance:perp:BTCUSDT")
SPOT = InstrumentKey.parse("binance:spot:BTCUSDT")
ETH = InstrumentKey.parse("binance:perp:ETHUSDT")


@pytest.fixture()
async def runner(redis_url: str) -> AsyncIterator[ExchangeRunner]:
    cfg = RunnerConfig(
        redis_url=redis_url,
        name=f"mdata-{os.getpid()}",
        symbols=["BTCUSDT", "ETHUSDT"],
        sim_port_base=free_port_pair(),
        instrument_channels={"perp:BTCUSDT": ["trades", "tickers", "bars"], "spot:BTCUSDT": ["bars", "depth"]},
        bars=BarsConfig(intervals_s=[1], sma=[2], ema=[3], grace_ms=200),
        quality=QualityConfig(burst_rejects=3),
        journal="off",
    )
    async with in_process_runner(cfg) as r:
        yield r


async def test_trades_tickers_and_bars_on_their_topics(runner: ExchangeRunner, redis_url: str, tmp_path: Path) -> None:
    sub = Sub(runner.pub_endpoint)
    router = ZmqRouter(redis_url)
    recorder = Recorder(RecorderConfig(out=str(tmp_path), redis_url=redis_url, runners=(runner.config.name,)))
    stop = asyncio.Event()
    recording = asyncio.create_task(recorder.run(stop))
    try:
        await asyncio.wait_for(recorder.ready.wait(), 10)
        await eventually(lambda: sub.of(BookEvent), timeout=15, what="books reach the subscriber")
        await eventually(lambda: recorder.buffered > 0, timeout=15, what="books reach the recorder")
        await runner.adapter.place_order(
            OrderRequest(key=PERP, side=Side.BUY, type=OrderType.MARKET, qty=Decimal("0.01"))
        )
        trades = await eventually(lambda: sub.of(TradeEvent), timeout=15, what="a public trade")
        tickers = await eventually(lambda: sub.of(TickerEvent), timeout=15, what="a 24 h ticker")
        bars = await eventually(
            lambda: {e.bar.key: e for e in sub.of(BarEvent) if isinstance(e, BarEvent)}.keys() >= {PERP, SPOT} or None,
            timeout=15,
            what="trade bars of the perp and mid bars of the spot",
        )
        assert bars
        trade = trades[0]
        assert isinstance(trade, TradeEvent) and trade.trade.key == PERP and trade.trade.side is Side.BUY
        assert all(isinstance(t, TickerEvent) and t.ticker.key == PERP for t in tickers)  # only the perp asked
        topics = {topic for topic, _, _ in sub.events}
        assert b"trade|binance|perp|BTCUSDT|" in topics and b"tick|binance|perp|BTCUSDT|" in topics
        assert not any(t.startswith((b"trade|", b"tick|", b"bar|")) and b"ETHUSDT" in t for t in topics)
        # the spot book is kept full-depth (the depth channel: 20 levels), the perp's is the top-5 stream
        depth = {len(e.book.bids) for e in sub.of(BookEvent) if isinstance(e, BookEvent) and e.book.key == SPOT}
        top5 = {len(e.book.bids) for e in sub.of(BookEvent) if isinstance(e, BookEvent) and e.book.key == PERP}
        assert depth == {20} and top5 == {5} and runner.stream_messages["depth"] > 0
        by_source = {e.bar.source for e in sub.of(BarEvent) if isinstance(e, BarEvent)}
        assert by_source == {BarSource.TRADES, BarSource.MID}

        await router.start(wait_for=[runner.exchange])
        got = await router.request(GetBars(key=PERP, interval_s=1, limit=10))
        assert got.bars and all(b.key == PERP and b.interval_s == 1 for b in got.bars)
        traded = [b for b in got.bars if b.trades]
        assert traded and traded[0].volume == Decimal("0.01") and traded[0].vwap == trade.trade.price
        assert [a.window for a in got.averages] == [2, 3]

        # a trade that repeats an id is dropped, counted by instrument and check
        dup = Trade(
            key=PERP,
            trade_id=trade.trade.trade_id,
            price=trade.trade.price,
            qty=Decimal("1"),
            side=Side.SELL,
            venue_ts_ms=time.time_ns() // 1_000_000,
        )
        published = len(sub.of(TradeEvent))
        runner.market.feed.put_nowait(dup)
        stats = await eventually(lambda: _rejected(runner), timeout=5, what="the duplicate trade counted")
        assert stats == 1 and len(sub.of(TradeEvent)) == published
        reply = await router.request(GetQualityStats(exchange=runner.exchange))
        assert any(
            r.key == PERP and r.item == "trade" and r.check == "duplicate" and r.count == 1
            for r in reply.stats.rejected
        )
        assert reply.stats.checked["book"] > 0 and reply.stats.thresholds["max_deviation_bps"] == "500.0"

        # a burst of rejections (3 here) is a warning in the runner's status; Prometheus counts them
        for _ in range(3):
            runner.market.feed.put_nowait(dup)

        def burst() -> list[str]:
            return [
                line
                for e in sub.of(RunnerStatusEvent)
                if isinstance(e, RunnerStatusEvent)
                for line in e.warnings
                if f"of {PERP} rejected in the last 10s" in line
            ]

        warned = await eventually(burst, timeout=5, what="a status event with the burst")
        assert warned[0].startswith("quality: ") and int(warned[0].split()[1]) >= 4  # (books may add some)
        scrape = generate_latest(RunnerMetrics(runner, process_metrics=False).registry).decode()
        assert (
            'tradebus_quality_rejected_total{check="duplicate",instrument="binance:perp:BTCUSDT",item="trade"} 4.0'
            in scrape
        )

        # the recorder wrote the new channels (what it received by now)
        stop.set()
        await asyncio.wait_for(recording, 20)
        recorded = open_channel(str(tmp_path), TRADES).to_table().to_pylist()
        assert any(r["trade_id"] == trade.trade.trade_id and Decimal(r["price"]) == trade.trade.price for r in recorded)
        assert open_channel(str(tmp_path), TICKERS).to_table().num_rows >= 1
        assert {r["source"] for r in open_channel(str(tmp_path), BARS).to_table().to_pylist()} == {"trades", "mid"}
    finally:
        stop.set()
        await asyncio.gather(recording, return_exceptions=True)
        await router.close()
        await sub.close()


def _rejected(runner: ExchangeRunner) -> int:
    return runner.market.quality.rejected[(PERP, "trade", "duplicate")]
