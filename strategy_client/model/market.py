"""Public market data beyond books and funding: trades, 24 h tickers, OHLCV bars, moving averages.

Decimals for every price and size (the venue's digits, as received); times as everywhere in the
model: venue times in ms since the epoch (``*_ts_ms``), local receive times in ns
(``local_ts_ns``). Constructing one refuses a value no consumer could use (a non-finite decimal,
a negative time) with ``ValueError`` — a wire decode turns it into a validation error; whether a
*finite* value is plausible (positive, inside bounds, near the reference) is the runner's quality
control, not the type's.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import msgspec

from .enums import Side
from .key import InstrumentKey

__all__ = [
    "MarketChannel",
    "Trade",
    "Ticker",
    "Bar",
    "BarSource",
    "AverageKind",
    "MovingAverage",
    "MAX_TRADE_ID_LEN",
    "BAR_INTERVALS_S",
]

MAX_TRADE_ID_LEN = 64
#: Bar intervals a runner may be configured with: 1 s … 1 d (each divides a day).
BAR_INTERVALS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]


class MarketChannel(StrEnum):
    """What a runner streams for an instrument (its config picks them per instrument)."""

    BOOK = "book"
    FUNDING = "funding"  # perpetuals only: rate, mark and index price
    TRADES = "trades"
    TICKERS = "tickers"
    DEPTH = "depth"  # the book kept full-depth from the diff stream + snapshots (Binance), top levels published


def _finite(*values: Decimal | None) -> None:
    for v in values:
        if v is not None and not v.is_finite():
            raise ValueError(f"not a finite number: {v}")


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """One public trade (Binance: one aggregate trade, ``count`` venue trades at one price).

    ``side`` is the taker's (the aggressor); ``qty`` in base units (OKX contracts converted);
    ``trade_id`` the venue's id as text (numeric on Binance and OKX, a UUID on Bybit)."""

    key: InstrumentKey
    trade_id: Annotated[str, msgspec.Meta(max_length=MAX_TRADE_ID_LEN)]
    price: Decimal
    qty: Decimal
    side: Side
    venue_ts_ms: NonNegInt
    local_ts_ns: NonNegInt = 0
    count: Annotated[int, msgspec.Meta(ge=1)] = 1

    def __post_init__(self) -> None:
        _finite(self.price, self.qty)


class Ticker(msgspec.Struct, frozen=True, kw_only=True):
    """The venue's rolling 24 h statistics of an instrument. A field the venue does not send
    on this market is None (Binance USD-M and Bybit spot send no bid/ask; OKX swaps no quote
    volume)."""

    key: InstrumentKey
    last: Decimal
    open_24h: Decimal | None = None
    high_24h: Decimal | None = None
    low_24h: Decimal | None = None
    volume_24h: Decimal | None = None  # base units
    quote_volume_24h: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    venue_ts_ms: NonNegInt = 0
    local_ts_ns: NonNegInt = 0

    def __post_init__(self) -> None:
        _finite(
            self.last,
            self.open_24h,
            self.high_24h,
            self.low_24h,
            self.volume_24h,
            self.quote_volume_24h,
            self.bid,
            self.ask,
        )


class BarSource(StrEnum):
    TRADES = "trades"  # OHLC of trade prices, volume, VWAP, trade count
    MID = "mid"  # OHLC of the book's mid (instruments without trades): volume 0, no VWAP


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """An OHLCV bar over ``[start_ms, start_ms + interval_s * 1000)`` (UTC-aligned: a bar of
    60 s starts on a whole minute). ``vwap`` is None for a mid bar; ``trades`` counts venue
    trades (a Binance aggregate trade counts its ``count``)."""

    key: InstrumentKey
    interval_s: Annotated[int, msgspec.Meta(ge=1, le=86_400)]
    start_ms: NonNegInt
    source: BarSource
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    vwap: Decimal | None = None
    trades: NonNegInt = 0

    def __post_init__(self) -> None:
        _finite(self.open, self.high, self.low, self.close, self.volume, self.quote_volume, self.vwap)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.interval_s * 1000


class AverageKind(StrEnum):
    SMA = "sma"
    EMA = "ema"


class MovingAverage(msgspec.Struct, frozen=True, array_like=True):
    """A moving average of bar closes: ``[kind, window, value]``; ``value`` None until the
    window holds ``window`` closes (an EMA is seeded with the SMA of its first window)."""

    kind: AverageKind
    window: Annotated[int, msgspec.Meta(ge=1, le=10_000)]
    value: Decimal | None
