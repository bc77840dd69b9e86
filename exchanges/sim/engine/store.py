"""OrderStore: every order by id, open orders by book and client id, fills per account book.

Client order ids are unique among the open orders of one account + kind + symbol; a final
order's id may be reused, and a lookup by client id finds the most recent order with it.
Final orders are kept up to ``max_final`` (oldest forgotten first).
"""

from __future__ import annotations

from collections import deque

from strategy_client.model import MarketKind

from .book import Resting
from .orders import SimFill, SimOrder

__all__ = ["OrderStore", "BookKey"]

BookKey = tuple[str, MarketKind, str]
"""(account, kind, symbol)"""


class OrderStore:
    def __init__(self, *, max_final: int, max_fills: int, first_order_id: int = 1) -> None:
        self.by_id: dict[int, SimOrder] = {}
        self.resting: dict[int, Resting] = {}
        self._open: dict[BookKey, dict[int, SimOrder]] = {}
        self._open_cid: dict[tuple[str, MarketKind, str, str], SimOrder] = {}
        self._last_cid: dict[tuple[str, MarketKind, str, str], int] = {}
        self._final: deque[int] = deque()
        self._history: dict[BookKey, dict[int, None]] = {}
        self._fills: dict[BookKey, deque[SimFill]] = {}
        self._max_final = max_final
        self._max_fills = max_fills
        self._next_id = first_order_id

    def next_order_id(self) -> int:
        oid = self._next_id
        self._next_id += 1
        return oid

    def open_with_client_id(self, account: str, kind: MarketKind, symbol: str, cid: str) -> SimOrder | None:
        return self._open_cid.get((account, kind, symbol, cid))

    def add(self, order: SimOrder) -> None:
        """Register a just-accepted (open) order."""
        self.by_id[order.order_id] = order
        key = (order.account, order.kind, order.symbol)
        book = self._open.get(key)
        if book is None:
            book = self._open[key] = {}
        book[order.order_id] = order
        hist = self._history.get(key)
        if hist is None:
            hist = self._history[key] = {}
        hist[order.order_id] = None
        ckey = (order.account, order.kind, order.symbol, order.client_order_id)
        self._open_cid[ckey] = order
        self._last_cid[ckey] = order.order_id

    def close(self, order: SimOrder) -> None:
        """The order became final: it leaves the open indexes but stays queryable."""
        key = (order.account, order.kind, order.symbol)
        book = self._open.get(key)
        if book is not None and book.pop(order.order_id, None) is not None and not book:
            del self._open[key]
        ckey = (order.account, order.kind, order.symbol, order.client_order_id)
        if self._open_cid.get(ckey) is order:
            del self._open_cid[ckey]
        self.resting.pop(order.order_id, None)
        self._final.append(order.order_id)
        while len(self._final) > self._max_final:
            old_id = self._final.popleft()
            old = self.by_id.pop(old_id, None)
            if old is not None:
                okey = (old.account, old.kind, old.symbol, old.client_order_id)
                if self._last_cid.get(okey) == old_id:
                    del self._last_cid[okey]
                hist = self._history.get((old.account, old.kind, old.symbol))
                if hist is not None:
                    hist.pop(old_id, None)

    def find(
        self, account: str, kind: MarketKind, symbol: str, order_id: int | None, cid: str | None
    ) -> SimOrder | None:
        """By id (checked against ``cid`` when both are given) or by client id."""
        if order_id is not None:
            order = self.by_id.get(order_id)
            if order is None or order.account != account or order.kind is not kind or order.symbol != symbol:
                return None
            if cid is not None and order.client_order_id != cid:
                return None
            return order
        if cid is None:
            return None
        last = self._last_cid.get((account, kind, symbol, cid))
        return self.by_id.get(last) if last is not None else None

    def open_orders(self, account: str, kind: MarketKind, symbol: str | None) -> list[SimOrder]:
        if symbol is not None:
            return list(self._open.get((account, kind, symbol), {}).values())
        out: list[SimOrder] = []
        for (acc, k, _sym), book in self._open.items():
            if acc == account and k is kind:
                out.extend(book.values())
        out.sort(key=lambda o: o.order_id)
        return out

    def all_orders(self, account: str, kind: MarketKind, symbol: str) -> list[SimOrder]:
        """Every order of one account book still kept, open or final, ascending by id."""
        by_id = self.by_id
        return [by_id[i] for i in self._history.get((account, kind, symbol), ())]

    def open_count(self, account: str, kind: MarketKind, symbol: str) -> int:
        return len(self._open.get((account, kind, symbol), ()))

    def add_fill(self, order: SimOrder, fill: SimFill) -> None:
        key = (order.account, order.kind, order.symbol)
        fills = self._fills.get(key)
        if fills is None:
            fills = self._fills[key] = deque(maxlen=self._max_fills)
        fills.append(fill)

    def fills(self, account: str, kind: MarketKind, symbol: str) -> list[SimFill]:
        return list(self._fills.get((account, kind, symbol), ()))
