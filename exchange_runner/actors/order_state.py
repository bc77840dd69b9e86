"""Pure bookkeeping of orders: merge updates from any source, decide what to publish.

Sources disagree in timing: the placement reply, the user-data stream and REST reconciles can
arrive in any order. The rules:

* an order never moves backwards: a final status is never left, the filled quantity never
  shrinks, a stale update (less filled, or open after final) is ignored;
* PENDING (sent, no answer yet) may become UNKNOWN (the answer was lost); UNKNOWN is left only
  for what the venue says (NEW, a fill, a final status), never back to PENDING;
* fills are counted once, by trade id;
* an event is produced for every forward change, with the kind taken from the new state.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

import msgspec

from exchanges.base import ExecType, OrderUpdate
from strategy_client.model import Fill, InstrumentKey, Order, OrderStatus
from strategy_client.wire import OrderEvent, OrderEventKind

__all__ = ["OrderTable", "merge_order", "event_kind"]

_RANK = {
    OrderStatus.PENDING: 0,
    OrderStatus.UNKNOWN: 1,
    OrderStatus.NEW: 2,
    OrderStatus.PARTIALLY_FILLED: 3,
}


def event_kind(order: Order, exec_type: ExecType | None) -> OrderEventKind:
    status = order.status
    if status is OrderStatus.FILLED:
        return OrderEventKind.FILL
    if status is OrderStatus.CANCELED:
        return OrderEventKind.CANCEL
    if status is OrderStatus.EXPIRED:
        return OrderEventKind.EXPIRE
    if status is OrderStatus.REJECTED:
        return OrderEventKind.REJECT
    if status is OrderStatus.UNKNOWN:
        return OrderEventKind.UNKNOWN
    if status is OrderStatus.PARTIALLY_FILLED or exec_type is ExecType.TRADE:
        return OrderEventKind.PARTIAL_FILL
    return OrderEventKind.NEW


def merge_order(known: Order | None, incoming: Order) -> Order | None:
    """The merged order if ``incoming`` moves it forward, else None (nothing new)."""
    if known is None:
        return incoming
    if known.status.is_final:
        # a final order only learns missing details (e.g. avg price) — never a new status
        if incoming.status == known.status and incoming.filled_qty > known.filled_qty:
            return incoming
        return None
    if incoming.filled_qty < known.filled_qty:
        return None
    if incoming.status.is_final:
        return _keep_ids(known, incoming)
    if incoming.filled_qty > known.filled_qty:
        return _keep_ids(known, incoming)
    if _RANK.get(incoming.status, 0) > _RANK.get(known.status, 0):
        return _keep_ids(known, incoming)
    return None


def _keep_ids(known: Order, incoming: Order) -> Order:
    changes: dict[str, object] = {}
    if not incoming.venue_id and known.venue_id:
        changes["venue_id"] = known.venue_id
    if not incoming.created_ts_ms and known.created_ts_ms:
        changes["created_ts_ms"] = known.created_ts_ms
    return msgspec.structs.replace(incoming, **changes) if changes else incoming


def _maybe_live(order: Order) -> bool:
    return order.status.is_open or order.status is OrderStatus.UNKNOWN


class OrderTable:
    """Orders by client id; active ones indexed, final ones kept in a bounded LRU."""

    def __init__(self, keep_final: int = 10_000) -> None:
        self.active: dict[str, Order] = {}
        self.final: OrderedDict[str, Order] = OrderedDict()
        self.by_venue_id: dict[str, str] = {}
        self.trade_ids: dict[str, set[str]] = {}
        self.accounted_fill_qty: dict[str, Decimal] = {}
        self.keep_final = keep_final

    def get(self, client_id: str) -> Order | None:
        return self.active.get(client_id) or self.final.get(client_id)

    def client_id_for(self, venue_id: str) -> str | None:
        return self.by_venue_id.get(venue_id)

    def open_orders(self, key: InstrumentKey | None = None) -> list[Order]:
        """Orders that may rest at the venue: open ones and UNKNOWN ones (their fate is not
        known, so they may be live); PENDING ones (placement in flight) are not listed."""
        return [o for o in self.active.values() if _maybe_live(o) and (key is None or o.key == key)]

    def unknown(self) -> list[Order]:
        return [o for o in self.active.values() if o.status is OrderStatus.UNKNOWN]

    def track(self, order: Order) -> None:
        """Record an order we are about to send (status PENDING)."""
        self.active[order.client_id] = order

    def mark_unknown(self, client_id: str, ts_ms: int) -> OrderEvent | None:
        """PENDING → UNKNOWN (the venue's answer was lost); anything else is left alone."""
        known = self.active.get(client_id)
        if known is None or known.status is not OrderStatus.PENDING:
            return None
        return self.apply(msgspec.structs.replace(known, status=OrderStatus.UNKNOWN, updated_ts_ms=ts_ms))

    def apply(self, order: Order, fill: Fill | None = None, exec_type: ExecType | None = None) -> OrderEvent | None:
        """Merge an update; returns the event to publish, if anything moved forward."""
        cid = order.client_id
        new_fill: Fill | None = None
        if fill is not None:
            seen = self.trade_ids.setdefault(cid, set())
            if fill.trade_id not in seen:
                seen.add(fill.trade_id)
                self.accounted_fill_qty[cid] = self.accounted_fill_qty.get(cid, Decimal(0)) + fill.qty
                new_fill = fill
        merged = merge_order(self.get(cid), order)
        if merged is None and new_fill is None:
            return None
        current = merged or self.get(cid) or order
        self._store(current)
        return OrderEvent(kind=event_kind(current, exec_type if new_fill else None), order=current, fill=new_fill)

    def apply_update(self, upd: OrderUpdate) -> OrderEvent | None:
        return self.apply(upd.order, upd.fill, upd.exec_type)

    def _store(self, order: Order) -> None:
        cid = order.client_id
        if order.venue_id:
            self.by_venue_id[order.venue_id] = cid
        if order.status.is_final:
            self.active.pop(cid, None)
            self.final[cid] = order
            self.final.move_to_end(cid)
            while len(self.final) > self.keep_final:
                old_cid, old = self.final.popitem(last=False)
                self.by_venue_id.pop(old.venue_id, None)
                self.trade_ids.pop(old_cid, None)
                self.accounted_fill_qty.pop(old_cid, None)
        else:
            self.active[cid] = order
