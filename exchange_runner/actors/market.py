"""MarketDataManager: public trades, 24 h tickers and bars (docs/market-data.md).

Consumes one drop-oldest feed (market data: under overload the oldest items go, counted in
``dropped``) of what the adapter pushes — trades and tickers — and of the books the price actor
hands over for instruments whose bars are mid bars. Each trade and ticker passes the runner's
quality control (:mod:`exchange_runner.quality`, shared with the price actor, which checks the
books) or is dropped; what passes is published (``trade|…``, ``tick|…``) and trades go into the
bars (:mod:`exchange_runner.bars`). Closed bars are published (``bar|…``) with their moving
averages and kept for ``get_bars``. A timer closes the bars of quiet instruments.

Answers ``get_bars`` and ``get_quality_stats``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from strategy_client.model import Exchange, InstrumentKey, OrderBook, Ticker, Trade
from strategy_client.wire import (
    BarEvent,
    BarsReply,
    GetBars,
    GetQualityStats,
    QualityRejects,
    QualityStats,
    QualityStatsReply,
    TickerEvent,
    TopicKind,
    TradeEvent,
)

from ..bars import BarAggregator, Closed
from ..bus import DropOldestQueue
from ..publisher import Publisher
from ..quality import QualityControl
from ..refusals import BadParams
from .base import Actor

__all__ = ["MarketDataManager", "MarketItem"]

MarketItem = Trade | Ticker | OrderBook
Msg = GetBars | GetQualityStats


class MarketDataManager(Actor[Msg]):
    ANSWERS = (GetBars, GetQualityStats)

    def __init__(
        self,
        exchange: Exchange,
        publisher: Publisher,
        quality: QualityControl,
        bars: BarAggregator | None,
        *,
        queue_size: int = 16_384,
        bar_tick_s: float = 0.5,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__("market")
        self.exchange = exchange
        self.publisher = publisher
        self.quality = quality
        self.bars = bars
        self.bar_tick_s = bar_tick_s
        self.wall_ns = wall_ns
        self.feed: DropOldestQueue[MarketItem] = DropOldestQueue(queue_size, name="market.feed")
        self.trades_in = 0
        self.tickers_in = 0
        self.bars_out = 0
        self.bar_ticks = 0  # runs of the bar timer

    def on_start(self) -> None:
        self.spawn(self._consume_feed(), "feed")
        if self.bars is not None:
            self.spawn(self._close_bars(), "bars")

    async def _consume_feed(self) -> None:
        feed = self.feed
        apply = self.apply
        while True:
            for item in await feed.get_batch():
                apply(item)

    def apply(self, item: MarketItem) -> None:
        """One item off the feed (also called directly by tests)."""
        now_ms = self.wall_ns() // 1_000_000
        if isinstance(item, Trade):
            self.trades_in += 1
            if self.quality.enabled and self.quality.check_trade(item, now_ms) is not None:
                return
            self.publisher.publish(TopicKind.TRADE, TradeEvent(trade=item), item.key)
            if self.bars is not None:
                self._publish_bars(self.bars.add_trade(item))
        elif isinstance(item, Ticker):
            self.tickers_in += 1
            if self.quality.enabled and self.quality.check_ticker(item, now_ms) is not None:
                return
            self.publisher.publish(TopicKind.TICKER, TickerEvent(ticker=item), item.key)
        elif self.bars is not None:  # a book the price actor accepted: its mid goes into mid bars
            mid = item.mid
            if mid is not None:
                ts = item.venue_ts_ms or item.local_ts_ns // 1_000_000 or now_ms
                self._publish_bars(self.bars.add_mid(item.key, mid, ts))

    def _publish_bars(self, closed: list[Closed]) -> None:
        for bar, averages in closed:
            self.bars_out += 1
            self.publisher.publish(TopicKind.BAR, BarEvent(bar=bar, averages=averages), bar.key)

    async def _close_bars(self) -> None:
        assert self.bars is not None
        while True:
            await asyncio.sleep(self.bar_tick_s)
            self.bar_ticks += 1
            # bars are in venue time: their ends are held against the venue's clock as we know it
            self._publish_bars(self.bars.close_due(self.wall_ns() // 1_000_000 + self.quality.clock_offset_ms))

    # -- inbox ---------------------------------------------------------------------------

    def _handle(self, msg: Msg) -> Any:
        if isinstance(msg, GetBars):
            return self._get_bars(msg)
        if isinstance(msg, GetQualityStats):
            return QualityStatsReply(stats=self.stats())
        raise TypeError(f"unexpected message {type(msg).__name__}")

    def _get_bars(self, msg: GetBars) -> BarsReply:
        if self.bars is None:
            raise BadParams("bars are off on this runner ([runner.bars] enabled = false)")
        got = self.bars.bars(msg.key, msg.interval_s, since_ms=msg.since_ms, limit=msg.limit)
        if got is None:
            have = self.bars.intervals(msg.key)
            if not have:
                raise BadParams(f"no bars for {msg.key}: its channels do not include bars")
            raise BadParams(f"no {msg.interval_s}s bars for {msg.key}; this runner makes {have} s bars")
        bars, averages = got
        return BarsReply(bars=bars, averages=averages)

    def stats(self) -> QualityStats:
        qc = self.quality
        now_ms = self.wall_ns() // 1_000_000
        return QualityStats(
            exchange=self.exchange,
            checked=qc.checked,
            rejected=tuple(
                QualityRejects(key, item, check, n) for (key, item, check), n in sorted(qc.rejected.items())
            ),
            rebased=qc.rebased,
            warnings=tuple(qc.warnings(now_ms)),
            thresholds=qc.config.describe(),
        )


def log_rejections(qc: QualityControl, keys: list[InstrumentKey]) -> None:
    """One line per instrument with rejections (the runner logs it at a stop)."""
    for key in keys:
        counts = {f"{item}:{check}": n for (k, item, check), n in qc.rejected.items() if k == key}
        if counts:
            logger.info("quality: {} rejected {}", key, counts)
