"""Public topic names (reference §6): ``orderbook.{depth}.{symbol}``, ``tickers.{symbol}``,
``publicTrade.{symbol}`` — parsed into a :class:`Topic`, or a Bybit error text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Topic", "TopicKind", "parse_topic", "DEPTHS", "DEPTH_PERIOD_MS", "TopicError"]

TopicKind = Literal["orderbook", "tickers", "trade"]
DEPTHS = (1, 50, 200, 1000)
#: Push period per depth (Bybit: 10, 20, 100 and 200 ms; depth 1 is pushed at 20 ms here).
DEPTH_PERIOD_MS = {1: 20, 50: 20, 200: 100, 1000: 200}


class TopicError(Exception):
    """A topic Bybit would refuse; ``msg`` is its ``ret_msg``."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    kind: TopicKind
    symbol: str
    depth: int = 0


def parse_topic(name: str, symbols: set[str]) -> Topic:
    parts = name.split(".")
    if parts[0] == "orderbook" and len(parts) == 3:
        if not parts[1].isdigit() or int(parts[1]) not in DEPTHS:
            raise TopicError(f"error:handler not found,topic:{name}")
        kind: TopicKind = "orderbook"
        depth, symbol = int(parts[1]), parts[2]
    elif parts[0] == "tickers" and len(parts) == 2:
        kind, depth, symbol = "tickers", 0, parts[1]
    elif parts[0] == "publicTrade" and len(parts) == 2:
        kind, depth, symbol = "trade", 0, parts[1]
    else:
        raise TopicError(f"error:handler not found,topic:{name}")
    if symbol not in symbols:
        raise TopicError(f"Invalid symbol :[{name}]")
    return Topic(name, kind, symbol, depth)
