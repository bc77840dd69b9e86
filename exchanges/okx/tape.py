"""OKX public trades and 24 h tickers, pushed (docs/market-data.md, "Channels").

- trades: the ``trades`` channel per instrument on ``/ws/v5/public`` → one
  :class:`~strategy_client.model.Trade` per item: ``trade_id`` = ``tradeId``, ``side`` = the
  taker's, ``qty`` = ``sz`` in base units (swap contracts × ``ctVal``), ``count`` = ``count``
  (trades aggregated at one price), ``venue_ts_ms`` = ``ts``;
- tickers: the ``tickers`` channel → :class:`~strategy_client.model.Ticker`; base volume is
  ``vol24h`` on spot and ``volCcy24h`` on swaps (whose ``vol24h`` counts contracts), quote volume
  ``volCcy24h`` on spot (none on swaps).

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
from strategy_client.model import InstrumentKey, Side, Ticker, Trade

from .gate import ConnectGate
from .parse import dec, dec_or
from .symbols import SymbolMap, VenueInstrument
from .urls import OkxUrls
from .ws import OkxWs
from .ws_schemas import Arg

__all__ = ["TradeItem", "TickerItem", "parse_trade", "parse_ticker", "OkxTape"]

_SIDES = {"buy": Side.BUY, "sell": Side.SELL}


class TradeItem(msgspec.Struct, frozen=True, gc=False):
    instId: str
    tradeId: str
    px: str
    sz: str
    side: str
    ts: str
    count: str = "1"


class TickerItem(msgspec.Struct, frozen=True, gc=False):
    instId: str
    last: str
    ts: str
    askPx: str = ""
    bidPx: str = ""
    open24h: str = ""
    high24h: str = ""
    low24h: str = ""
    volCcy24h: str = ""
    vol24h: str = ""


class _Push(msgspec.Struct, frozen=True, gc=False):
    arg: Arg | None = None
    data: msgspec.Raw = msgspec.Raw(b"[]")


_push = msgspec.json.Decoder(_Push).decode
_trades = msgspec.json.Decoder(list[TradeItem]).decode
_tickers = msgspec.json.Decoder(list[TickerItem]).decode


def _ms(text: str, what: str) -> int:
    if not text.isdigit():
        raise MalformedPayload(f"field {what}: {text!r} is not a time in ms", venue="okx")
    return int(text)


def parse_trade(t: TradeItem, inst: VenueInstrument, recv_ns: int) -> Trade:
    side = _SIDES.get(t.side)
    if side is None:
        raise MalformedPayload(f"field side: {t.side!r} is not buy or sell", venue="okx")
    count = int(t.count) if t.count.isdigit() and int(t.count) > 0 else 1
    return Trade(
        key=inst.key,
        trade_id=t.tradeId,
        price=dec(t.px, "px"),
        qty=inst.to_base(dec(t.sz, "sz")),
        side=side,
        venue_ts_ms=_ms(t.ts, "ts"),
        local_ts_ns=recv_ns,
        count=count,
    )


def _opt(text: str, what: str) -> Decimal | None:
    value = dec_or(text, what)
    return value if value else None


def parse_ticker(t: TickerItem, inst: VenueInstrument, recv_ns: int) -> Ticker:
    swap = inst.is_swap
    return Ticker(
        key=inst.key,
        last=dec(t.last, "last"),
        open_24h=_opt(t.open24h, "open24h"),
        high_24h=_opt(t.high24h, "high24h"),
        low_24h=_opt(t.low24h, "low24h"),
        volume_24h=dec_or(t.volCcy24h if swap else t.vol24h, "vol24h"),
        quote_volume_24h=None if swap else dec_or(t.volCcy24h, "volCcy24h"),
        bid=_opt(t.bidPx, "bidPx"),
        ask=_opt(t.askPx, "askPx"),
        venue_ts_ms=_ms(t.ts, "ts"),
        local_ts_ns=recv_ns,
    )


class OkxTape:
    """The trade and ticker streams of a set of instruments (see the module doc)."""

    def __init__(
        self,
        urls: OkxUrls,
        symbols: Callable[[], SymbolMap],
        *,
        on_status: Callable[[StreamStatus], None],
        errors: ErrorTally | None = None,
        gate: ConnectGate | None = None,
    ) -> None:
        self._urls = urls
        self._symbols = symbols
        self._on_status = on_status
        self.errors = errors or ErrorTally("okx:tape")
        self._gate = gate
        self._serial = 0

    def parse(self, frame: Frame) -> Sequence[Trade | Ticker]:
        try:
            msg = _push(frame.data)
            if msg.arg is None:
                return ()
            symbols = self._symbols()
            channel = msg.arg.channel
            items: list[TradeItem] | list[TickerItem]
            if channel == "trades":
                items = _trades(msg.data)
            elif channel == "tickers":
                items = _tickers(msg.data)
            else:
                self.errors.record(f"tape:unexpected:{channel}", frame.data)
                return ()
            out: list[Trade | Ticker] = []
            for item in items:
                inst = symbols.by_id(item.instId)
                if inst is not None:
                    out.append(
                        parse_trade(item, inst, frame.recv_ns)
                        if isinstance(item, TradeItem)
                        else parse_ticker(item, inst, frame.recv_ns)
                    )
            return out
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.errors.record("tape:malformed", frame.data, exc)
        except (MalformedPayload, ValueError) as exc:
            self.errors.record("tape:bad_number", frame.data, exc)
        return ()

    def connections(
        self, trades: Sequence[InstrumentKey], tickers: Sequence[InstrumentKey], sink: MarketSink
    ) -> list[OkxWs]:
        symbols = self._symbols()
        args = [{"channel": "trades", "instId": symbols.require(k).inst_id} for k in dict.fromkeys(trades)]
        args += [{"channel": "tickers", "instId": symbols.require(k).inst_id} for k in dict.fromkeys(tickers)]
        if not args:
            return []
        push: ParsingSink[Trade | Ticker] = ParsingSink(sink, self._on_status)
        self._serial += 1
        name = f"okx:public:tape#{self._serial}"
        push.parsers[name] = self.parse
        return [OkxWs(name, self._urls.ws_public, gate=self._gate, subscriptions=args, tally=self.errors, sink=push)]
