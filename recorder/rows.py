"""What the recorder writes: one row per event, its Parquet schema per channel, and where it goes.

Channels: ``book``, ``funding``, ``trades``, ``tickers``, ``bars`` (one per topic kind the runners
publish as market data) and ``gaps`` (holes in any of their sequences).

Decimals (prices, sizes, rates) are stored as **strings**, exactly as the runner published them
(``str(Decimal)``; ``Decimal(value)`` gives the value back exactly). Not decimal128: one scale per
column cannot hold every venue's values — a tick or step can change, OKX sizes are converted from
contracts, funding rates and mark prices carry their own precision — and a value with more digits
than the scale would have to be rounded or refused. Strings never lose a digit, and Parquet's
dictionary encoding keeps repeated prices small.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple
from urllib.parse import quote

import pyarrow as pa

from strategy_client import Received
from strategy_client.model import Bar, FundingRate, InstrumentKey, MovingAverage, OrderBook, Ticker, Trade

__all__ = [
    "BOOK",
    "FUNDING",
    "TRADES",
    "TICKERS",
    "BARS",
    "GAPS",
    "SCHEMAS",
    "Part",
    "book_row",
    "day_of",
    "funding_row",
    "trade_row",
    "ticker_row",
    "bar_row",
    "gap_row",
    "instrument_dir",
]

BOOK = "book"
FUNDING = "funding"
TRADES = "trades"
TICKERS = "tickers"
BARS = "bars"
GAPS = "gaps"

_STR = pa.string()
_I64 = pa.int64()
_LEVELS = pa.list_(pa.string())

_KEY_FIELDS = [("runner", _STR), ("exchange", _STR), ("market", _STR), ("symbol", _STR)]

SCHEMAS: dict[str, pa.Schema] = {
    # seq: the runner's sequence number on the topic (1, 2, 3… per topic; a hole is a gap);
    # sequence: the venue's update id; sent_ns: the runner's clock at publish; recv_ns: the recorder's
    BOOK: pa.schema(
        [
            *_KEY_FIELDS,
            ("seq", _I64),
            ("sequence", _I64),
            ("venue_ts_ms", _I64),
            ("local_ts_ns", _I64),
            ("sent_ns", _I64),
            ("recv_ns", _I64),
            ("stale", pa.bool_()),
            ("bid_px", _LEVELS),
            ("bid_qty", _LEVELS),
            ("ask_px", _LEVELS),
            ("ask_qty", _LEVELS),
        ]
    ),
    FUNDING: pa.schema(
        [
            *_KEY_FIELDS,
            ("seq", _I64),
            ("ts_ms", _I64),
            ("rate", _STR),
            ("interval_ms", _I64),
            ("next_funding_ts_ms", _I64),
            ("mark_price", _STR),
            ("index_price", _STR),
            ("sent_ns", _I64),
            ("recv_ns", _I64),
        ]
    ),
    # trade_id: the venue's (text); side: the taker's; count: venue trades in it (Binance aggregates)
    TRADES: pa.schema(
        [
            *_KEY_FIELDS,
            ("seq", _I64),
            ("trade_id", _STR),
            ("price", _STR),
            ("qty", _STR),
            ("side", _STR),
            ("count", _I64),
            ("venue_ts_ms", _I64),
            ("local_ts_ns", _I64),
            ("sent_ns", _I64),
            ("recv_ns", _I64),
        ]
    ),
    # a field the venue does not send on the market is null
    TICKERS: pa.schema(
        [
            *_KEY_FIELDS,
            ("seq", _I64),
            ("last", _STR),
            ("open_24h", _STR),
            ("high_24h", _STR),
            ("low_24h", _STR),
            ("volume_24h", _STR),
            ("quote_volume_24h", _STR),
            ("bid", _STR),
            ("ask", _STR),
            ("venue_ts_ms", _I64),
            ("local_ts_ns", _I64),
            ("sent_ns", _I64),
            ("recv_ns", _I64),
        ]
    ),
    # a closed bar [start_ms, start_ms + interval_s s); averages: the moving averages after it
    BARS: pa.schema(
        [
            *_KEY_FIELDS,
            ("seq", _I64),
            ("interval_s", _I64),
            ("start_ms", _I64),
            ("source", _STR),
            ("open", _STR),
            ("high", _STR),
            ("low", _STR),
            ("close", _STR),
            ("volume", _STR),
            ("quote_volume", _STR),
            ("vwap", _STR),
            ("trades", _I64),
            ("averages", pa.list_(pa.struct([("kind", _STR), ("window", _I64), ("value", _STR)]))),
            ("sent_ns", _I64),
            ("recv_ns", _I64),
        ]
    ),
    # a hole (reason "gap": events expected..received-1 were not recorded, `lost` of them) or a
    # reset (the runner restarted: its numbering began again at `received`; lost unknown, 0)
    GAPS: pa.schema(
        [
            *_KEY_FIELDS,
            ("on_channel", _STR),  # the channel of the topic with the hole (book, funding, trades…)
            ("topic", _STR),
            ("reason", _STR),
            ("expected", _I64),
            ("received", _I64),
            ("lost", _I64),
            ("recv_ns", _I64),
        ]
    ),
}

Row = tuple[object, ...]


class Part(NamedTuple):
    """Where a row goes: ``venue=<exchange>/instrument=<market>.<SYMBOL>/channel=<channel>/date=<day>``,
    in files named after the runner."""

    runner: str
    venue: str
    instrument: str
    channel: str


def instrument_dir(key: InstrumentKey) -> str:
    """The instrument's partition value: ``perp.BTCUSDT`` (URI-escaped: a symbol may hold ``/``)."""
    return quote(f"{key.kind.value}.{key.symbol}", safe="")


_DAYS: dict[int, str] = {}
_NS_PER_DAY = 86_400 * 10**9


def day_of(ns: int) -> str:
    """The UTC date (``YYYY-MM-DD``) of a time in ns since the epoch."""
    n = ns // _NS_PER_DAY
    day = _DAYS.get(n)
    if day is None:
        day = _DAYS[n] = (dt.date(1970, 1, 1) + dt.timedelta(days=n)).isoformat()
    return day


def _key_cols(runner: str, key: InstrumentKey) -> tuple[str, str, str, str]:
    return (runner, key.exchange.value, key.kind.value, key.symbol)


def book_row(item: Received, book: OrderBook, stale: bool) -> Row:
    return (
        *_key_cols(item.runner, book.key),
        item.seq,
        book.sequence,
        book.venue_ts_ms,
        book.local_ts_ns,
        item.sent_ns,
        item.recv_ns,
        stale,
        [str(lv.price) for lv in book.bids],
        [str(lv.qty) for lv in book.bids],
        [str(lv.price) for lv in book.asks],
        [str(lv.qty) for lv in book.asks],
    )


def funding_row(item: Received, f: FundingRate) -> Row:
    return (
        *_key_cols(item.runner, f.key),
        item.seq,
        f.ts_ms,
        str(f.rate),
        f.interval_ms,
        f.next_funding_ts_ms,
        str(f.mark_price),
        str(f.index_price),
        item.sent_ns,
        item.recv_ns,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def trade_row(item: Received, t: Trade) -> Row:
    return (
        *_key_cols(item.runner, t.key),
        item.seq,
        t.trade_id,
        str(t.price),
        str(t.qty),
        t.side.value,
        t.count,
        t.venue_ts_ms,
        t.local_ts_ns,
        item.sent_ns,
        item.recv_ns,
    )


def ticker_row(item: Received, t: Ticker) -> Row:
    return (
        *_key_cols(item.runner, t.key),
        item.seq,
        str(t.last),
        _text(t.open_24h),
        _text(t.high_24h),
        _text(t.low_24h),
        _text(t.volume_24h),
        _text(t.quote_volume_24h),
        _text(t.bid),
        _text(t.ask),
        t.venue_ts_ms,
        t.local_ts_ns,
        item.sent_ns,
        item.recv_ns,
    )


def bar_row(item: Received, b: Bar, averages: tuple[MovingAverage, ...]) -> Row:
    return (
        *_key_cols(item.runner, b.key),
        item.seq,
        b.interval_s,
        b.start_ms,
        b.source.value,
        str(b.open),
        str(b.high),
        str(b.low),
        str(b.close),
        str(b.volume),
        str(b.quote_volume),
        _text(b.vwap),
        b.trades,
        [{"kind": a.kind.value, "window": a.window, "value": _text(a.value)} for a in averages],
        item.sent_ns,
        item.recv_ns,
    )


def gap_row(item: Received, key: InstrumentKey, channel: str, expected: int) -> Row:
    gap = item.seq > expected
    return (
        *_key_cols(item.runner, key),
        channel,
        item.topic,
        "gap" if gap else "reset",
        expected,
        item.seq,
        item.seq - expected if gap else 0,
        item.recv_ns,
    )
