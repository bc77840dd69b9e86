"""Bybit public trades and 24 h tickers, pushed (docs/market-data.md, "Channels").

- trades: ``publicTrade.{symbol}`` on ``/v5/public/spot`` and ``/v5/public/linear`` → one
  :class:`~strategy_client.model.Trade` per item: ``trade_id`` = ``i`` (the venue's trade id,
  a UUID on linear), ``side`` = ``S`` (the taker's), ``venue_ts_ms`` = ``T``;
- tickers: ``tickers.{symbol}`` → :class:`~strategy_client.model.Ticker`. Spot sends a full
  ``snapshot`` each time; linear a ``snapshot`` then ``delta``s that carry only the changed
  fields, so each symbol's fields are merged (a delta before any snapshot is counted and
  skipped; a new connection starts over). ``open_24h`` = ``prevPrice24h``, ``volume_24h`` =
  ``volume24h`` (base), ``quote_volume_24h`` = ``turnover24h``; bid/ask from ``bid1Price`` /
  ``ask1Price`` where sent (linear).

Frames are parsed in the socket reader (push mode) and the items handed to the sink; bad frames
are counted by kind in ``errors`` and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import msgspec

from exchanges.base import MarketSink, StreamStatus
from exchanges.errors import MalformedPayload
from exchanges.transport.push import ParsingSink
from exchanges.transport.tally import ErrorTally
from exchanges.transport.ws import Frame
from strategy_client.model import InstrumentKey, MarketKind, Side, Ticker, Trade

from .parse import SymbolMap, dec
from .urls import BybitUrls
from .ws import BybitWs
from .ws_schemas import HEAD_DECODER

__all__ = ["TradeItem", "TradeMsg", "TickerFields", "parse_trades", "parse_ticker", "BybitTape"]

_SPOT_ARGS = 10
_LINEAR_ARGS = 100
_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
_TICKER_FIELDS = (
    "lastPrice",
    "prevPrice24h",
    "highPrice24h",
    "lowPrice24h",
    "volume24h",
    "turnover24h",
    "bid1Price",
    "ask1Price",
)


class TradeItem(msgspec.Struct, frozen=True, gc=False):
    T: int
    s: str
    S: str
    v: str
    p: str
    i: str


class TradeMsg(msgspec.Struct, frozen=True, gc=False):
    topic: str
    data: list[TradeItem]
    ts: int = 0


class TickerFields(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    symbol: str
    lastPrice: str | None = None
    prevPrice24h: str | None = None
    highPrice24h: str | None = None
    lowPrice24h: str | None = None
    volume24h: str | None = None
    turnover24h: str | None = None
    bid1Price: str | None = None
    ask1Price: str | None = None


class TickerFrame(msgspec.Struct, frozen=True, gc=False):
    topic: str
    type: str
    data: TickerFields
    ts: int = 0


_trades = msgspec.json.Decoder(TradeMsg).decode
_ticker = msgspec.json.Decoder(TickerFrame).decode


def parse_trades(msg: TradeMsg, key_of: Callable[[str], InstrumentKey], recv_ns: int) -> list[Trade]:
    out: list[Trade] = []
    for t in msg.data:
        side = _SIDES.get(t.S)
        if side is None:
            raise MalformedPayload(f"publicTrade S: {t.S!r} is not Buy or Sell", venue="bybit")
        out.append(
            Trade(
                key=key_of(t.s),
                trade_id=t.i,
                price=dec(t.p, "publicTrade p"),
                qty=dec(t.v, "publicTrade v"),
                side=side,
                venue_ts_ms=t.T,
                local_ts_ns=recv_ns,
            )
        )
    return out


def _opt(fields: dict[str, str], name: str) -> Decimal | None:
    text = fields.get(name)
    if not text:
        return None
    value = dec(text, f"tickers {name}")
    return value if value else None


def parse_ticker(fields: dict[str, str], key: InstrumentKey, ts_ms: int, recv_ns: int) -> Ticker | None:
    """The ticker of the merged ``fields``; None until the last price is known."""
    if not fields.get("lastPrice"):
        return None
    return Ticker(
        key=key,
        last=dec(fields["lastPrice"], "tickers lastPrice"),
        open_24h=_opt(fields, "prevPrice24h"),
        high_24h=_opt(fields, "highPrice24h"),
        low_24h=_opt(fields, "lowPrice24h"),
        volume_24h=dec(fields.get("volume24h", ""), "tickers volume24h"),
        quote_volume_24h=dec(fields.get("turnover24h", ""), "tickers turnover24h"),
        bid=_opt(fields, "bid1Price"),
        ask=_opt(fields, "ask1Price"),
        venue_ts_ms=ts_ms,
        local_ts_ns=recv_ns,
    )


class _Parser:
    """One connection's frames: trades as they come, tickers merged per symbol."""

    def __init__(self, owner: BybitTape, kind: MarketKind) -> None:
        self._owner = owner
        self._kind = kind
        self._tickers: dict[str, dict[str, str]] = {}

    def reset(self) -> None:
        self._tickers.clear()

    def _key(self, native: str) -> InstrumentKey:
        return self._owner.symbols.key(self._kind, native)

    def __call__(self, frame: Frame) -> Sequence[Trade | Ticker]:
        errors = self._owner.errors
        try:
            topic = HEAD_DECODER.decode(frame.data).topic
            if topic.startswith("publicTrade."):
                return parse_trades(_trades(frame.data), self._key, frame.recv_ns)
            if topic.startswith("tickers."):
                return self._ticker(frame)
            if topic:
                errors.record("tape:unexpected_topic", frame.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            errors.record("tape:malformed", frame.data, exc)
        except (MalformedPayload, ValueError) as exc:
            errors.record("tape:bad_number", frame.data, exc)
        return ()

    def _ticker(self, frame: Frame) -> Sequence[Ticker]:
        msg = _ticker(frame.data)
        native = msg.data.symbol
        fields = self._tickers.get(native)
        if msg.type == "snapshot":
            fields = self._tickers[native] = {}
        elif fields is None:
            self._owner.errors.record("tickers:delta_before_snapshot", frame.data)
            return ()
        for name in _TICKER_FIELDS:
            value = getattr(msg.data, name)
            if value is not None:
                fields[name] = value
        ticker = parse_ticker(fields, self._key(native), msg.ts, frame.recv_ns)
        return (ticker,) if ticker is not None else ()


class BybitTape:
    """The trade and ticker streams of a set of instruments (see the module doc)."""

    def __init__(
        self,
        urls: BybitUrls,
        symbols: SymbolMap,
        *,
        on_status: Callable[[StreamStatus], None],
        errors: ErrorTally | None = None,
    ) -> None:
        self._urls = urls
        self.symbols = symbols
        self._on_status = on_status
        self.errors = errors or ErrorTally("bybit:tape")
        self._serial = 0

    def connections(
        self, trades: Sequence[InstrumentKey], tickers: Sequence[InstrumentKey], sink: MarketSink
    ) -> list[BybitWs]:
        parsers: dict[str, _Parser] = {}

        def on_status(status: StreamStatus) -> None:
            if not status.connected and status.stream in parsers:
                parsers[status.stream].reset()  # a new connection starts with snapshots
            self._on_status(status)

        push: ParsingSink[Trade | Ticker] = ParsingSink(sink, on_status)
        conns: list[BybitWs] = []
        for kind in (MarketKind.SPOT, MarketKind.PERP):
            topics = [f"publicTrade.{self.symbols.native(k)}" for k in dict.fromkeys(trades) if k.kind is kind]
            topics += [f"tickers.{self.symbols.native(k)}" for k in dict.fromkeys(tickers) if k.kind is kind]
            if not topics:
                continue
            spot = kind is MarketKind.SPOT
            self._serial += 1
            name = f"bybit:{kind.value}:tape#{self._serial}"
            parsers[name] = _Parser(self, kind)
            push.parsers[name] = parsers[name]
            conns.append(
                BybitWs(
                    name,
                    self._urls.public_spot if spot else self._urls.public_linear,
                    topics=topics,
                    max_args=_SPOT_ARGS if spot else _LINEAR_ARGS,
                    tally=self.errors,
                    sink=push,
                )
            )
        return conns
