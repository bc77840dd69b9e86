"""Rolling 24 h ticker statistics from the simulator's own public trades (§6, ``ticker/24hr``).

Fed from the engine's ``TradeExecuted`` events per (product, symbol). The window is the last
24 h of the simulator clock (or everything since start, when the sim is younger). Memory is
bounded: trades older than 24 h are dropped and at most ``max_trades`` are kept per symbol
(oldest dropped first, which then shortens the window). Volume and quote volume are running
sums, high and low come from monotonic deques, so a read is O(1) amortised.

Where Binance's behaviour for a symbol without trades in the window is not documented, the
simulator answers ``count`` 0, ``firstId``/``lastId`` -1, zero volumes, and prices equal to the
last trade before the window or, when there never was one, the venue's reference price (fair
price on spot, mark on futures), so ``lastPrice`` is always usable.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import msgspec

from exchanges.sim.engine import PublicTrade

__all__ = [
    "DAY_MS",
    "Tape24h",
    "Window",
    "SpotTicker24h",
    "SpotMiniTicker24h",
    "FuturesTicker24h",
    "SpotTickerEvent",
    "FuturesTickerEvent",
    "MiniTickerEvent",
    "change_percent",
]

DAY_MS = 86_400_000
ZERO = Decimal(0)

_Trade = tuple[int, int, Decimal, Decimal]  # ts_ms, trade id, price, qty


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's statistics over ``[open_ms, close_ms]``; prices are None without trades."""

    open_ms: int
    close_ms: int
    first_id: int
    last_id: int
    count: int
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    last: Decimal | None
    last_qty: Decimal
    volume: Decimal
    quote_volume: Decimal
    prev_close: Decimal | None

    def filled(self, fallback: Decimal) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(open, high, low, last), each falling back to the last trade before the window or
        ``fallback`` when the window is empty."""
        if self.last is None or self.open is None or self.high is None or self.low is None:
            price = self.prev_close if self.prev_close is not None else fallback
            return price, price, price, price
        return self.open, self.high, self.low, self.last

    def weighted_avg(self, fallback: Decimal) -> Decimal:
        return self.quote_volume / self.volume if self.volume else fallback


class _Series:
    __slots__ = ("trades", "highs", "lows", "volume", "quote", "prev_close")

    def __init__(self) -> None:
        self.trades: deque[_Trade] = deque()
        self.highs: deque[_Trade] = deque()
        self.lows: deque[_Trade] = deque()
        self.volume = ZERO
        self.quote = ZERO
        self.prev_close: Decimal | None = None

    def add(self, t: _Trade) -> None:
        self.trades.append(t)
        self.volume += t[3]
        self.quote += t[2] * t[3]
        while self.highs and self.highs[-1][2] <= t[2]:
            self.highs.pop()
        self.highs.append(t)
        while self.lows and self.lows[-1][2] >= t[2]:
            self.lows.pop()
        self.lows.append(t)

    def drop_oldest(self) -> None:
        t = self.trades.popleft()
        self.volume -= t[3]
        self.quote -= t[2] * t[3]
        self.prev_close = t[2]
        if self.highs and self.highs[0] is t:
            self.highs.popleft()
        if self.lows and self.lows[0] is t:
            self.lows.popleft()


class Tape24h:
    """Per (product, symbol) rolling window; one owner (the dialect's event loop)."""

    def __init__(self, started_ms: int, max_trades: int = 200_000) -> None:
        self._started_ms = started_ms
        self._max = max_trades
        self._series: dict[tuple[str, str], _Series] = {}

    def record(self, product: str, symbol: str, trade: PublicTrade) -> None:
        series = self._series.get((product, symbol))
        if series is None:
            series = self._series[(product, symbol)] = _Series()
        series.add((trade.ts_ms, trade.trade_id, trade.price, trade.qty))
        if len(series.trades) > self._max:
            series.drop_oldest()

    def window(self, product: str, symbol: str, now_ms: int) -> Window:
        open_ms = max(now_ms - DAY_MS, self._started_ms)
        series = self._series.get((product, symbol))
        if series is not None:
            while series.trades and series.trades[0][0] < now_ms - DAY_MS:
                series.drop_oldest()
        if series is None or not series.trades:
            return Window(
                open_ms=open_ms,
                close_ms=now_ms,
                first_id=-1,
                last_id=-1,
                count=0,
                open=None,
                high=None,
                low=None,
                last=None,
                last_qty=ZERO,
                volume=ZERO,
                quote_volume=ZERO,
                prev_close=series.prev_close if series is not None else None,
            )
        first, last = series.trades[0], series.trades[-1]
        return Window(
            open_ms=open_ms,
            close_ms=now_ms,
            first_id=first[1],
            last_id=last[1],
            count=len(series.trades),
            open=first[2],
            high=series.highs[0][2],
            low=series.lows[0][2],
            last=last[2],
            last_qty=last[3],
            volume=series.volume,
            quote_volume=series.quote,
            prev_close=series.prev_close,
        )


# -- payloads -------------------------------------------------------------------------------


class SpotTicker24h(msgspec.Struct, kw_only=True):
    symbol: str
    priceChange: str
    priceChangePercent: str
    weightedAvgPrice: str
    prevClosePrice: str
    lastPrice: str
    lastQty: str
    bidPrice: str
    bidQty: str
    askPrice: str
    askQty: str
    openPrice: str
    highPrice: str
    lowPrice: str
    volume: str
    quoteVolume: str
    openTime: int
    closeTime: int
    firstId: int
    lastId: int
    count: int


class SpotMiniTicker24h(msgspec.Struct, kw_only=True):
    symbol: str
    openPrice: str
    highPrice: str
    lowPrice: str
    lastPrice: str
    volume: str
    quoteVolume: str
    openTime: int
    closeTime: int
    firstId: int
    lastId: int
    count: int


class FuturesTicker24h(msgspec.Struct, kw_only=True):
    symbol: str
    priceChange: str
    priceChangePercent: str
    weightedAvgPrice: str
    lastPrice: str
    lastQty: str
    openPrice: str
    highPrice: str
    lowPrice: str
    volume: str
    quoteVolume: str
    openTime: int
    closeTime: int
    firstId: int
    lastId: int
    count: int


class SpotTickerEvent(msgspec.Struct, kw_only=True):
    """``<symbol>@ticker`` on spot."""

    e: str
    E: int
    s: str
    p: str
    P: str
    w: str
    x: str
    c: str
    Q: str
    b: str
    B: str
    a: str
    A: str
    o: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str
    q: str
    O: int  # noqa: E741 - Binance's field name
    C: int
    F: int
    L: int
    n: int


class FuturesTickerEvent(msgspec.Struct, kw_only=True):
    """``<symbol>@ticker`` on USD-M futures: no bid/ask and no ``x``."""

    e: str
    E: int
    s: str
    p: str
    P: str
    w: str
    c: str
    Q: str
    o: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str
    q: str
    O: int  # noqa: E741 - Binance's field name
    C: int
    F: int
    L: int
    n: int


class MiniTickerEvent(msgspec.Struct, kw_only=True):
    """``<symbol>@miniTicker`` (same shape on spot and futures)."""

    e: str
    E: int
    s: str
    c: str
    o: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str
    q: str


def change_percent(open_: Decimal, last: Decimal) -> Decimal:
    """Percent change with Binance's three decimals (0 when the open is 0)."""
    if open_ == 0:
        return ZERO
    return (last - open_) * 100 / open_
