"""What the OKX venue remembers about orders beyond the engine's records.

* **Ids.** ``ordId`` = ``ORD_BASE + engine order id`` for engine orders. Orders OKX accepts and
  cancels at once — a ``post_only`` that would take (``cancelSource`` 31) or a ``fok`` that
  cannot fill (13) — are refused by the engine, so the venue records them itself as
  *auto-canceled* orders with ids from ``AUTO_BASE`` up.
* **Meta.** The OKX-only fields of an order (``ordType`` as sent, ``tag``, ``tgtCcy``,
  ``tdMode``, the client id as sent — empty when none was given).
* **History.** Every order id per instrument in placement order, for ``orders-history``.

Bounded: meta and auto-canceled orders keep the newest ``max_orders`` (oldest forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from exchanges.sim.engine import ExpireReason, SimOrder
from strategy_client.model import MarketKind, OrderStatus

__all__ = ["ORD_BASE", "AUTO_BASE", "OrderMeta", "OrderBookkeeping", "cancel_source", "ord_id", "parse_ord_id"]

ORD_BASE = 2_400_000_000_000_000_000
AUTO_BASE = 2_900_000_000_000_000_000


@dataclass(slots=True)
class OrderMeta:
    ord_type: str
    td_mode: str
    tag: str = ""
    tgt_ccy: str = ""
    cl_ord_id: str = ""  # as sent ("" when the client gave none)
    cancel_source: str = ""  # set for auto-canceled orders and user cancels


def ord_id(order_id: int) -> str:
    """The ``ordId`` of an engine order (auto-canceled orders already carry theirs)."""
    return str(order_id if order_id >= AUTO_BASE else ORD_BASE + order_id)


def parse_ord_id(text: str) -> int | None:
    """Engine order id (or the auto-canceled id) of an ``ordId``; None when it cannot be ours."""
    if not text.isdigit() or len(text) > 19:
        return None
    n = int(text)
    if n >= AUTO_BASE:
        return n
    if n > ORD_BASE:
        return n - ORD_BASE
    return None


def cancel_source(order: SimOrder, meta: OrderMeta | None) -> str:
    """``cancelSource`` of a canceled order: user 1, system 0, FOK 13, IOC 14, post-only 31, STP 32."""
    if order.status is OrderStatus.FILLED or order.is_open:
        return ""
    if meta is not None and meta.cancel_source:
        return meta.cancel_source
    if order.status is OrderStatus.CANCELED:
        return "1"
    match order.expire_reason:
        case ExpireReason.IOC_REMAINDER | ExpireReason.BOOK_EXHAUSTED:
            return "14"
        case ExpireReason.SELF_TRADE:
            return "32"
        case _:
            return "0"


class OrderBookkeeping:
    def __init__(self, max_orders: int = 200_000) -> None:
        self._max = max_orders
        self._meta: OrderedDict[int, OrderMeta] = OrderedDict()
        self._auto: OrderedDict[int, SimOrder] = OrderedDict()
        self._next_auto = AUTO_BASE
        self.pending_meta: OrderMeta | None = None  # meta of the order being placed right now
        self.history: dict[tuple[MarketKind, str], list[int]] = {}

    # -- meta -------------------------------------------------------------------------------

    def set_meta(self, order_id: int, meta: OrderMeta) -> None:
        self._meta[order_id] = meta
        if len(self._meta) > self._max:
            self._meta.popitem(last=False)

    def meta(self, order_id: int) -> OrderMeta | None:
        return self._meta.get(order_id)

    def record(self, kind: MarketKind, symbol: str, order_id: int) -> None:
        ids = self.history.setdefault((kind, symbol), [])
        ids.append(order_id)
        if len(ids) > self._max:
            del ids[: len(ids) - self._max]

    # -- auto-canceled orders ---------------------------------------------------------------

    def new_auto_id(self) -> int:
        self._next_auto += 1
        return self._next_auto

    def add_auto(self, order: SimOrder, meta: OrderMeta) -> None:
        self._auto[order.order_id] = order
        self.set_meta(order.order_id, meta)
        self.record(order.kind, order.symbol, order.order_id)
        if len(self._auto) > self._max:
            self._auto.popitem(last=False)

    def auto(self, order_id: int) -> SimOrder | None:
        return self._auto.get(order_id)

    def auto_by_client_id(self, kind: MarketKind, symbol: str, client_id: str) -> SimOrder | None:
        """The newest auto-canceled order with this client id (as sent) on the instrument."""
        for order in reversed(self._auto.values()):
            if order.kind is kind and order.symbol == symbol and order.client_order_id == client_id:
                return order
        return None
