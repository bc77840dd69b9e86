"""State every part of the OKX dialect shares: the engine, the account, security, limits,
the instrument catalog, order bookkeeping and the per-position ledgers."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from exchanges.sim.badinput import BadInput
from exchanges.sim.engine import (
    BalanceReason,
    BalancesChanged,
    ExecType,
    OrderChanged,
    RejectReason,
    SimEvent,
    SimOrder,
    SimReject,
    SimVenue,
)
from exchanges.sim.faults import Faults
from strategy_client.model import MarketKind

from .api_errors import ItemError, no_instrument
from .auth import Authenticator
from .instruments import Catalog, OkxInstrument
from .options import ACCOUNT_ID, OkxSimOptions
from .orders import AUTO_BASE, OrderBookkeeping, OrderMeta, parse_ord_id
from .ratelimit import RateLimiter

__all__ = ["OkxCore", "PositionLedger"]

ZERO = Decimal(0)


@dataclass(slots=True)
class PositionLedger:
    """One position's life since it opened: OKX's ``pnl``, ``fee``, ``fundingFee``, ``cTime``."""

    pnl: Decimal = ZERO
    fee: Decimal = ZERO  # negative: paid
    funding_fee: Decimal = ZERO
    c_time_ms: int = 0
    closed: bool = True
    pos_id: int = 0

    @property
    def realized(self) -> Decimal:
        return self.pnl + self.fee + self.funding_fee


class OkxCore:
    """One account (``ACCOUNT_ID``) with ``options.api_key``; everything runs on one loop."""

    def __init__(self, venue: SimVenue, options: OkxSimOptions, faults: Faults, bad: BadInput) -> None:
        self.venue = venue
        self.options = options
        self.faults = faults
        self.bad = bad
        self.account = ACCOUNT_ID
        venue.add_account(ACCOUNT_ID)
        self.auth = Authenticator(options, self.now_ms)
        self.limits = RateLimiter(options, self.now_ms)
        self.catalog = Catalog(venue.config.symbols)
        self.orders = OrderBookkeeping(min(venue.config.max_final_orders, 200_000))
        self.ledgers: dict[str, PositionLedger] = {}
        self._pos_ids = itertools.count(1)
        self._conn_ids = itertools.count(0xA4D3AE55)
        self.started_ms = self.now_ms()
        self._unlisten = venue.listen(self._on_event)

    def now_ms(self) -> int:
        return self.venue.clock.now_ms()

    def close(self) -> None:
        self._unlisten()

    def new_conn_id(self) -> str:
        return format(next(self._conn_ids) & 0xFFFFFFFF, "08x")

    # -- lookups ----------------------------------------------------------------------------

    def inst(self, inst_id: str) -> OkxInstrument:
        inst = self.catalog.by_id(inst_id)
        if inst is None:
            raise no_instrument()
        return inst

    def inst_of(self, kind: MarketKind, symbol: str) -> OkxInstrument:
        inst = self.catalog.by_key(kind, symbol)
        if inst is None:
            raise no_instrument()
        return inst

    def find_order(self, inst: OkxInstrument, ord_id: str | None, cl_ord_id: str | None) -> SimOrder:
        """The order by ``ordId`` (preferred) or ``clOrdId`` (the latest with it); raises
        :class:`SimReject` UNKNOWN_ORDER (the caller picks 51400 or 51603)."""
        if ord_id:
            n = parse_ord_id(ord_id)
            if n is None:
                raise SimReject(RejectReason.UNKNOWN_ORDER, f"no order {ord_id}")
            if n >= AUTO_BASE:
                auto = self.orders.auto(n)
                if auto is None or auto.kind is not inst.kind or auto.symbol != inst.symbol:
                    raise SimReject(RejectReason.UNKNOWN_ORDER, f"no order {ord_id}")
                return auto
            return self.venue.get_order(self.account, inst.kind, inst.symbol, order_id=n)
        if not cl_ord_id:
            raise ItemError(50014, "Parameter ordId can not be empty.")
        auto = self.orders.auto_by_client_id(inst.kind, inst.symbol, cl_ord_id)
        try:
            order = self.venue.get_order(self.account, inst.kind, inst.symbol, client_order_id=cl_ord_id)
        except SimReject:
            if auto is None:
                raise
            return auto
        meta = self.orders.meta(order.order_id)
        if meta is not None and meta.cl_ord_id != cl_ord_id:  # an id the engine generated
            if auto is None:
                raise SimReject(RejectReason.UNKNOWN_ORDER, f"no order {cl_ord_id}")
            return auto
        if auto is not None and auto.created_ms > order.created_ms and not order.is_open:
            return auto
        return order

    def meta(self, order: SimOrder) -> OrderMeta | None:
        return self.orders.meta(order.order_id)

    # -- engine events ----------------------------------------------------------------------

    def _on_event(self, event: SimEvent) -> None:
        if isinstance(event, OrderChanged) and event.account == self.account:
            order = event.order
            if event.exec_type is ExecType.NEW:
                self.orders.record(order.kind, order.symbol, order.order_id)
                pending = self.orders.pending_meta
                if pending is not None:
                    self.orders.pending_meta = None
                    self.orders.set_meta(order.order_id, pending)
            elif event.fill is not None and order.kind is MarketKind.PERP:
                ledger = self.ledger(order.symbol)
                if ledger.closed:
                    self.ledgers[order.symbol] = ledger = PositionLedger(
                        c_time_ms=event.ts_ms, closed=False, pos_id=next(self._pos_ids)
                    )
                ledger.pnl += event.fill.realized_pnl
                ledger.fee -= event.fill.fee
        elif isinstance(event, BalancesChanged) and event.account == self.account and event.kind is MarketKind.PERP:
            if event.reason is BalanceReason.FUNDING_FEE:
                for pay in event.funding:
                    self.ledger(pay.symbol).funding_fee += pay.amount
            for pos in event.positions:
                if pos.size == 0:
                    self.ledger(pos.symbol).closed = True

    def ledger(self, symbol: str) -> PositionLedger:
        ledger = self.ledgers.get(symbol)
        if ledger is None:
            ledger = self.ledgers[symbol] = PositionLedger()
        return ledger

    def listen(self, callback: Callable[[SimEvent], None]) -> Callable[[], None]:
        return self.venue.listen(callback)
