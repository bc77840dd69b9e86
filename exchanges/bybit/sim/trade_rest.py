"""Trade endpoints: ``/v5/order/create|cancel|cancel-all|realtime|history`` and ``/v5/execution/list``.

``realtime`` lists open orders (``openOnly=0``, the default) or the recent closed ones
(``openOnly=1``); given ``orderId``/``orderLinkId`` it returns that order whatever its status.
Linear queries without an id need ``symbol``, ``baseCoin`` or ``settleCoin`` (10001). Lists are
newest first and page with ``limit``/``cursor`` (the cursor is opaque to clients).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

import msgspec

from exchanges.sim.engine import SimFill, SimOrder

from .api_errors import Category, param_error
from .core import KIND_OF, BybitCore, parse_category
from .order_entry import OrderEntry
from .params import Params
from .payloads_market import ListResult
from .payloads_trade import OrderAck, execution_item, order_item
from .rest import Call, Endpoint

__all__ = ["TradeRest", "CancelAllResult", "page"]

T = TypeVar("T")
ZERO = Decimal(0)
_RECENT_CLOSED = 500
_WEEK_MS = 7 * 86_400_000


class CancelAllResult(msgspec.Struct, kw_only=True):
    list: builtins.list[OrderAck]
    success: str


def page(items: Sequence[T], params: Params, default: int, hi: int) -> tuple[list[T], str]:
    """One page of ``items`` by ``limit``/``cursor``; (page, next cursor or "")."""
    limit = params.opt_int("limit")
    if limit is None:
        limit = default
    if not 1 <= limit <= hi:
        raise param_error(f"params error: limit must be in [1, {hi}], got {limit}")
    cursor = params.opt_str("cursor")
    start = 0
    if cursor is not None:
        if not cursor.isdigit():
            raise param_error(f"params error: cursor invalid: {cursor}")
        start = int(cursor)
    chunk = list(items[start : start + limit])
    return chunk, str(start + limit) if start + limit < len(items) else ""


class TradeRest:
    def __init__(self, core: BybitCore, entry: OrderEntry) -> None:
        self.core = core
        self.entry = entry

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("POST", "/v5/order/create", True, self.create, order=True, per_category_limit=True),
            Endpoint("POST", "/v5/order/amend", True, self.amend, per_category_limit=True),
            Endpoint("POST", "/v5/order/cancel", True, self.cancel, per_category_limit=True),
            Endpoint("POST", "/v5/order/cancel-all", True, self.cancel_all, per_category_limit=True),
            Endpoint("GET", "/v5/order/realtime", True, self.realtime),
            Endpoint("GET", "/v5/order/history", True, self.history),
            Endpoint("GET", "/v5/execution/list", True, self.executions),
        ]

    # -- order entry ------------------------------------------------------------------------

    def create(self, call: Call) -> OrderAck:
        return self.entry.place(call.params)

    def amend(self, call: Call) -> OrderAck:
        return self.entry.amend(call.params)

    def cancel(self, call: Call) -> OrderAck:
        return self.entry.cancel(call.params)

    def cancel_all(self, call: Call) -> CancelAllResult:
        return CancelAllResult(list=self.entry.cancel_all(call.params), success="1")

    # -- queries ----------------------------------------------------------------------------

    def _symbols(self, category: Category, params: Params, *, need_filter: bool) -> list[str]:
        symbol = params.opt_str("symbol")
        base = params.opt_str("baseCoin")
        settle = params.opt_str("settleCoin")
        specs = self.core.specs[category]
        if symbol is not None:
            self.core.spec(category, symbol)
            return [symbol]
        if need_filter and category == "linear" and base is None and settle is None:
            raise param_error("params error: symbol, baseCoin or settleCoin is required")
        return [
            s
            for s, spec in sorted(specs.items())
            if (base is None or spec.base == base) and (settle is None or spec.settle == settle)
        ]

    def _killed(self, category: Category, symbols: list[str]) -> list[SimOrder]:
        kind = KIND_OF[category]
        return [k.order for k in self.core.killed.values() if k.order.kind is kind and k.order.symbol in symbols]

    def _closed(self, category: Category, symbols: list[str], start: int | None, end: int | None) -> list[SimOrder]:
        kind = KIND_OF[category]
        out: list[SimOrder] = []
        for symbol in symbols:
            orders = self.core.venue.all_orders(
                self.core.account, kind, symbol, start_ms=start, end_ms=end, limit=1_000_000
            )
            out += [o for o in orders if not o.is_open]
        out += [o for o in self._killed(category, symbols) if (start is None or o.created_ms >= start)]
        return out

    def realtime(self, call: Call) -> ListResult:
        params = call.params
        category = parse_category(params.opt_str("category"))
        if params.has("orderId") or params.has("orderLinkId"):
            symbol = params.opt_str("symbol")
            candidates = [symbol] if symbol is not None else sorted(self.core.specs[category])
            found: list[SimOrder] = []
            for sym in candidates:
                try:
                    found.append(self.entry.find(category, sym, params))
                    break
                except Exception:  # noqa: BLE001 - not on this symbol: try the next
                    continue
            items = [order_item(self.core, category, o) for o in found]
            return ListResult(category=category, list=list(items), nextPageCursor="")
        symbols = self._symbols(category, params, need_filter=True)
        open_only = params.opt_int("openOnly") or 0
        if open_only not in (0, 1, 2):
            raise param_error(f"params error: openOnly invalid: {open_only}")
        if open_only == 0:
            kind = KIND_OF[category]
            orders = [o for s in symbols for o in self.core.venue.open_orders(self.core.account, kind, s)]
        else:
            orders = self._closed(category, symbols, None, None)
            orders.sort(key=lambda o: (o.updated_ms, o.order_id), reverse=True)
            orders = orders[:_RECENT_CLOSED]
        orders.sort(key=lambda o: (o.created_ms, o.order_id), reverse=True)
        chunk, nxt = page(orders, params, 20, 50)
        return ListResult(
            category=category, list=[order_item(self.core, category, o) for o in chunk], nextPageCursor=nxt
        )

    def history(self, call: Call) -> ListResult:
        params = call.params
        category = parse_category(params.opt_str("category"))
        if params.has("orderId") or params.has("orderLinkId"):
            return self.realtime(call)
        symbols = self._symbols(category, params, need_filter=False)
        end = params.opt_int("endTime")
        start = params.opt_int("startTime")
        if start is None:
            start = (end if end is not None else call.now_ms) - _WEEK_MS
        orders = self._closed(category, symbols, start, end)
        status = params.opt_str("orderStatus")
        items = [order_item(self.core, category, o) for o in orders]
        if status is not None:
            items = [i for i in items if i.orderStatus == status]
        items.sort(key=lambda i: (int(i.createdTime), i.orderId), reverse=True)
        chunk, nxt = page(items, params, 20, 50)
        return ListResult(category=category, list=list(chunk), nextPageCursor=nxt)

    def executions(self, call: Call) -> ListResult:
        params = call.params
        category = parse_category(params.opt_str("category"))
        kind = KIND_OF[category]
        exec_type = params.opt_str("execType")
        if exec_type not in (None, "Trade"):
            return ListResult(category=category, list=[], nextPageCursor="")
        if params.has("orderId") or params.has("orderLinkId"):
            symbol = params.req_str("symbol") if category == "spot" else params.opt_str("symbol")
            candidates = [symbol] if symbol is not None else sorted(self.core.specs[category])
            orders: list[SimOrder] = []
            for sym in candidates:
                try:
                    orders.append(self.entry.find(category, sym, params))
                    break
                except Exception:  # noqa: BLE001 - not on this symbol: try the next
                    continue
            fills = [(o, f) for o in orders for f in o.fills]
        else:
            symbols = self._symbols(category, params, need_filter=False)
            start = params.opt_int("startTime")
            end = params.opt_int("endTime")
            fills = []
            for symbol in symbols:
                trades = self.core.venue.trades(self.core.account, kind, symbol, start_ms=start, end_ms=end)
                by_order: dict[int, SimOrder] = {}
                for fill in trades:
                    order = by_order.get(fill.order_id)
                    if order is None:
                        order = by_order[fill.order_id] = self.core.venue.get_order(
                            self.core.account, kind, symbol, order_id=fill.order_id
                        )
                    fills.append((order, fill))
        fills.sort(key=lambda of: (of[1].ts_ms, of[1].trade_id), reverse=True)
        chunk, nxt = page(fills, params, 50, 100)
        return ListResult(
            category=category,
            list=[execution_item(self.core, category, o, f, _leaves_after(o, f)) for o, f in chunk],
            nextPageCursor=nxt,
        )


def _leaves_after(order: SimOrder, fill: SimFill) -> Decimal:
    """The order's open quantity right after ``fill`` (0 when that fill was its last and it ended)."""
    done = ZERO
    for f in order.fills:  # trade ids are unique within one order's fills
        done += f.qty
        if f.trade_id == fill.trade_id:
            break
    last = order.fills[-1].trade_id == fill.trade_id if order.fills else False
    if last and not order.is_open:
        return ZERO
    return max(ZERO, order.qty - done)
