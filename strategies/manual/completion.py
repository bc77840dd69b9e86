"""Tab completion for the manual REPL, as a pure function of the line being edited.

:func:`complete` gets the whole line, where the word being completed starts, and that word's
text; it returns the candidates readline offers. Command names complete in first position;
after a command: instruments (perps bare, ``spot:``/``perp:`` forms, the full key when its
exchange is typed), price sources, order options, and the client ids of open orders (asked of
the runner only when the cursor is where ``cancel <instrument> <client-id>`` wants an id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from strategy_client.model import Exchange, InstrumentKey, MarketKind

from .commands import ALIASES, COMMAND_NAMES, PRICE_SOURCES, CommandError, parse_instrument

__all__ = ["complete", "instrument_candidates", "OPTION_WORDS"]

OPTION_WORDS: tuple[str, ...] = ("gtc", "ioc", "fok", "post", "reduce")
_INSTRUMENT_FIRST = frozenset({"book", "price", "funding", "orders", "leverage", "buy", "sell"})
_PERP_ONLY = frozenset({"funding", "leverage"})


def instrument_candidates(
    text: str, exchange: Exchange, keys: Iterable[InstrumentKey], *, perps_only: bool = False
) -> list[str]:
    """Instrument words starting with ``text`` (case-insensitive): ``SYMBOL`` for perps,
    ``spot:SYMBOL``/``perp:SYMBOL``, and ``exchange:kind:SYMBOL`` once ``text`` names the exchange."""
    low = text.lower()
    words: set[str] = set()
    for key in keys:
        if key.exchange is not exchange or (perps_only and key.kind is not MarketKind.PERP):
            continue
        forms = [f"{key.kind.value}:{key.symbol}"]
        if key.kind is MarketKind.PERP:
            forms.append(key.symbol)
        if low.startswith(f"{exchange.value}:") or (low and f"{exchange.value}:".startswith(low)):
            forms.append(str(key))
        words.update(f for f in forms if f.lower().startswith(low))
    if not low:  # a bare prefix already means perp: do not list every perp twice
        words = {w for w in words if not w.startswith("perp:")}
    return sorted(words)


def complete(
    line: str,
    begidx: int,
    text: str,
    *,
    exchange: Exchange,
    keys: Callable[[], Iterable[InstrumentKey]],
    order_ids: Callable[[InstrumentKey | None], Iterable[str]],
) -> list[str]:
    """The candidates for ``text``, the word of ``line`` that starts at ``begidx``."""
    before = line[:begidx].split()
    if not before:
        return sorted(n for n in COMMAND_NAMES if n.startswith(text.lower()))
    command = ALIASES.get(before[0].lower(), before[0].lower())
    position = len(before)  # 1 = the first argument
    if command == "help":
        return sorted(n for n in COMMAND_NAMES if n.startswith(text.lower())) if position == 1 else []
    if command in _INSTRUMENT_FIRST and position == 1:
        return instrument_candidates(text, exchange, keys(), perps_only=command in _PERP_ONLY)
    if command == "price" and position == 2:
        return sorted(s for s in PRICE_SOURCES if s.startswith(text.lower()))
    if command in ("buy", "sell") and position >= 3:
        used = {w.lower() for w in before[2:]}
        tifs = {"gtc", "ioc", "fok", "post"}
        has_price = sum(1 for w in before[2:] if w[:1].isdigit() or w[:1] == ".") >= 2
        return sorted(
            w
            for w in OPTION_WORDS
            if w not in used and not (w in tifs and (used & tifs or not has_price)) and w.startswith(text.lower())
        )
    if command == "cancel":
        if position == 1:
            return (["all"] if "all".startswith(text.lower()) else []) + instrument_candidates(text, exchange, keys())
        if position == 2:
            if before[1].lower() == "all":
                return instrument_candidates(text, exchange, keys())
            try:
                key = parse_instrument(before[1], exchange)
            except CommandError:
                return []
            return sorted(i for i in order_ids(key) if i.startswith(text))
    return []
