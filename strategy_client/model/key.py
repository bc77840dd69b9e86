"""InstrumentKey and its one text form.

The text form is ``exchange:kind:SYMBOL`` — general to specific, e.g. ``binance:perp:BTCUSDT``
or ``okx:spot:BTC-USDT``. It is used everywhere a key is written as text: CLI arguments, the
REPL, log lines, topics and the wire. Parsing accepts any case for the exchange and kind and
upper-cases the symbol; :meth:`InstrumentKey.__str__` always produces the canonical form.
"""

from __future__ import annotations

import re

import msgspec

from .enums import Exchange, MarketKind

__all__ = ["InstrumentKey", "InvalidInstrumentKey"]

_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9_\-./]{0,63}$")


class InvalidInstrumentKey(ValueError):
    """A text form that is not ``exchange:kind:SYMBOL``."""


class InstrumentKey(msgspec.Struct, frozen=True, order=True, array_like=True):
    exchange: Exchange
    symbol: str
    kind: MarketKind

    def __str__(self) -> str:
        return f"{self.exchange.value}:{self.kind.value}:{self.symbol}"

    @classmethod
    def parse(cls, text: str) -> InstrumentKey:
        """Parse the canonical text form; the error names the part that is wrong."""
        parts = text.strip().split(":")
        if len(parts) != 3:
            raise InvalidInstrumentKey(
                f"instrument key {text!r} must look like exchange:kind:SYMBOL, e.g. binance:perp:BTCUSDT"
            )
        exch, kind, symbol = parts
        try:
            exchange = Exchange(exch.lower())
        except ValueError:
            known = ", ".join(e.value for e in Exchange)
            raise InvalidInstrumentKey(f"unknown exchange {exch!r} in {text!r} (known: {known})") from None
        try:
            market = MarketKind(kind.lower())
        except ValueError:
            known = ", ".join(k.value for k in MarketKind)
            raise InvalidInstrumentKey(f"unknown market kind {kind!r} in {text!r} (known: {known})") from None
        sym = symbol.upper()
        if not _SYMBOL_RE.match(sym):
            raise InvalidInstrumentKey(f"bad symbol {symbol!r} in {text!r}")
        return cls(exchange, sym, market)
