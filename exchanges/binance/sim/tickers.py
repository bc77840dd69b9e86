"""24 h ticker payloads (REST ``ticker/24hr`` and the ``<symbol>@ticker`` streams) from the tape.

Spot prints every price and quantity with 8 decimals; futures prints prices with the symbol's
price precision, quantities with its quantity precision and ``weightedAvgPrice`` with up to
8 decimals. ``priceChangePercent`` has three decimals on both, as on Binance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from strategy_client.model import MarketKind

from .core import BinanceCore
from .numbers import fixed, spot
from .ticker24h import (
    FuturesTicker24h,
    FuturesTickerEvent,
    MiniTickerEvent,
    SpotMiniTicker24h,
    SpotTicker24h,
    SpotTickerEvent,
    Window,
    change_percent,
)

__all__ = [
    "spot_ticker",
    "spot_mini_ticker",
    "futures_ticker",
    "spot_ticker_event",
    "futures_ticker_event",
    "mini_ticker_event",
]

_ZERO = (Decimal(0), Decimal(0))


def _spot_window(core: BinanceCore, symbol: str) -> tuple[Window, Decimal, Decimal, Decimal, Decimal, Decimal]:
    w = core.tape.window("spot", symbol, core.now_ms())
    ref = core.venue.reference_price(MarketKind.SPOT, symbol)
    o, h, lo, c = w.filled(ref)
    return w, o, h, lo, c, w.weighted_avg(c)


def spot_ticker(core: BinanceCore, symbol: str) -> SpotTicker24h:
    """The mini ticker's fields plus the change, averages, last quantity and the top of the book."""
    w, o, h, lo, c, avg = _spot_window(core, symbol)
    book = core.venue.book(MarketKind.SPOT, symbol, 1)
    bp, bq = book.bids[0] if book.bids else _ZERO
    ap, aq = book.asks[0] if book.asks else _ZERO
    return SpotTicker24h(
        **msgspec.structs.asdict(_spot_mini(symbol, w, o, h, lo, c)),
        priceChange=spot(c - o),
        priceChangePercent=fixed(change_percent(o, c), 3),
        weightedAvgPrice=spot(avg),
        prevClosePrice=spot(w.prev_close if w.prev_close is not None else o),
        lastQty=spot(w.last_qty),
        bidPrice=spot(bp),
        bidQty=spot(bq),
        askPrice=spot(ap),
        askQty=spot(aq),
    )


def spot_mini_ticker(core: BinanceCore, symbol: str) -> SpotMiniTicker24h:
    w, o, h, lo, c, _ = _spot_window(core, symbol)
    return _spot_mini(symbol, w, o, h, lo, c)


def _spot_mini(symbol: str, w: Window, o: Decimal, h: Decimal, lo: Decimal, c: Decimal) -> SpotMiniTicker24h:
    return SpotMiniTicker24h(
        symbol=symbol,
        openPrice=spot(o),
        highPrice=spot(h),
        lowPrice=spot(lo),
        lastPrice=spot(c),
        volume=spot(w.volume),
        quoteVolume=spot(w.quote_volume),
        openTime=w.open_ms,
        closeTime=w.close_ms,
        firstId=w.first_id,
        lastId=w.last_id,
        count=w.count,
    )


def spot_ticker_event(core: BinanceCore, symbol: str) -> SpotTickerEvent:
    t = spot_ticker(core, symbol)
    return SpotTickerEvent(
        **_event_fields(core, t), x=t.prevClosePrice, b=t.bidPrice, B=t.bidQty, a=t.askPrice, A=t.askQty
    )


def futures_ticker(core: BinanceCore, symbol: str) -> FuturesTicker24h:
    fmt = core.fmt(symbol)
    w = core.tape.window("futures", symbol, core.now_ms())
    o, h, lo, c = w.filled(core.venue.reference_price(MarketKind.PERP, symbol))
    return FuturesTicker24h(
        symbol=symbol,
        priceChange=fixed(c - o, fmt.price_places),
        priceChangePercent=fixed(change_percent(o, c), 3),
        weightedAvgPrice=fixed(w.weighted_avg(c), 8),
        lastPrice=fmt.price(c),
        lastQty=fmt.qty(w.last_qty),
        openPrice=fmt.price(o),
        highPrice=fmt.price(h),
        lowPrice=fmt.price(lo),
        volume=fmt.qty(w.volume),
        quoteVolume=fixed(w.quote_volume, 2),
        openTime=w.open_ms,
        closeTime=w.close_ms,
        firstId=w.first_id,
        lastId=w.last_id,
        count=w.count,
    )


def futures_ticker_event(core: BinanceCore, symbol: str) -> FuturesTickerEvent:
    return FuturesTickerEvent(**_event_fields(core, futures_ticker(core, symbol)))


def _event_fields(core: BinanceCore, t: SpotTicker24h | FuturesTicker24h) -> dict[str, Any]:
    """The ``@ticker`` event fields spot and futures share, from the REST ticker (same numbers)."""
    return {
        "e": "24hrTicker",
        "E": core.now_ms(),
        "s": t.symbol,
        "p": t.priceChange,
        "P": t.priceChangePercent,
        "w": t.weightedAvgPrice,
        "c": t.lastPrice,
        "Q": t.lastQty,
        "o": t.openPrice,
        "h": t.highPrice,
        "l": t.lowPrice,
        "v": t.volume,
        "q": t.quoteVolume,
        "O": t.openTime,
        "C": t.closeTime,
        "F": t.firstId,
        "L": t.lastId,
        "n": t.count,
    }


def mini_ticker_event(core: BinanceCore, product: str, symbol: str) -> MiniTickerEvent:
    if product == "spot":
        s = spot_ticker(core, symbol)
        c, o, h, lo, v, q = s.lastPrice, s.openPrice, s.highPrice, s.lowPrice, s.volume, s.quoteVolume
    else:
        f = futures_ticker(core, symbol)
        c, o, h, lo, v, q = f.lastPrice, f.openPrice, f.highPrice, f.lowPrice, f.volume, f.quoteVolume
    return MiniTickerEvent(e="24hrMiniTicker", E=core.now_ms(), s=symbol, c=c, o=o, h=h, l=lo, v=v, q=q)
