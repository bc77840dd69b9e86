"""Wire shapes of the runner's extra market data: trades, 24 h tickers, bars and moving averages
(events), the quality-control statistics and the closed bars (requests).

``messages.py`` imports these classes into its ``Request``, ``Reply`` and ``Event`` unions (this
module imports only the model and the registry, so there is no import cycle); they use the same
tag fields. Topics: ``trade|…``, ``tick|…``, ``bar|…`` (``topics.py``; docs/market-data.md).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..model import Bar, Exchange, InstrumentKey, MovingAverage, Ticker, Trade
from .commands import Query, Routing, Scope, command

__all__ = [
    "TradeEvent",
    "TickerEvent",
    "BarEvent",
    "QualityRejects",
    "QualityStats",
    "QualityStatsReply",
    "GetQualityStats",
    "BarsReply",
    "GetBars",
    "MAX_BARS",
]

#: The most closed bars one ``get_bars`` answers (and a runner keeps per instrument and interval).
MAX_BARS = 1000


class _Req(msgspec.Struct, frozen=True, kw_only=True, tag_field="method"):
    pass


class _Rep(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class _Evt(msgspec.Struct, frozen=True, kw_only=True, tag_field="event"):
    pass


# ----------------------------------------------------------------------------- events


class TradeEvent(_Evt, frozen=True, tag="trade"):
    """A public trade that passed the runner's quality control (topic ``trade|…``)."""

    trade: Trade


class TickerEvent(_Evt, frozen=True, tag="ticker"):
    """The venue's 24 h ticker, as it passed quality control (topic ``tick|…``)."""

    ticker: Ticker


class BarEvent(_Evt, frozen=True, tag="bar"):
    """A closed bar with the moving averages of the closes up to and including it (topic
    ``bar|…``; every configured interval of an instrument on the same topic)."""

    bar: Bar
    averages: tuple[MovingAverage, ...] = ()


# ----------------------------------------------------------------------------- quality control


class QualityRejects(msgspec.Struct, frozen=True, array_like=True):
    """``[key, item, check, count]``: items (``book``, ``trade``, ``ticker``) of one instrument
    dropped by one check since the runner started."""

    key: InstrumentKey
    item: str
    check: str
    count: Annotated[int, msgspec.Meta(ge=0)]


class QualityStats(msgspec.Struct, frozen=True, kw_only=True):
    exchange: Exchange
    checked: dict[str, int]  # items checked, by item kind
    rejected: tuple[QualityRejects, ...]
    rebased: int = 0  # runs of price rejections ended by taking the new level as the reference
    warnings: tuple[str, ...] = ()  # instruments whose rejections are bursting now
    thresholds: dict[str, str] = {}  # the configured checks, as text


class QualityStatsReply(_Rep, frozen=True, tag="quality_stats"):
    stats: QualityStats


@command(route=Routing.EXCHANGE, scope=Scope.MARKET)
class GetQualityStats(_Req, Query[QualityStatsReply], frozen=True, tag="get_quality_stats"):
    """The runner's quality-control counts: what it checked, what each check dropped."""

    exchange: Exchange


# ----------------------------------------------------------------------------- bars


class BarsReply(_Rep, frozen=True, tag="bars"):
    """Closed bars, oldest first, with the moving averages after the last one."""

    bars: tuple[Bar, ...]
    averages: tuple[MovingAverage, ...] = ()


@command(route=Routing.INSTRUMENT, scope=Scope.MARKET)
class GetBars(_Req, Query[BarsReply], frozen=True, tag="get_bars"):
    """The last ``limit`` closed bars of ``key`` at ``interval_s`` (one the runner is configured
    with) that start at or after ``since_ms``."""

    key: InstrumentKey
    interval_s: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 60
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_BARS)] = 100
    since_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
