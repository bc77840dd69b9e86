"""OHLCV bars and moving averages, computed incrementally (docs/market-data.md, "Bars").

Pure: no I/O, no clock of its own. One :class:`BarAggregator` per runner, owned by the market
actor. Per instrument and configured interval it keeps the open bar and, once closed, the last
``keep`` bars and the moving averages of their closes.

* **Trade bars** (``BarSource.TRADES``): each accepted trade goes into the bar of its venue time
  (``[start, start + interval)``, UTC-aligned): open/high/low/close of the prices, volume (base),
  quote volume (Σ price × qty), VWAP (quote volume / volume) and the venue trade count.
* **Mid bars** (``BarSource.MID``) for instruments without trades: the same from each accepted
  book's mid at the book's venue time (our receive time when the venue sends none); volume 0.

A bar closes when an item of a later bar arrives, or when :meth:`close_due` is called with a
time past its end plus ``grace_ms`` (the runner's timer: a quiet instrument's bar still closes).
An interval without any item has no bar. An item older than the open bar (a late trade, after its
bar closed) is not added to any bar; it is counted in ``late``.

**Moving averages** of the closes, after each closed bar: SMA over the last *n* closes, and EMA
with α = 2 / (n + 1), seeded with the SMA of its first *n* closes; ``None`` until *n* closes are
in. Decimal throughout (the default context's 28 significant digits).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from strategy_client.model import (
    BAR_INTERVALS_S,
    AverageKind,
    Bar,
    BarSource,
    InstrumentKey,
    MovingAverage,
    Trade,
)

__all__ = ["BarsConfig", "BarAggregator", "Closed"]

_ZERO = Decimal(0)

Closed = tuple[Bar, tuple[MovingAverage, ...]]


class BarsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The runner config's ``[runner.bars]`` table."""

    enabled: bool = True
    intervals_s: list[int] = msgspec.field(default_factory=lambda: [60])
    sma: list[int] = msgspec.field(default_factory=lambda: [20])
    ema: list[int] = msgspec.field(default_factory=lambda: [20])
    keep: int = 1000  # closed bars kept per instrument and interval (get_bars)
    grace_ms: int = 2000  # a bar closes on the timer this long after its end (late trades)

    def validate(self) -> None:
        bad = [i for i in self.intervals_s if i not in BAR_INTERVALS_S]
        if bad or not self.intervals_s:
            raise ValueError(f"bars.intervals_s: {bad or '[]'} — each must be one of {list(BAR_INTERVALS_S)}")
        if any(not 1 <= n <= 10_000 for n in (*self.sma, *self.ema)):
            raise ValueError("bars.sma / bars.ema: windows must be in 1..10000")
        if not 1 <= self.keep <= 100_000 or self.grace_ms < 0:
            raise ValueError("bars.keep must be in 1..100000 and bars.grace_ms ≥ 0")


class _Open:
    """A bar being built."""

    __slots__ = ("start_ms", "open", "high", "low", "close", "volume", "quote", "trades")

    def __init__(self, start_ms: int, price: Decimal) -> None:
        self.start_ms = start_ms
        self.open = self.high = self.low = self.close = price
        self.volume = _ZERO
        self.quote = _ZERO
        self.trades = 0


class _Averages:
    """The SMAs and EMAs of one series of closes."""

    __slots__ = ("closes", "sma", "ema", "alphas", "longest")

    def __init__(self, sma: list[int], ema: list[int]) -> None:
        self.sma = sorted(set(sma))
        self.ema: dict[int, Decimal | None] = dict.fromkeys(sorted(set(ema)))
        self.alphas = {n: Decimal(2) / (n + 1) for n in self.ema}
        self.longest = max([*self.sma, *self.ema, 1])
        self.closes: deque[Decimal] = deque(maxlen=self.longest)

    def add(self, close: Decimal) -> tuple[MovingAverage, ...]:
        closes = self.closes
        closes.append(close)
        count = len(closes)
        out: list[MovingAverage] = []
        for n in self.sma:
            value = sum(list(closes)[-n:], _ZERO) / n if count >= n else None
            out.append(MovingAverage(AverageKind.SMA, n, value))
        for n, prev in self.ema.items():
            if prev is not None:
                value = prev + self.alphas[n] * (close - prev)
            elif count >= n:
                value = sum(list(closes)[-n:], _ZERO) / n  # seeded with the SMA of the first n
            else:
                value = None
            self.ema[n] = value
            out.append(MovingAverage(AverageKind.EMA, n, value))
        return tuple(out)


class _Series:
    """One instrument at one interval: the open bar, the closed ones, the averages."""

    __slots__ = ("key", "interval_s", "interval_ms", "source", "open", "closed", "averages", "last_averages")

    def __init__(self, key: InstrumentKey, interval_s: int, source: BarSource, config: BarsConfig) -> None:
        self.key = key
        self.interval_s = interval_s
        self.interval_ms = interval_s * 1000
        self.source = source
        self.open: _Open | None = None
        self.closed: deque[Bar] = deque(maxlen=config.keep)
        self.averages = _Averages(config.sma, config.ema)
        self.last_averages: tuple[MovingAverage, ...] = ()

    def close(self) -> Closed:
        bar = self.open
        assert bar is not None
        self.open = None
        trades = self.source is BarSource.TRADES
        done = Bar(
            key=self.key,
            interval_s=self.interval_s,
            start_ms=bar.start_ms,
            source=self.source,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
            quote_volume=bar.quote,
            vwap=bar.quote / bar.volume if trades and bar.volume else None,
            trades=bar.trades,
        )
        self.closed.append(done)
        self.last_averages = self.averages.add(done.close)
        return done, self.last_averages


class BarAggregator:
    """Bars of every instrument (see the module doc)."""

    def __init__(self, config: BarsConfig, sources: dict[InstrumentKey, BarSource]) -> None:
        self.config = config
        self.sources = dict(sources)
        self._series: dict[InstrumentKey, list[_Series]] = {
            key: [_Series(key, i, source, config) for i in sorted(set(config.intervals_s))]
            for key, source in sources.items()
        }
        self.late = 0

    def _add(
        self, key: InstrumentKey, source: BarSource, ts_ms: int, price: Decimal, qty: Decimal, n: int
    ) -> list[Closed]:
        closed: list[Closed] = []
        for s in self._series.get(key, ()):
            if s.source is not source:
                continue
            start = ts_ms - ts_ms % s.interval_ms
            bar = s.open
            if bar is not None and start != bar.start_ms:
                if start < bar.start_ms:
                    self.late += 1
                    continue
                closed.append(s.close())
                bar = None
            if bar is None:
                if s.closed and start < s.closed[-1].start_ms + s.interval_ms:
                    self.late += 1  # its bar has closed already
                    continue
                bar = s.open = _Open(start, price)
            else:
                if price > bar.high:
                    bar.high = price
                elif price < bar.low:
                    bar.low = price
                bar.close = price
            if qty:
                bar.volume += qty
                bar.quote += price * qty
            bar.trades += n
        return closed

    def add_trade(self, trade: Trade) -> list[Closed]:
        """Put an accepted trade into its bars; the bars it closed, with their averages."""
        return self._add(trade.key, BarSource.TRADES, trade.venue_ts_ms, trade.price, trade.qty, trade.count)

    def add_mid(self, key: InstrumentKey, mid: Decimal, ts_ms: int) -> list[Closed]:
        """Put an accepted book's mid into the mid bars of ``key``; the bars it closed."""
        return self._add(key, BarSource.MID, ts_ms, mid, _ZERO, 0)

    def close_due(self, now_ms: int) -> list[Closed]:
        """Close every open bar that ended at least ``grace_ms`` before ``now_ms``."""
        closed: list[Closed] = []
        grace = self.config.grace_ms
        for series in self._series.values():
            for s in series:
                if s.open is not None and s.open.start_ms + s.interval_ms + grace <= now_ms:
                    closed.append(s.close())
        return closed

    def intervals(self, key: InstrumentKey) -> list[int]:
        return [s.interval_s for s in self._series.get(key, ())]

    def bars(
        self, key: InstrumentKey, interval_s: int, *, since_ms: int = 0, limit: int = 100
    ) -> tuple[tuple[Bar, ...], tuple[MovingAverage, ...]] | None:
        """The last ``limit`` closed bars starting at or after ``since_ms`` and the averages
        after the last closed bar; None if ``key`` has no bars at ``interval_s``."""
        for s in self._series.get(key, ()):
            if s.interval_s == interval_s:
                chosen: Iterable[Bar] = (b for b in s.closed if b.start_ms >= since_ms)
                picked = tuple(chosen)[-limit:]
                return picked, s.last_averages
        return None
