"""The market actor alone (real actor, a recording publisher, a settable clock): trades that pass
quality control are published and make bars, the rest are dropped and counted; bars close on the
timer in the venue's time (a venue clock behind ours closes nothing early); get_bars and
get_quality_stats answer from it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_runner.actors.market import MarketDataManager
from exchange_runner.bars import BarAggregator, BarsConfig
from exchange_runner.quality import QualityConfig, QualityControl
from exchange_runner.refusals import BadParams
from strategy_client.model import BarSource, Exchange, InstrumentKey, Side, Trade
from strategy_client.wire import BarEvent, GetBars, GetQualityStats, TopicKind, TradeEvent
from tests.helpers import eventually

from .fakes import FakeClock, fake_host, running

KEY = InstrumentKey.parse("binance:perp:BTCUSDT")


def _trade(tid: int, ts: int, price: str = "100") -> Trade:
    return Trade(key=KEY, trade_id=str(tid), price=Decimal(price), qty=Decimal(1), side=Side.BUY, venue_ts_ms=ts)


async def test_trades_bars_on_the_venue_clock_and_the_queries() -> None:
    clock = FakeClock(wall_ms=1_800_000_000_500)
    async with fake_host(clock) as host:
        quality = QualityControl(QualityConfig())
        quality.clock_offset_ms = -90_000  # the venue's clock is 90 s behind ours
        bars = BarAggregator(BarsConfig(intervals_s=[1], sma=[1], ema=[], grace_ms=100), {KEY: BarSource.TRADES})
        actor = MarketDataManager(
            Exchange.BINANCE, host.publisher, quality, bars, bar_tick_s=0.01, wall_ns=lambda: clock.wall * 1_000_000
        )
        venue_now = clock.wall - 90_000
        async with running(actor):
            actor.feed.put_nowait(_trade(1, venue_now))
            actor.feed.put_nowait(_trade(1, venue_now))  # the same trade id again
            actor.feed.put_nowait(_trade(2, venue_now + 20_000))  # 20 s ahead of the venue's clock
            await eventually(lambda: actor.trades_in == 3, what="the trades taken")
            published = [e for k, e in host.publisher.events if k is TopicKind.TRADE]
            assert [e.trade.trade_id for e in published if isinstance(e, TradeEvent)] == ["1"]
            assert quality.rejected == {(KEY, "trade", "duplicate"): 1, (KEY, "trade", "future"): 1}

            ticks = actor.bar_ticks
            await eventually(lambda: actor.bar_ticks >= ticks + 3, what="a few timer ticks")
            assert actor.bars_out == 0  # the bar ends 0.5 s after the venue's now: still open
            clock.advance(1.0)
            await eventually(lambda: actor.bars_out == 1, what="the bar closed by the timer")
            (event,) = [e for k, e in host.publisher.events if k is TopicKind.BAR]
            assert isinstance(event, BarEvent) and event.bar.trades == 1 and event.averages[0].value == Decimal(100)

            reply = await actor.ask(GetBars(key=KEY, interval_s=1))
            assert reply.bars == (event.bar,)
            with pytest.raises(BadParams, match="makes \\[1\\] s bars"):
                await actor.ask(GetBars(key=KEY, interval_s=60))
            stats = (await actor.ask(GetQualityStats(exchange=Exchange.BINANCE))).stats
            assert stats.checked["trade"] == 3 and {(r.check, r.count) for r in stats.rejected} == {
                ("duplicate", 1),
                ("future", 1),
            }
