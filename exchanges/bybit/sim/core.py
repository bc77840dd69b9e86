"""State every part of the Bybit dialect shares: the engine, the account, security, limits, ids.

Bybit shows order ids as UUIDs on linear and as 19-digit numbers on spot, fills as UUID
``execId``; the engine numbers orders and trades with integers. :class:`BybitCore` translates
in both directions (deterministically from the seed) and keeps the few facts the engine does
not: why an order was cancelled (``cancelType``/``rejectReason``) and the orders Bybit accepts
and then cancels at once (a PostOnly that would take, a FOK that cannot fill), which the engine
refuses outright.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from exchanges.sim.badinput import BadInput
from exchanges.sim.engine import SimEvent, SimOrder, SimVenue, SymbolSpec
from exchanges.sim.faults import Faults
from strategy_client.model import MarketKind

from .api_errors import CATEGORIES, BybitApiError, Category, bad_symbol, param_error
from .auth import Authenticator
from .numbers import Format
from .options import ACCOUNT_ID, BybitSimOptions
from .ratelimit import RateLimiter
from .specs import DEFAULT_SPOT_EXTRA, SPOT_EXTRA, SpotExtra

__all__ = ["BybitCore", "KIND_OF", "CATEGORY_OF", "KilledOrder", "parse_category"]

KIND_OF: dict[Category, MarketKind] = {"spot": MarketKind.SPOT, "linear": MarketKind.PERP}
CATEGORY_OF: dict[MarketKind, Category] = {MarketKind.SPOT: "spot", MarketKind.PERP: "linear"}
_SPOT_ID_BASE = 1_880_000_000_000_000_000
_KILLED_ID_BASE = 10**12
_KILLED_KEEP = 10_000
_LINK_IDS_KEPT = 1_000_000  # like the engine's final orders: the oldest are forgotten


K = TypeVar("K")
V = TypeVar("V")


class _Bounded(OrderedDict[K, V]):
    """A dict that forgets its oldest entries beyond ``limit`` (like the engine's final orders)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self._limit:
            self.popitem(last=False)


def parse_category(text: str | None, *, allow: tuple[str, ...] = CATEGORIES) -> Category:
    if text is None:
        raise param_error("params error: category is required")
    if text not in allow:
        if text in ("inverse", "option"):
            raise param_error(f"params error: category {text} is not served by this venue")
        raise param_error(f"params error: category invalid: {text}")
    return "spot" if text == "spot" else "linear"


class KilledOrder:
    """An order Bybit accepts and cancels at once (the engine refused it: nothing traded)."""

    __slots__ = ("order", "reject_reason")

    def __init__(self, order: SimOrder, reject_reason: str) -> None:
        self.order = order
        self.reject_reason = reject_reason


class BybitCore:
    """One account (``ACCOUNT_ID``) keyed by ``options.api_key``; everything runs on one loop."""

    def __init__(self, venue: SimVenue, options: BybitSimOptions, faults: Faults, bad: BadInput, seed: int) -> None:
        self.venue = venue
        self.options = options
        self.faults = faults
        self.bad = bad
        self.account = ACCOUNT_ID
        venue.add_account(ACCOUNT_ID)
        self.auth = Authenticator(options.api_key, options.api_secret, self.now_ms)
        self.limits = RateLimiter(options, self.now_ms)
        self.specs: dict[Category, dict[str, SymbolSpec]] = {
            c: {s.symbol: s for s in venue.instruments(KIND_OF[c])} for c in CATEGORIES
        }
        self.fmts: dict[tuple[Category, str], Format] = {
            (c, sym): Format(spec.tick_size, spec.step_size) for c in CATEGORIES for sym, spec in self.specs[c].items()
        }
        self._ns = uuid.uuid5(uuid.NAMESPACE_URL, f"tradebus:bybit-sim:{seed}")
        self._linear_ids: OrderedDict[str, int] = OrderedDict()
        self._killed_ids = itertools.count(_KILLED_ID_BASE)
        self.killed: OrderedDict[int, KilledOrder] = OrderedDict()
        self.cancel_types: _Bounded[int, str] = _Bounded(_LINK_IDS_KEPT)
        self.pooling = False  # funds moving between the engine's wallets (see unified.py)
        self._link_ids: dict[Category, OrderedDict[str, None]] = {c: OrderedDict() for c in CATEGORIES}
        self._seq = itertools.count(7_961_638_724)
        self.started_ms = self.now_ms()

    def now_ms(self) -> int:
        return self.venue.clock.now_ms()

    def close(self) -> None:
        """Nothing to release (kept for symmetry with the dialect's lifecycle)."""

    # -- lookups ----------------------------------------------------------------------------

    def spec(self, category: Category, symbol: str) -> SymbolSpec:
        spec = self.specs[category].get(symbol)
        if spec is None:
            raise bad_symbol(symbol) if category == "linear" else BybitApiError(170121, "Invalid symbol.")
        return spec

    def fmt(self, category: Category, symbol: str) -> Format:
        fmt = self.fmts.get((category, symbol))
        if fmt is None:
            raise bad_symbol(symbol)
        return fmt

    def spot_extra(self, symbol: str) -> SpotExtra:
        return SPOT_EXTRA.get(symbol, DEFAULT_SPOT_EXTRA)

    def next_seq(self) -> int:
        return next(self._seq)

    # -- ids --------------------------------------------------------------------------------

    def order_id(self, category: Category, engine_id: int) -> str:
        """Bybit's text id of an engine order: a UUID (linear) or a 19-digit number (spot)."""
        if category == "spot":
            return str(_SPOT_ID_BASE + engine_id)
        text = str(uuid.uuid5(self._ns, f"order/{engine_id}"))
        if text not in self._linear_ids:
            self._linear_ids[text] = engine_id
            while len(self._linear_ids) > _LINK_IDS_KEPT:
                self._linear_ids.popitem(last=False)
        return text

    def engine_id(self, category: Category, text: str) -> int | None:
        """The engine id of a Bybit order id, or None when it cannot be one of ours."""
        if category == "spot":
            if not text.isdigit() or len(text) > 20:
                return None
            value = int(text) - _SPOT_ID_BASE
            return value if value > 0 else None
        return self._linear_ids.get(text)

    def exec_id(self, category: Category, symbol: str, trade_id: int, order_id: int) -> str:
        return str(uuid.uuid5(self._ns, f"exec/{category}/{symbol}/{trade_id}/{order_id}"))

    def link_id_used(self, category: Category, link_id: str) -> bool:
        """``orderLinkId`` must be unique among the account's orders of a category."""
        return link_id in self._link_ids[category]

    @staticmethod
    def link_id_of(order: SimOrder) -> str:
        """Bybit shows ``""`` for an order sent without ``orderLinkId`` (the engine names it
        ``sim-<id>``; a client id that spells its own engine id is taken for such a name)."""
        return "" if order.client_order_id == f"sim-{order.order_id}" else order.client_order_id

    def remember_link_id(self, category: Category, link_id: str) -> None:
        ids = self._link_ids[category]
        ids[link_id] = None
        while len(ids) > _LINK_IDS_KEPT:
            ids.popitem(last=False)

    # -- orders Bybit accepts and cancels at once ---------------------------------------------

    def kill_on_entry(self, order: SimOrder, reject_reason: str) -> SimOrder:
        """Record ``order`` (built by the dialect, status CANCELED) under a fresh id."""
        engine_id = next(self._killed_ids)
        stored = SimOrder(
            order_id=engine_id,
            client_order_id=order.client_order_id,
            account=order.account,
            kind=order.kind,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            tif=order.tif,
            price=order.price,
            qty=order.qty,
            status=order.status,
            reduce_only=order.reduce_only,
            created_ms=order.created_ms,
            updated_ms=order.updated_ms,
            working_ms=order.working_ms,
        )
        self.killed[engine_id] = KilledOrder(stored, reject_reason)
        while len(self.killed) > _KILLED_KEEP:
            self.killed.popitem(last=False)
        return stored

    def find_killed(self, kind: MarketKind, symbol: str, engine_id: int | None, link_id: str | None) -> SimOrder | None:
        if engine_id is not None:
            k = self.killed.get(engine_id)
            if k is not None and k.order.kind is kind and k.order.symbol == symbol:
                return k.order
            return None
        if link_id:
            for k in reversed(self.killed.values()):
                if k.order.kind is kind and k.order.symbol == symbol and k.order.client_order_id == link_id:
                    return k.order
        return None

    def reject_reason(self, order: SimOrder) -> str:
        killed = self.killed.get(order.order_id)
        if killed is not None:
            return killed.reject_reason
        reason = order.expire_reason.value
        if reason == "SELF_TRADE":
            return "EC_BySelfMatch"
        if reason in ("IOC_REMAINDER", "BOOK_EXHAUSTED") and order.executed_qty == 0:
            return "EC_NoImmediateQtyToFill"
        return "EC_NoError"

    def cancel_type(self, order: SimOrder) -> str:
        explicit = self.cancel_types.get(order.order_id)
        if explicit is not None:
            return explicit
        reason = order.expire_reason.value
        if reason == "REDUCE_ONLY":
            return "CancelByReduceOnly"
        if reason == "SELF_TRADE":
            return "CancelBySmp"
        return "UNKNOWN"

    def listen(self, callback: Callable[[SimEvent], None]) -> Callable[[], None]:
        return self.venue.listen(callback)
