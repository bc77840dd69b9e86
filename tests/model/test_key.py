from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategy_client.model import Exchange, InstrumentKey, InvalidInstrumentKey, MarketKind

symbols = st.from_regex(r"[A-Z0-9][A-Z0-9_\-]{0,20}", fullmatch=True)


@given(st.sampled_from(list(Exchange)), symbols, st.sampled_from(list(MarketKind)))
def test_text_form_round_trips(exchange: Exchange, symbol: str, kind: MarketKind) -> None:
    key = InstrumentKey(exchange, symbol, kind)
    assert InstrumentKey.parse(str(key)) == key
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(key), type=InstrumentKey) == key


def test_canonical_form() -> None:
    assert str(InstrumentKey.parse(" Binance:PERP:btcusdt ")) == "binance:perp:BTCUSDT"
    assert str(InstrumentKey.parse("okx:spot:BTC-USDT")) == "okx:spot:BTC-USDT"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("BTCUSDT", "exchange:kind:SYMBOL"),
        ("kraken:spot:BTCUSD", "unknown exchange 'kraken'"),
        ("binance:future:BTCUSDT", "unknown market kind 'future'"),
        ("binance:spot:BTC USDT", "bad symbol"),
        ("binance:spot:", "bad symbol"),
    ],
)
def test_errors_name_the_part(text: str, needle: str) -> None:
    with pytest.raises(InvalidInstrumentKey, match=needle):
        InstrumentKey.parse(text)
