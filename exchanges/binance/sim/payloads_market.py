"""Market-data payloads shared by REST and streams: depth, tickers, trades, mark price (§6)."""

from __future__ import annotations

import msgspec

__all__ = [
    "ServerTime",
    "Depth",
    "FuturesDepth",
    "SpotBookTicker",
    "FuturesBookTicker",
    "PriceTicker",
    "AvgPrice",
    "SpotPartialDepthEvent",
    "SpotDepthEvent",
    "FuturesDepthEvent",
    "SpotBookTickerEvent",
    "FuturesBookTickerEvent",
    "SpotAggTradeEvent",
    "FuturesAggTradeEvent",
    "SpotTradeEvent",
    "FuturesTradeEvent",
    "MarkPriceEvent",
    "ServerShutdownEvent",
    "Levels",
]

Levels = list[tuple[str, str]]


class ServerTime(msgspec.Struct, kw_only=True):
    serverTime: int


class Depth(msgspec.Struct, kw_only=True):
    lastUpdateId: int
    bids: Levels
    asks: Levels


class FuturesDepth(msgspec.Struct, kw_only=True):
    lastUpdateId: int
    E: int
    T: int
    bids: Levels
    asks: Levels


class SpotBookTicker(msgspec.Struct, kw_only=True):
    symbol: str
    bidPrice: str
    bidQty: str
    askPrice: str
    askQty: str


class FuturesBookTicker(msgspec.Struct, kw_only=True):
    symbol: str
    bidPrice: str
    bidQty: str
    askPrice: str
    askQty: str
    time: int
    lastUpdateId: int


class PriceTicker(msgspec.Struct, kw_only=True):
    symbol: str
    price: str


class AvgPrice(msgspec.Struct, kw_only=True):
    mins: int
    price: str
    closeTime: int


# -- stream events ----------------------------------------------------------------------------


class SpotPartialDepthEvent(msgspec.Struct, kw_only=True):
    """``<s>@depth5`` on spot: no event type and no symbol."""

    lastUpdateId: int
    bids: Levels
    asks: Levels


class SpotDepthEvent(msgspec.Struct, kw_only=True):
    e: str
    E: int
    s: str
    U: int
    u: int
    b: Levels
    a: Levels


class FuturesDepthEvent(msgspec.Struct, kw_only=True):
    """Futures diff and partial depth share this layout."""

    e: str
    E: int
    T: int
    s: str
    U: int
    u: int
    pu: int
    b: Levels
    a: Levels


class SpotBookTickerEvent(msgspec.Struct, kw_only=True):
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str


class FuturesBookTickerEvent(msgspec.Struct, kw_only=True):
    e: str
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    T: int
    E: int


class SpotAggTradeEvent(msgspec.Struct, kw_only=True):
    e: str
    E: int
    s: str
    a: int
    p: str
    q: str
    f: int
    last_id: int = msgspec.field(name="l")
    T: int
    m: bool
    M: bool


class FuturesAggTradeEvent(msgspec.Struct, kw_only=True):
    e: str
    E: int
    s: str
    a: int
    p: str
    q: str
    nq: str
    f: int
    last_id: int = msgspec.field(name="l")
    T: int
    m: bool


class SpotTradeEvent(msgspec.Struct, kw_only=True):
    e: str
    E: int
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool
    M: bool


class FuturesTradeEvent(msgspec.Struct, kw_only=True):
    """USD-M ``<symbol>@trade``: ``X`` is the trade type (always ``MARKET`` here)."""

    e: str
    E: int
    T: int
    s: str
    t: int
    p: str
    q: str
    X: str
    m: bool


class MarkPriceEvent(msgspec.Struct, kw_only=True):
    e: str
    E: int
    s: str
    p: str
    i: str
    P: str
    r: str
    T: int


class ServerShutdownEvent(msgspec.Struct, kw_only=True):
    e: str
    E: int
