"""Ticker payloads (REST ``/v5/market/tickers`` and the ``tickers.{symbol}`` topic) from the engine.

Linear tickers carry mark, index, funding rate, next funding time, the funding interval in
hours (at least 1; compressed intervals show 1 — use ``nextFundingTime``), the cap and open
interest (the market maker's position: it is the counterparty of every user trade).
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.sim.engine import MARKET_MAKER, MarkView
from strategy_client.model import MarketKind

from .core import BybitCore
from .numbers import fixed, money
from .payloads_market import LinearTicker, SpotTicker
from .tape import Tape

__all__ = ["linear_ticker", "spot_ticker", "funding_interval_hours", "funding_interval_minutes", "rate_text"]

ZERO = Decimal(0)
HOUR_MS = 3_600_000


def funding_interval_hours(interval_ms: int) -> int:
    return max(1, interval_ms // HOUR_MS)


def funding_interval_minutes(interval_ms: int) -> int:
    return max(1, interval_ms // 60_000)


def rate_text(rate: Decimal) -> str:
    return fixed(rate, 8).rstrip("0").rstrip(".") if rate != 0 else "0"


def _pcnt(last: Decimal, prev: Decimal) -> str:
    if prev <= 0:
        return "0"
    return fixed((last - prev) / prev, 4)


def _open_interest(core: BybitCore, symbol: str) -> Decimal:
    for p in core.venue.positions(MARKET_MAKER):
        if p.symbol == symbol:
            return abs(p.size)
    return ZERO


def linear_ticker(core: BybitCore, tape: Tape, symbol: str, mark: MarkView | None = None) -> LinearTicker:
    fmt = core.fmt("linear", symbol)
    m = mark or core.venue.mark(symbol)
    book = core.venue.book(MarketKind.PERP, symbol, 1)
    stats = tape.stats(MarketKind.PERP, symbol, core.now_ms())
    last = stats.last if stats.last is not None else m.mark
    prev = stats.first_24h if stats.first_24h is not None else last
    oi = _open_interest(core, symbol)
    bid = book.bids[0] if book.bids else (ZERO, ZERO)
    ask = book.asks[0] if book.asks else (ZERO, ZERO)
    cap = core.venue.config.funding_rate_cap
    return LinearTicker(
        symbol=symbol,
        lastPrice=fmt.price(last),
        indexPrice=fmt.price(m.index),
        markPrice=fmt.price(m.mark),
        prevPrice24h=fmt.price(prev),
        price24hPcnt=_pcnt(last, prev),
        highPrice24h=fmt.price(stats.high or last),
        lowPrice24h=fmt.price(stats.low or last),
        prevPrice1h=fmt.price(stats.first_1h or last),
        openInterest=fmt.qty(oi),
        openInterestValue=money(oi * m.mark),
        turnover24h=money(stats.turnover),
        volume24h=fmt.qty(stats.volume),
        fundingRate=rate_text(m.funding_rate),
        nextFundingTime=str(m.next_funding_ms),
        predictedDeliveryPrice="",
        basisRate="",
        deliveryFeeRate="",
        deliveryTime="0",
        ask1Size=fmt.qty(ask[1]),
        bid1Price=fmt.price(bid[0]),
        ask1Price=fmt.price(ask[0]),
        bid1Size=fmt.qty(bid[1]),
        basis="",
        preOpenPrice="",
        preQty="",
        curPreListingPhase="",
        fundingIntervalHour=str(funding_interval_hours(m.funding_interval_ms)),
        fundingCap=rate_text(cap),
    )


def spot_ticker(core: BybitCore, tape: Tape, symbol: str) -> SpotTicker:
    fmt = core.fmt("spot", symbol)
    book = core.venue.book(MarketKind.SPOT, symbol, 1)
    stats = tape.stats(MarketKind.SPOT, symbol, core.now_ms())
    fair = core.venue.reference_price(MarketKind.SPOT, symbol)
    last = stats.last if stats.last is not None else fair
    prev = stats.first_24h if stats.first_24h is not None else last
    bid = book.bids[0] if book.bids else (ZERO, ZERO)
    ask = book.asks[0] if book.asks else (ZERO, ZERO)
    return SpotTicker(
        symbol=symbol,
        bid1Price=fmt.price(bid[0]),
        bid1Size=fmt.qty(bid[1]),
        ask1Price=fmt.price(ask[0]),
        ask1Size=fmt.qty(ask[1]),
        lastPrice=fmt.price(last),
        prevPrice24h=fmt.price(prev),
        price24hPcnt=_pcnt(last, prev),
        highPrice24h=fmt.price(stats.high or last),
        lowPrice24h=fmt.price(stats.low or last),
        turnover24h=money(stats.turnover),
        volume24h=fmt.qty(stats.volume),
        usdIndexPrice=fmt.price(fair),
    )
