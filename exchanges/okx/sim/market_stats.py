"""Rolling 24-hour ticker statistics per instrument (``open24h``, ``high24h``, ``vol24h``...).

Fed by the public tape (``TradeExecuted``) and by a price sample each minute, so an
instrument nobody trades still has an open, high and low. Per-minute buckets, at most 1440
per instrument (bounded). ``sodUtc0``/``sodUtc8``: the first price of the current UTC / UTC+8
day when it is within the window, else the window's open.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from strategy_client.model import MarketKind

__all__ = ["TickerStats", "Stats24h"]

_MINUTE = 60_000
_DAY = 86_400_000
_EIGHT_HOURS = 8 * 3_600_000
ZERO = Decimal(0)


@dataclass(slots=True)
class _Bucket:
    start_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    vol: Decimal = ZERO  # base units
    vol_quote: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class TickerStats:
    last: Decimal
    last_qty: Decimal
    open24h: Decimal
    high24h: Decimal
    low24h: Decimal
    vol24h: Decimal  # base units
    vol_quote24h: Decimal
    sod_utc0: Decimal
    sod_utc8: Decimal


class _Series:
    __slots__ = ("buckets", "last", "last_qty")

    def __init__(self) -> None:
        self.buckets: deque[_Bucket] = deque(maxlen=1440)
        self.last = ZERO
        self.last_qty = ZERO

    def add(self, ts_ms: int, price: Decimal, qty: Decimal) -> None:
        start = ts_ms - ts_ms % _MINUTE
        buckets = self.buckets
        if not buckets or buckets[-1].start_ms < start:
            buckets.append(_Bucket(start, price, price, price))
        b = buckets[-1]
        b.high = max(b.high, price)
        b.low = min(b.low, price)
        if qty:
            b.vol += qty
            b.vol_quote += qty * price
            self.last, self.last_qty = price, qty


class Stats24h:
    def __init__(self) -> None:
        self._series: dict[tuple[MarketKind, str], _Series] = {}

    def _get(self, kind: MarketKind, symbol: str) -> _Series:
        series = self._series.get((kind, symbol))
        if series is None:
            series = self._series[(kind, symbol)] = _Series()
        return series

    def on_trade(self, kind: MarketKind, symbol: str, ts_ms: int, price: Decimal, qty: Decimal) -> None:
        self._get(kind, symbol).add(ts_ms, price, qty)

    def on_price(self, kind: MarketKind, symbol: str, ts_ms: int, price: Decimal) -> None:
        self._get(kind, symbol).add(ts_ms, price, ZERO)

    def stats(self, kind: MarketKind, symbol: str, now_ms: int, fallback: Decimal) -> TickerStats:
        series = self._get(kind, symbol)
        live = [b for b in series.buckets if b.start_ms > now_ms - _DAY]
        if not live:
            return TickerStats(fallback, ZERO, fallback, fallback, fallback, ZERO, ZERO, fallback, fallback)
        open24 = live[0].open
        day0 = now_ms - now_ms % _DAY
        day8 = now_ms - (now_ms + _EIGHT_HOURS) % _DAY
        sod0 = next((b.open for b in live if b.start_ms >= day0), open24)
        sod8 = next((b.open for b in live if b.start_ms >= day8), open24)
        return TickerStats(
            last=series.last or fallback,
            last_qty=series.last_qty,
            open24h=open24,
            high24h=max(b.high for b in live),
            low24h=min(b.low for b in live),
            vol24h=sum((b.vol for b in live), ZERO),
            vol_quote24h=sum((b.vol_quote for b in live), ZERO),
            sod_utc0=sod0,
            sod_utc8=sod8,
        )
