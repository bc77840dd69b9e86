"""Binance public trades and 24 h tickers, pushed (docs/market-data.md, "Channels").

- trades: ``<symbol>@aggTrade`` (spot on ``{spot_ws}/stream``, USD-M on ``{futures_ws}/market/stream``)
  → :class:`~strategy_client.model.Trade`: ``trade_id`` = the aggregate id ``a`` (strictly
  increasing per symbol), ``count`` = ``l - f + 1`` trades, ``side`` the taker's (``m``: the
  buyer is the maker → the taker sold), ``venue_ts_ms`` = the trade time ``T``;
- tickers: ``<symbol>@ticker`` (same hosts; sent every second while subscribed) →
  :class:`~strategy_client.model.Ticker` (spot carries the best bid/ask, USD-M does not).

Each frame is parsed in the socket reader and the item handed to the sink (push mode, no buffer:
the runner's market feed is the one drop-oldest queue). Bad frames are counted by kind in
``errors`` and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal, InvalidOperation

import msgspec

from exchanges.base import MarketSink, StreamStatus
from exchanges.transport.push import ParsingSink
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame
from strategy_client.model import Exchange, InstrumentKey, MarketKind, Side, Ticker, Trade

from .urls import BinanceUrls
from .ws import BinanceWs
from .ws_parse import PayloadError
from .ws_schemas import Combined

__all__ = [
    "AggTrade",
    "Ticker24h",
    "parse_agg_trade",
    "parse_ticker",
    "BinanceTape",
    "combined_streams",
    "STREAMS_PER_CONNECTION",
]

STREAMS_PER_CONNECTION = 200


def combined_streams(
    urls: BinanceUrls, keys: Sequence[InstrumentKey], suffix: str, futures_group: str
) -> Iterator[tuple[MarketKind, list[InstrumentKey], str]]:
    """The combined-stream connections for ``<symbol>@<suffix>`` of ``keys``: (market, the
    instruments, the URL) per chunk of ``STREAMS_PER_CONNECTION`` — spot on ``/stream``, USD-M on
    ``/<futures_group>/stream`` (``public``: depth, bookTicker; ``market``: the rest)."""
    for kind in (MarketKind.SPOT, MarketKind.PERP):
        chosen = [k for k in dict.fromkeys(keys) if k.kind is kind]
        base = urls.spot_ws + "/stream" if kind is MarketKind.SPOT else f"{urls.futures_ws}/{futures_group}/stream"
        for i in range(0, len(chosen), STREAMS_PER_CONNECTION):
            chunk = chosen[i : i + STREAMS_PER_CONNECTION]
            yield kind, chunk, f"{base}?streams=" + "/".join(f"{k.symbol.lower()}@{suffix}" for k in chunk)


class AggTrade(msgspec.Struct, frozen=True, gc=False):
    """``aggTrade`` (spot adds ``M``, USD-M adds ``nq``; neither is read)."""

    s: str
    a: int
    p: str
    q: str
    f: int
    last: int = msgspec.field(name="l")
    T: int = 0
    m: bool = False


class Ticker24h(msgspec.Struct, frozen=True, gc=False):
    """``24hrTicker``: spot adds the best bid/ask (``b``, ``a``); USD-M has none."""

    E: int
    s: str
    c: str
    o: str
    h: str
    low: str = msgspec.field(name="l")
    v: str = "0"
    q: str = "0"
    b: str | None = None
    a: str | None = None


_agg = msgspec.json.Decoder(Combined[AggTrade]).decode
_ticker = msgspec.json.Decoder(Combined[Ticker24h]).decode


def _dec(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise PayloadError("bad_number", f"{what}: {text!r} is not a number") from None
    if not value.is_finite():
        raise PayloadError("bad_number", f"{what}: {text!r} is not finite")
    return value


def parse_agg_trade(msg: AggTrade, kind: MarketKind, recv_ns: int) -> Trade:
    return Trade(
        key=InstrumentKey(Exchange.BINANCE, msg.s, kind),
        trade_id=str(msg.a),
        price=_dec(msg.p, "aggTrade p"),
        qty=_dec(msg.q, "aggTrade q"),
        side=Side.SELL if msg.m else Side.BUY,
        venue_ts_ms=msg.T,
        local_ts_ns=recv_ns,
        count=max(1, msg.last - msg.f + 1),
    )


def parse_ticker(msg: Ticker24h, kind: MarketKind, recv_ns: int) -> Ticker:
    bid = _dec(msg.b, "ticker b") if msg.b is not None else None
    ask = _dec(msg.a, "ticker a") if msg.a is not None else None
    return Ticker(
        key=InstrumentKey(Exchange.BINANCE, msg.s, kind),
        last=_dec(msg.c, "ticker c"),
        open_24h=_dec(msg.o, "ticker o"),
        high_24h=_dec(msg.h, "ticker h"),
        low_24h=_dec(msg.low, "ticker l"),
        volume_24h=_dec(msg.v, "ticker v"),
        quote_volume_24h=_dec(msg.q, "ticker q"),
        bid=bid or None,  # a side with nothing on it is "0" on Binance
        ask=ask or None,
        venue_ts_ms=msg.E,
        local_ts_ns=recv_ns,
    )


class BinanceTape:
    """The trade and ticker streams of a set of instruments (see the module doc)."""

    def __init__(
        self,
        urls: BinanceUrls,
        *,
        on_status: Callable[[StreamStatus], None],
        errors: ErrorTally | None = None,
        ping_interval_s: float | None = 20.0,
    ) -> None:
        self._urls = urls
        self._on_status = on_status
        self.errors = errors or ErrorTally("binance:tape")
        self._ping_interval_s = ping_interval_s
        self._serial = 0

    def _parser(self, what: str, kind: MarketKind) -> Callable[[Frame], tuple[Trade | Ticker, ...]]:
        def parse(frame: Frame) -> tuple[Trade | Ticker, ...]:
            try:
                if what == "aggTrade":
                    return (parse_agg_trade(_agg(frame.data).data, kind, frame.recv_ns),)
                return (parse_ticker(_ticker(frame.data).data, kind, frame.recv_ns),)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self.errors.record(f"{what}:malformed", frame.data, exc)
            except (PayloadError, ValueError) as exc:
                self.errors.record(f"{what}:bad_number", frame.data, exc)
            return ()

        return parse

    def connections(
        self, trades: Sequence[InstrumentKey], tickers: Sequence[InstrumentKey], sink: MarketSink
    ) -> list[BinanceWs]:
        """The connections (not started) that push the trades of ``trades`` and the tickers of
        ``tickers`` into ``sink``."""
        push: ParsingSink[Trade | Ticker] = ParsingSink(sink, self._on_status)
        conns: list[BinanceWs] = []
        for what, keys in (("aggTrade", trades), ("ticker", tickers)):
            for kind, _chunk, url in combined_streams(self._urls, keys, what, "market"):
                self._serial += 1
                name = f"binance:{kind.value}:{what}#{self._serial}"
                push.parsers[name] = self._parser(what, kind)
                conns.append(BinanceWs(name, url, tally=self.errors, sink=push, ping_interval_s=self._ping_interval_s))
        return conns
