"""Market stream names Binance serves and what each one means (§6).

Spot: ``<s>@depth<5|10|20>[@100ms]`` (1000 ms default), ``<s>@depth[@100ms]``,
``<s>@bookTicker``, ``<s>@aggTrade``, ``<s>@trade``, ``<s>@ticker`` and ``<s>@miniTicker``
(every 1000 ms), ``!miniTicker@arr`` (every 1000 ms; Binance retired spot ``!ticker@arr``,
which stays refused as invalid).
USD-M: ``<s>@depth<5|10|20>[@0ms|@100ms|@250ms|@500ms]`` and ``<s>@depth[...]`` (250 ms
default; ``@0ms``, Binance's real-time speed, is served at the fastest emission, 100 ms),
``<s>@bookTicker``, ``<s>@trade``, ``<s>@aggTrade``, ``<s>@ticker`` and ``<s>@miniTicker``
(every 500 ms),
``<s>@markPrice[@1s]`` (3 s default), ``!markPrice@arr[@1s]``, ``!ticker@arr`` and
``!miniTicker@arr`` (every 1000 ms). Depth, bookTicker and trade are
served under ``/public``, the rest under ``/market`` (the 2026 path split, as ccxt routes
them); the legacy ``/ws`` and ``/stream`` serve all.
Symbols are lower case in stream names; an unknown symbol is accepted and sends nothing, as
on Binance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .api_errors import Product

__all__ = ["StreamKind", "StreamSpec", "parse_stream", "SPEEDS_MS"]

StreamKind = Literal[
    "depth_diff",
    "depth_partial",
    "book_ticker",
    "agg_trade",
    "trade",
    "ticker",
    "mini_ticker",
    "mark_price",
    "mark_price_all",
    "ticker_all",
    "mini_ticker_all",
]

_SYMBOL = r"(?P<sym>[a-z0-9_]{1,30})"
_DEPTH = re.compile(_SYMBOL + r"@depth(?P<levels>5|10|20)?(?:@(?P<speed>0ms|100ms|250ms|500ms|1000ms))?$")
_SIMPLE = re.compile(_SYMBOL + r"@(?P<what>bookTicker|aggTrade|trade|ticker|miniTicker)$")
_MARK = re.compile(_SYMBOL + r"@markPrice(?P<fast>@1s)?$")
_MARK_ALL = re.compile(r"!markPrice@arr(?P<fast>@1s)?$")
_TICKERS_ALL = re.compile(r"!(?P<what>ticker|miniTicker)@arr(?:@1000ms)?$")  # python-binance adds @1000ms
ALL_TICKERS_MS = 1000

_SPOT_SPEEDS = {None: 1000, "100ms": 100, "1000ms": 1000}
_FUTURES_SPEEDS = {None: 250, "0ms": 100, "100ms": 100, "250ms": 250, "500ms": 500}
SPOT_TICKER_MS = 1000
FUTURES_TICKER_MS = 500
SPEEDS_MS = (100, 250, 500, 1000, 3000)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A parsed stream; ``key`` identifies the data (several names may share one key)."""

    kind: StreamKind
    symbol: str
    levels: int
    speed_ms: int
    group: Literal["public", "market"]

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.kind, self.symbol, self.levels, self.speed_ms)


def parse_stream(name: str, product: Product) -> StreamSpec | None:
    """The stream a name denotes on ``product``, or None when Binance would call it invalid."""
    m = _DEPTH.match(name)
    if m:
        speeds = _SPOT_SPEEDS if product == "spot" else _FUTURES_SPEEDS
        speed = m.group("speed")
        if speed not in speeds:
            return None
        levels = int(m.group("levels")) if m.group("levels") else 0
        kind: StreamKind = "depth_partial" if levels else "depth_diff"
        return StreamSpec(kind, m.group("sym").upper(), levels, speeds[speed], "public")
    m = _TICKERS_ALL.match(name)
    if m:
        if m.group("what") == "ticker":
            return None if product == "spot" else StreamSpec("ticker_all", "", 0, ALL_TICKERS_MS, "market")
        return StreamSpec("mini_ticker_all", "", 0, ALL_TICKERS_MS, "market")
    m = _SIMPLE.match(name)
    if m:
        what = m.group("what")
        if what == "bookTicker":
            return StreamSpec("book_ticker", m.group("sym").upper(), 0, 0, "public")
        if what in ("ticker", "miniTicker"):
            speed_ms = SPOT_TICKER_MS if product == "spot" else FUTURES_TICKER_MS
            kind = "ticker" if what == "ticker" else "mini_ticker"
            return StreamSpec(kind, m.group("sym").upper(), 0, speed_ms, "market")
        if what == "trade":
            return StreamSpec("trade", m.group("sym").upper(), 0, 0, "public")
        return StreamSpec("agg_trade", m.group("sym").upper(), 0, 0, "market")
    if product == "futures":
        m = _MARK.match(name)
        if m:
            return StreamSpec("mark_price", m.group("sym").upper(), 0, 1000 if m.group("fast") else 3000, "market")
        m = _MARK_ALL.match(name)
        if m:
            return StreamSpec("mark_price_all", "", 0, 1000 if m.group("fast") else 3000, "market")
    return None
