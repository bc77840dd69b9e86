"""Rolling 24 h trade statistics per instrument, for tickers (last price, high/low, volume).

Fed from the engine's ``TradeExecuted`` events. Memory is bounded: trades older than 24 h are
dropped, and at most ``max_trades`` are kept per instrument (oldest first).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from exchanges.sim.engine import PublicTrade
from strategy_client.model import MarketKind

__all__ = ["Tape", "TapeStats"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
ZERO = Decimal(0)


class TapeStats:
    __slots__ = ("last", "high", "low", "volume", "turnover", "first_24h", "first_1h")

    def __init__(self) -> None:
        self.last: Decimal | None = None
        self.high = ZERO
        self.low = ZERO
        self.volume = ZERO
        self.turnover = ZERO
        self.first_24h: Decimal | None = None
        self.first_1h: Decimal | None = None


class Tape:
    def __init__(self, max_trades: int = 100_000) -> None:
        self._max = max_trades
        self._trades: dict[tuple[MarketKind, str], deque[tuple[int, Decimal, Decimal]]] = {}

    def record(self, kind: MarketKind, symbol: str, trade: PublicTrade) -> None:
        trades = self._trades.setdefault((kind, symbol), deque())
        trades.append((trade.ts_ms, trade.price, trade.qty))
        if len(trades) > self._max:
            trades.popleft()

    def stats(self, kind: MarketKind, symbol: str, now_ms: int) -> TapeStats:
        out = TapeStats()
        trades = self._trades.get((kind, symbol))
        if not trades:
            return out
        while trades and trades[0][0] < now_ms - DAY_MS:
            trades.popleft()
        if not trades:
            return out
        out.last = trades[-1][1]
        out.first_24h = trades[0][1]
        out.high = max(t[1] for t in trades)
        out.low = min(t[1] for t in trades)
        for ts, price, qty in trades:
            out.volume += qty
            out.turnover += price * qty
            if out.first_1h is None and ts >= now_ms - HOUR_MS:
                out.first_1h = price
        return out
