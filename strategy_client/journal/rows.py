"""Records → statements: how each :data:`JournalRecord` is filed into the tables.

Decimals are bound as their exact text (SQLite TEXT columns; PostgreSQL casts the text to
NUMERIC); an event's payload is the wire encoding, so a replay publishes the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import msgspec

from ..model import AccountSnapshot, Fill, FundingPayment, Order, Position
from ..wire import codec
from ..wire.messages import AccountEvent, BookEvent, FundingEvent, FundingPaymentEvent, OrderEvent, PositionEvent
from . import sql
from .errors import InvalidRecord
from .records import (
    BalanceSnapshot,
    Decision,
    EventRecord,
    FillRecord,
    FundingRecord,
    JournalRecord,
    OrderRecord,
    PairState,
    PositionSnapshot,
)
from .store import Stmt

__all__ = ["RowBuilder"]

_JSON = msgspec.json.Encoder(decimal_format="string")
_NAMES = (
    "INSERT_EVENT",
    "INSERT_ORDER_EVENT",
    "UPSERT_ORDER",
    "INSERT_FILL",
    "INSERT_FUNDING",
    "INSERT_POSITION",
    "INSERT_BALANCE",
    "INSERT_PAIR_STATE",
    "INSERT_DECISION",
)


def _s(value: Decimal) -> str:
    return str(value)


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _code(order: Order) -> str | None:
    return None if order.reject_code is None else order.reject_code.value


class RowBuilder:
    """Builds the statements for one writer (``stream``, ``run_id``) in one dialect."""

    def __init__(self, stream: str, run_id: str, dialect_sql: dict[str, str]) -> None:
        self.stream = stream
        self.run_id = run_id
        self._sql = dialect_sql

    @classmethod
    def for_store(cls, stream: str, run_id: str, convert: Callable[[str], str]) -> RowBuilder:
        return cls(stream, run_id, {name: convert(getattr(sql, name)) for name in _NAMES})

    def statements(self, record: JournalRecord) -> list[Stmt]:
        if isinstance(record, EventRecord):
            return self._event_stmts(record)
        if isinstance(record, OrderRecord):
            return self._order_stmts(
                record.order,
                record.kind,
                record.seq,
                record.reconciled,
                record.detail,
                record.ts_ns,
                None,
                codec.encode(record.order),
            )
        if isinstance(record, FillRecord):
            return [self._fill_stmt(record.fill, record.seq, record.reconciled)]
        if isinstance(record, FundingRecord):
            return [self._funding_stmt(record.payment, record.seq, record.reconciled)]
        if isinstance(record, PositionSnapshot):
            return [self._position_stmt(p, record.ts_ms, record.seq, record.reconciled) for p in record.positions]
        if isinstance(record, BalanceSnapshot):
            return self._account_stmts(record.account, record.seq, record.reconciled)
        if isinstance(record, PairState):
            return [self._pair_stmt(record)]
        if isinstance(record, Decision):
            return [self._decision_stmt(record)]
        raise InvalidRecord(f"the journal does not take {type(record).__name__} records")

    def _event_stmts(self, rec: EventRecord) -> list[Stmt]:
        event = rec.event
        if isinstance(event, BookEvent | FundingEvent):
            raise InvalidRecord(f"market data ({type(event).__name__}) is not journaled")
        ts_ns = rec.ts_ns or time.time_ns()
        payload = rec.payload or codec.encode(event)
        kind = event.__struct_config__.tag
        out = [
            Stmt(
                self._sql["INSERT_EVENT"],
                (self.stream, self.run_id, rec.seq, ts_ns, kind, rec.topic, payload, rec.reconciled),
                "events",
                True,
            )
        ]
        if isinstance(event, OrderEvent):
            out += self._order_stmts(
                event.order, event.kind.value, rec.seq, rec.reconciled, "", ts_ns, event.fill, codec.encode(event.order)
            )
        elif isinstance(event, PositionEvent):
            out.append(self._position_stmt(event.position, event.position.updated_ts_ms, rec.seq, rec.reconciled))
        elif isinstance(event, FundingPaymentEvent):
            out.append(self._funding_stmt(event.payment, rec.seq, rec.reconciled))
        elif isinstance(event, AccountEvent):
            out += self._account_stmts(event.account, rec.seq, rec.reconciled)
        return out

    def _order_stmts(
        self,
        order: Order,
        kind: str,
        seq: int | None,
        reconciled: bool,
        detail: str,
        ts_ns: int,
        fill: Fill | None,
        payload: bytes,
    ) -> list[Stmt]:
        client_id = order.client_id or f"venue:{order.venue_id}"
        ts_ns = ts_ns or time.time_ns()
        key = str(order.key)
        out = [
            Stmt(
                self._sql["INSERT_ORDER_EVENT"],
                (
                    self.stream,
                    self.run_id,
                    seq,
                    ts_ns,
                    kind,
                    client_id,
                    order.venue_id,
                    key,
                    order.status.value,
                    _s(order.filled_qty),
                    _opt(order.avg_price),
                    order.updated_ts_ms,
                    order.reject_reason,
                    _code(order),
                    fill.trade_id if fill is not None else None,
                    reconciled,
                    detail,
                    payload,
                ),
            ),
            Stmt(
                self._sql["UPSERT_ORDER"],
                (
                    self.stream,
                    client_id,
                    self.run_id,
                    key,
                    order.venue_id,
                    order.side.value,
                    order.type.value,
                    order.tif.value,
                    _opt(order.price),
                    _s(order.qty),
                    _s(order.filled_qty),
                    _opt(order.avg_price),
                    order.status.value,
                    order.reduce_only,
                    order.created_ts_ms,
                    order.updated_ts_ms,
                    order.reject_reason,
                    _code(order),
                    seq,
                    ts_ns,
                    reconciled,
                ),
            ),
        ]
        if fill is not None:
            out.append(self._fill_stmt(fill, seq, reconciled))
        return out

    def _fill_stmt(self, f: Fill, seq: int | None, reconciled: bool) -> Stmt:
        return Stmt(
            self._sql["INSERT_FILL"],
            (
                self.stream,
                self.run_id,
                seq,
                str(f.key),
                f.client_id,
                f.venue_id,
                f.trade_id,
                f.side.value,
                _s(f.price),
                _s(f.qty),
                _s(f.fee),
                f.fee_asset,
                f.is_maker,
                f.ts_ms,
                _s(f.realized_pnl),
                reconciled,
            ),
            "fills",
        )

    def _funding_stmt(self, p: FundingPayment, seq: int | None, reconciled: bool) -> Stmt:
        return Stmt(
            self._sql["INSERT_FUNDING"],
            (self.stream, self.run_id, seq, str(p.key), p.asset, _s(p.amount), _s(p.rate), p.ts_ms, reconciled),
            "funding",
        )

    def _position_stmt(self, p: Position, ts_ms: int, seq: int | None, reconciled: bool) -> Stmt:
        return Stmt(
            self._sql["INSERT_POSITION"],
            (
                self.stream,
                self.run_id,
                seq,
                ts_ms or p.updated_ts_ms,
                str(p.key),
                _s(p.size),
                _s(p.entry_price),
                _s(p.mark_price),
                _s(p.unrealized_pnl),
                p.leverage,
                _s(p.liquidation_price),
                p.margin_mode,
                reconciled,
            ),
        )

    def _account_stmts(self, a: AccountSnapshot, seq: int | None, reconciled: bool) -> list[Stmt]:
        out: list[Stmt] = []
        ins = self._sql["INSERT_BALANCE"]
        ex = a.exchange.value
        for b in a.balances:
            out.append(
                Stmt(
                    ins,
                    (
                        self.stream,
                        self.run_id,
                        seq,
                        a.ts_ms,
                        ex,
                        b.asset,
                        "spot",
                        _s(b.free),
                        _s(b.locked),
                        "0",
                        "0",
                        _s(b.free),
                        reconciled,
                    ),
                )
            )
        for m in a.margin:
            out.append(
                Stmt(
                    ins,
                    (
                        self.stream,
                        self.run_id,
                        seq,
                        a.ts_ms,
                        ex,
                        m.asset,
                        "margin",
                        _s(m.wallet_balance),
                        "0",
                        _s(m.unrealized_pnl),
                        _s(m.margin_balance),
                        _s(m.available_balance),
                        reconciled,
                    ),
                )
            )
        out += [self._position_stmt(p, a.ts_ms, seq, reconciled) for p in a.positions]
        return out

    def _pair_stmt(self, p: PairState) -> Stmt:
        r = p.realized
        return Stmt(
            self._sql["INSERT_PAIR_STATE"],
            (
                self.stream,
                self.run_id,
                p.strategy,
                p.pair_id,
                p.version,
                p.ts_ms,
                p.phase,
                p.closed,
                p.leg_a,
                p.leg_b,
                _s(p.base_a),
                _s(p.base_b),
                _s(r.basis),
                _s(r.funding),
                _s(r.fees),
                _s(r.slippage),
                _s(r.total),
                _s(p.funding_accrued),
                p.state_format,
                p.state,
            ),
            "pair_states",
        )

    def _decision_stmt(self, d: Decision) -> Stmt:
        return Stmt(
            self._sql["INSERT_DECISION"],
            (
                self.stream,
                self.run_id,
                d.strategy,
                d.pair_id,
                d.ts_ms,
                d.action,
                d.reason,
                d.keys,
                _JSON.encode(d.terms).decode(),
                d.detail,
            ),
        )
