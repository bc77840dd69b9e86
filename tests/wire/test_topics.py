from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from strategy_client.model import Exchange, InstrumentKey, MarketKind
from strategy_client.wire import TopicKind, parse_topic, topic, topic_prefix

symbols = st.from_regex(r"[A-Z0-9][A-Z0-9_\-]{0,15}", fullmatch=True)
keys = st.builds(InstrumentKey, st.sampled_from(list(Exchange)), symbols, st.sampled_from(list(MarketKind)))
instrument_kinds = st.sampled_from(
    [TopicKind.BOOK, TopicKind.EXECUTION, TopicKind.POSITION, TopicKind.FUNDING]
)


@given(instrument_kinds, keys)
def test_topic_round_trip(kind: TopicKind, key: InstrumentKey) -> None:
    parsed = parse_topic(topic(kind, key.exchange, key))
    assert parsed.kind is kind and parsed.key == key and parsed.exchange is key.exchange


@given(instrument_kinds, keys, keys)
def test_prefix_matches_exactly_its_symbol(kind: TopicKind, a: InstrumentKey, b: InstrumentKey) -> None:
    prefix = topic_prefix(kind, a.exchange, a.kind, a.symbol)
    assert topic(kind, b.exchange, b).startswith(prefix) == (a == b)


def test_no_prefix_confusion() -> None:
    k1 = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
    k2 = InstrumentKey(Exchange.BINANCE, "BTCUSDT_PERP", MarketKind.PERP)
    assert not topic(TopicKind.BOOK, k2.exchange, k2).startswith(
        topic_prefix(TopicKind.BOOK, k1.exchange, k1.kind, k1.symbol)
    )
    assert topic(TopicKind.BOOK, k1.exchange, k1).startswith(topic_prefix(TopicKind.BOOK, Exchange.BINANCE))
    assert topic(TopicKind.ACCOUNT, Exchange.OKX) == b"acct|okx|"
    assert topic_prefix() == b""
