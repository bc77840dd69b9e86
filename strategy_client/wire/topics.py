"""Topics: general → specific, ``|``-separated, always ending in ``|``.

``ob|binance|perp|BTCUSDT|`` — kind of event, exchange, market kind, symbol. Because every
part ends with the delimiter, a ZeroMQ prefix subscription to ``ob|binance|perp|BTCUSDT|``
never matches ``BTCUSDT_PERP``, and ``ob|binance|`` receives every book of that runner.
Topics without an instrument stop after the exchange (``acct|binance|``, ``status|binance|``).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from ..model import Exchange, InstrumentKey, MarketKind

__all__ = ["TopicKind", "DELIM", "topic", "topic_prefix", "parse_topic", "ParsedTopic"]

DELIM = "|"


class TopicKind(StrEnum):
    BOOK = "ob"
    EXECUTION = "exec"
    POSITION = "pos"
    FUNDING = "fund"
    ACCOUNT = "acct"
    STATUS = "status"
    RISK = "risk"  # the risk gate's events (RiskGateEvent); per runner, like STATUS
    TRADE = "trade"  # public trades (TradeEvent)
    TICKER = "tick"  # 24 h tickers (TickerEvent)
    BAR = "bar"  # closed bars and moving averages (BarEvent)


INSTRUMENT_TOPICS = frozenset(
    {
        TopicKind.BOOK,
        TopicKind.EXECUTION,
        TopicKind.POSITION,
        TopicKind.FUNDING,
        TopicKind.TRADE,
        TopicKind.TICKER,
        TopicKind.BAR,
    }
)


class ParsedTopic(msgspec.Struct, frozen=True):
    kind: TopicKind
    exchange: Exchange
    key: InstrumentKey | None


def topic(kind: TopicKind, exchange: Exchange, key: InstrumentKey | None = None) -> bytes:
    if kind in INSTRUMENT_TOPICS:
        if key is None:
            raise ValueError(f"topic {kind.value} needs an instrument key")
        return f"{kind.value}|{key.exchange.value}|{key.kind.value}|{key.symbol}|".encode()
    return f"{kind.value}|{exchange.value}|".encode()


def topic_prefix(
    kind: TopicKind | None = None,
    exchange: Exchange | None = None,
    market: MarketKind | None = None,
    symbol: str | None = None,
) -> bytes:
    """The most specific prefix for a filter; parts may only be omitted from the right."""
    parts: list[str] = []
    for part in (kind, exchange, market, symbol):
        if part is None:
            break
        parts.append(part.value if isinstance(part, StrEnum) else part)
    return (DELIM.join(parts) + DELIM).encode() if parts else b""


def parse_topic(raw: bytes) -> ParsedTopic:
    text = raw.decode()
    if not text.endswith(DELIM):
        raise ValueError(f"topic {text!r} does not end with {DELIM!r}")
    parts = text[:-1].split(DELIM)
    kind = TopicKind(parts[0])
    exchange = Exchange(parts[1])
    if kind in INSTRUMENT_TOPICS:
        if len(parts) != 4:
            raise ValueError(f"topic {text!r} needs kind|exchange|market|symbol|")
        return ParsedTopic(kind, exchange, InstrumentKey(exchange, parts[3], MarketKind(parts[2])))
    return ParsedTopic(kind, exchange, None)
