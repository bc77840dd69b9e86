"""Read queries: restart state, history for ``runner history`` / ``strategy history``, retention.

Money is summed in Python with :class:`~decimal.Decimal`: SQLite stores it as TEXT and its
``SUM`` would go through floats.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from ..model import InstrumentKey, Order, OrderStatus, OrderType, Position, RejectCode, Side, TimeInForce
from .records import (
    BalanceRow,
    DayPnlRow,
    DecisionRow,
    FillRow,
    FundingRow,
    HistoryFilter,
    OrderRow,
    PairPnlRow,
    PairState,
    PnlComponents,
    PruneReport,
    Run,
)
from .store import Store

__all__ = [
    "orders_with_status",
    "order_by_client_id",
    "latest_pairs",
    "latest_positions",
    "latest_balances",
    "runs",
    "orders",
    "fills",
    "funding",
    "pnl_by_pair",
    "pnl_by_day_pairs",
    "pnl_by_day_venue",
    "decisions",
    "prune",
    "utc_day",
]

ZERO = Decimal(0)
_TERMS = msgspec.json.Decoder(dict[str, Decimal])
_ORDER_SELECT = (
    "SELECT stream, client_id, venue_id, key, side, type, tif, price, qty, filled_qty, avg_price, status, "
    "reduce_only, created_ts_ms, updated_ts_ms, reject_reason, reconciled, reject_code FROM orders"
)
_FINAL = ("filled", "canceled", "rejected", "expired")


def _d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _od(value: Any) -> Decimal | None:
    return None if value is None else _d(value)


def utc_day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


class _Where:
    """Builds a WHERE clause from a :class:`HistoryFilter` for one table's column names."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.parts.append(clause)
        self.params.extend(params)

    def key(self, column: str, key: str) -> None:
        if not key:
            return
        if ":" in key:
            self.add(f"{column} = ?", str(InstrumentKey.parse(key)))
        else:
            self.add(f"{column} LIKE ?", "%:" + key.upper())

    def time(self, column: str, f: HistoryFilter, scale: int = 1) -> None:
        if f.since_ms is not None:
            self.add(f"{column} >= ?", f.since_ms * scale)
        if f.until_ms is not None:
            self.add(f"{column} < ?", f.until_ms * scale)

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.parts)) if self.parts else ""


def _strategy_stream(strategy: str) -> str:
    return f"strategy:{strategy}"


def _ledger_where(
    f: HistoryFilter, *, stream: str, key: str, time: str, scale: int = 1, by_origin: bool = False
) -> _Where:
    """The filter of a ledger table (orders, intents, fills, funding): stream, strategy, instrument, window.

    A strategy's rows are those of its own stream; with ``by_origin`` also the orders it sent
    through a runner (``i.origin``, the intent joined as ``i``)."""
    w = _Where()
    if f.stream:
        w.add(f"{stream} = ?", f.stream)
    if f.strategy and by_origin:
        w.add(f"({stream} = ? OR i.origin = ?)", _strategy_stream(f.strategy), f.strategy)
    elif f.strategy:
        w.add(f"{stream} = ?", _strategy_stream(f.strategy))
    w.key(key, f.key)
    w.time(time, f, scale)
    return w


def _limit(rows: list[Any], f: HistoryFilter) -> list[Any]:
    return rows[-f.limit :] if f.limit else rows


def _order(r: tuple[Any, ...]) -> Order:
    return Order(
        key=InstrumentKey.parse(str(r[3])),
        client_id=str(r[1]),
        venue_id=str(r[2]),
        side=Side(r[4]),
        type=OrderType(r[5]),
        tif=TimeInForce(r[6]),
        price=_od(r[7]),
        qty=_d(r[8]),
        filled_qty=_d(r[9]),
        avg_price=_od(r[10]),
        status=OrderStatus(r[11]),
        reduce_only=bool(r[12]),
        created_ts_ms=int(r[13]),
        updated_ts_ms=int(r[14]),
        reject_reason=str(r[15]),
        reject_code=None if r[17] is None else RejectCode(r[17]),
    )


def orders_with_status(store: Store, stream: str, statuses: tuple[str, ...]) -> list[Order]:
    marks = ", ".join("?" for _ in statuses)
    rows = store.query(
        f"{_ORDER_SELECT} WHERE stream = ? AND status IN ({marks}) ORDER BY created_ts_ms, client_id",
        (stream, *statuses),
    )
    return [_order(r) for r in rows]


def order_by_client_id(store: Store, stream: str, client_id: str) -> Order | None:
    rows = store.query(f"{_ORDER_SELECT} WHERE stream = ? AND client_id = ?", (stream, client_id))
    return _order(rows[0]) if rows else None


_PAIR_COLUMNS = (
    "p.strategy, p.pair_id, p.version, p.ts_ms, p.phase, p.closed, p.leg_a, p.leg_b, p.base_a, p.base_b, "
    "p.realized_basis, p.realized_funding, p.realized_fees, p.realized_slippage, p.realized_total, "
    "p.funding_accrued, p.state_format, p.state, p.stream"
)


def _pair(r: tuple[Any, ...]) -> PairState:
    return PairState(
        strategy=str(r[0]),
        pair_id=str(r[1]),
        version=int(r[2]),
        ts_ms=int(r[3]),
        phase=str(r[4]),
        closed=bool(r[5]),
        leg_a=str(r[6]),
        leg_b=str(r[7]),
        base_a=_d(r[8]),
        base_b=_d(r[9]),
        realized=PnlComponents(basis=_d(r[10]), funding=_d(r[11]), fees=_d(r[12]), slippage=_d(r[13]), total=_d(r[14])),
        funding_accrued=_d(r[15]),
        state_format=str(r[16]),
        state=bytes(r[17]),
    )


def latest_pairs(store: Store, stream: str, strategy: str | None, include_closed: bool) -> list[PairState]:
    w = _Where()
    if stream:
        w.add("p.stream = ?", stream)
    if strategy:
        w.add("p.strategy = ?", strategy)
    if not include_closed:
        w.add("p.closed = ?", False)
    rows = store.query(
        f"SELECT {_PAIR_COLUMNS} FROM pair_states p JOIN (SELECT stream, pair_id, MAX(version) AS v FROM pair_states "
        "GROUP BY stream, pair_id) m ON m.stream = p.stream AND m.pair_id = p.pair_id AND m.v = p.version"
        f"{w.sql()} ORDER BY p.ts_ms, p.pair_id",
        w.params,
    )
    return [_pair(r) for r in rows]


def latest_positions(store: Store, stream: str) -> list[Position]:
    """Each instrument's last journaled position (flat ones included: a flat position is news)."""
    rows = store.query(
        "SELECT p.key, p.size, p.entry_price, p.mark_price, p.unrealized_pnl, p.leverage, p.liquidation_price, "
        "p.margin_mode, p.ts_ms FROM position_snapshots p JOIN (SELECT key, MAX(id) AS last FROM position_snapshots "
        "WHERE stream = ? GROUP BY key) m ON m.last = p.id ORDER BY p.key",
        (stream,),
    )
    return [
        Position(
            key=InstrumentKey.parse(str(r[0])),
            size=_d(r[1]),
            entry_price=_d(r[2]),
            mark_price=_d(r[3]),
            unrealized_pnl=_d(r[4]),
            leverage=int(r[5]),
            liquidation_price=_d(r[6]),
            margin_mode=str(r[7]),
            updated_ts_ms=int(r[8]),
        )
        for r in rows
    ]


def latest_balances(store: Store, stream: str) -> list[BalanceRow]:
    """Each (wallet, asset)'s last journaled balance."""
    rows = store.query(
        "SELECT b.ts_ms, b.exchange, b.wallet, b.asset, b.free, b.locked, b.unrealized_pnl, b.margin_balance, "
        "b.available_balance FROM balance_snapshots b JOIN (SELECT wallet, asset, MAX(id) AS last FROM "
        "balance_snapshots WHERE stream = ? GROUP BY wallet, asset) m ON m.last = b.id ORDER BY b.wallet, b.asset",
        (stream,),
    )
    return [
        BalanceRow(
            ts_ms=int(r[0]),
            exchange=str(r[1]),
            wallet=str(r[2]),
            asset=str(r[3]),
            free=_d(r[4]),
            locked=_d(r[5]),
            unrealized_pnl=_d(r[6]),
            margin_balance=_d(r[7]),
            available_balance=_d(r[8]),
        )
        for r in rows
    ]


def runs(store: Store, f: HistoryFilter) -> list[Run]:
    w = _Where()
    if f.stream:
        w.add("stream = ?", f.stream)
    if f.strategy:
        w.add("strategy = ?", f.strategy)
    w.time("started_ms", f)
    rows = store.query(
        "SELECT run_id, stream, role, name, version, exchange, account, strategy, pid, host, started_ms, stopped_ms, "
        f"stop_reason FROM runs{w.sql()} ORDER BY started_ms",
        w.params,
    )
    out = [
        Run(
            run_id=str(r[0]),
            stream=str(r[1]),
            role=str(r[2]),
            name=str(r[3]),
            version=str(r[4]),
            exchange=str(r[5]),
            account=str(r[6]),
            strategy=str(r[7]),
            pid=int(r[8]),
            host=str(r[9]),
            started_ms=int(r[10]),
            stopped_ms=None if r[11] is None else int(r[11]),
            stop_reason=str(r[12]),
        )
        for r in rows
    ]
    return _limit(out, f)


def orders(store: Store, f: HistoryFilter) -> list[OrderRow]:
    """Every order in the window: the venue's last word, or PENDING for an intent it never answered."""
    w = _ledger_where(f, stream="o.stream", key="o.key", time="o.updated_ts_ms", by_origin=True)
    rows = store.query(
        "SELECT o.stream, o.client_id, o.venue_id, o.key, o.side, o.type, o.tif, o.price, o.qty, o.filled_qty, "
        "o.avg_price, o.status, o.reduce_only, i.ts_ns, o.created_ts_ms, o.updated_ts_ms, o.reject_reason, "
        "o.reconciled, i.origin, o.reject_code FROM orders o LEFT JOIN order_intents i ON i.stream = o.stream AND "
        f"i.client_id = o.client_id{w.sql()}",
        w.params,
    )
    out = [
        OrderRow(
            stream=str(r[0]),
            client_id=str(r[1]),
            venue_id=str(r[2]),
            key=str(r[3]),
            side=str(r[4]),
            type=str(r[5]),
            tif=str(r[6]),
            price=_od(r[7]),
            qty=_d(r[8]),
            filled_qty=_d(r[9]),
            avg_price=_od(r[10]),
            status=str(r[11]),
            reduce_only=bool(r[12]),
            intent_ts_ns=None if r[13] is None else int(r[13]),
            created_ts_ms=int(r[14]),
            updated_ts_ms=int(r[15]),
            reject_reason=str(r[16]),
            reconciled=bool(r[17]),
            origin="" if r[18] is None else str(r[18]),
            reject_code="" if r[19] is None else str(r[19]),
        )
        for r in rows
    ]
    wi = _ledger_where(f, stream="i.stream", key="i.key", time="i.ts_ns", scale=1_000_000, by_origin=True)
    wi.add("o.client_id IS NULL")
    for r in store.query(
        "SELECT i.stream, i.client_id, i.key, i.side, i.type, i.tif, i.price, i.qty, i.reduce_only, i.ts_ns, "
        "i.origin FROM order_intents i LEFT JOIN orders o ON o.stream = i.stream AND o.client_id = i.client_id"
        f"{wi.sql()}",
        wi.params,
    ):
        ms = int(r[9]) // 1_000_000
        out.append(
            OrderRow(
                stream=str(r[0]),
                client_id=str(r[1]),
                venue_id="",
                key=str(r[2]),
                side=str(r[3]),
                type=str(r[4]),
                tif=str(r[5]),
                price=_od(r[6]),
                qty=_d(r[7]),
                filled_qty=ZERO,
                avg_price=None,
                status="pending",
                reduce_only=bool(r[8]),
                intent_ts_ns=int(r[9]),
                created_ts_ms=ms,
                updated_ts_ms=ms,
                reject_reason="",
                reject_code="",
                reconciled=False,
                origin=str(r[10]),
            )
        )
    out.sort(key=lambda o: (o.intent_ts_ns or o.created_ts_ms * 1_000_000, o.client_id))
    return _limit(out, f)


def fills(store: Store, f: HistoryFilter) -> list[FillRow]:
    w = _ledger_where(f, stream="stream", key="key", time="ts_ms")
    rows = store.query(
        "SELECT stream, ts_ms, key, client_id, venue_id, trade_id, side, price, qty, fee, fee_asset, is_maker, "
        f"realized_pnl, reconciled FROM fills{w.sql()} ORDER BY ts_ms, id",
        w.params,
    )
    out = [
        FillRow(
            stream=str(r[0]),
            ts_ms=int(r[1]),
            key=str(r[2]),
            client_id=str(r[3]),
            venue_id=str(r[4]),
            trade_id=str(r[5]),
            side=str(r[6]),
            price=_d(r[7]),
            qty=_d(r[8]),
            fee=_d(r[9]),
            fee_asset=str(r[10]),
            is_maker=bool(r[11]),
            realized_pnl=_d(r[12]),
            reconciled=bool(r[13]),
        )
        for r in rows
    ]
    return _limit(out, f)


def funding(store: Store, f: HistoryFilter) -> list[FundingRow]:
    w = _ledger_where(f, stream="stream", key="key", time="ts_ms")
    rows = store.query(
        f"SELECT stream, ts_ms, key, asset, amount, rate, reconciled FROM funding_payments{w.sql()} ORDER BY ts_ms, id",
        w.params,
    )
    out = [
        FundingRow(
            stream=str(r[0]),
            ts_ms=int(r[1]),
            key=str(r[2]),
            asset=str(r[3]),
            amount=_d(r[4]),
            rate=_d(r[5]),
            reconciled=bool(r[6]),
        )
        for r in rows
    ]
    return _limit(out, f)


def _pair_rows(store: Store, f: HistoryFilter) -> list[PairState]:
    w = _Where()
    if f.stream:
        w.add("p.stream = ?", f.stream)
    if f.strategy:
        w.add("p.strategy = ?", f.strategy)
    if f.pair_id:
        w.add("p.pair_id = ?", f.pair_id)
    if f.key:
        if ":" in f.key:
            text = str(InstrumentKey.parse(f.key))
            w.add("(p.leg_a = ? OR p.leg_b = ?)", text, text)
        else:
            pattern = "%:" + f.key.upper()
            w.add("(p.leg_a LIKE ? OR p.leg_b LIKE ?)", pattern, pattern)
    rows = store.query(
        f"SELECT {_PAIR_COLUMNS} FROM pair_states p{w.sql()} ORDER BY p.stream, p.pair_id, p.version", w.params
    )
    return [_pair(r) for r in rows]


def pnl_by_pair(store: Store, f: HistoryFilter) -> list[PairPnlRow]:
    """Each pair's realised PnL by component as of its latest journaled state (pairs whose life
    overlaps the window)."""
    by_pair: dict[tuple[str, str], list[PairState]] = defaultdict(list)
    for p in _pair_rows(store, f):
        by_pair[(p.strategy, p.pair_id)].append(p)
    out: list[PairPnlRow] = []
    for (strategy, pair_id), states in by_pair.items():
        first, last = states[0], states[-1]
        if f.since_ms is not None and last.ts_ms < f.since_ms:
            continue
        if f.until_ms is not None and first.ts_ms >= f.until_ms:
            continue
        r = last.realized
        out.append(
            PairPnlRow(
                strategy=strategy,
                pair_id=pair_id,
                phase=last.phase,
                closed=last.closed,
                leg_a=last.leg_a,
                leg_b=last.leg_b,
                opened_ms=first.ts_ms,
                last_ms=last.ts_ms,
                transitions=len(states),
                basis=r.basis,
                funding=r.funding,
                fees=r.fees,
                slippage=r.slippage,
                total=r.total,
                funding_accrued=last.funding_accrued,
            )
        )
    out.sort(key=lambda row: (row.opened_ms, row.pair_id))
    return _limit(out, f)


def pnl_by_day_pairs(store: Store, f: HistoryFilter) -> list[DayPnlRow]:
    """For each pair and UTC day: the change of its cumulative realised components over the day."""
    acc: dict[tuple[str, str], list[Decimal]] = {}
    for pair_states in _group(_pair_rows(store, f)):
        prev = [ZERO] * 5
        for p in pair_states:
            cur = [p.realized.basis, p.realized.funding, p.realized.fees, p.realized.slippage, p.realized.total]
            day = utc_day(p.ts_ms)
            slot = acc.setdefault((day, p.pair_id), [ZERO] * 5)
            for i in range(5):
                slot[i] += cur[i] - prev[i]
            prev = cur
    out = [
        DayPnlRow(day=day, source="pairs", name=pair_id, basis=v[0], funding=v[1], fees=v[2], slippage=v[3], total=v[4])
        for (day, pair_id), v in sorted(acc.items())
        if _day_in(day, f)
    ]
    return _limit(out, f)


def _group(states: list[PairState]) -> list[list[PairState]]:
    groups: dict[tuple[str, str], list[PairState]] = defaultdict(list)
    for p in states:
        groups[(p.strategy, p.pair_id)].append(p)
    return list(groups.values())


def _day_in(day: str, f: HistoryFilter) -> bool:
    if f.since_ms is not None and day < utc_day(f.since_ms):
        return False
    return not (f.until_ms is not None and day > utc_day(f.until_ms - 1))


def pnl_by_day_venue(store: Store, f: HistoryFilter) -> list[DayPnlRow]:
    """Per instrument and UTC day: fills' realised PnL (basis column), fees and funding payments.
    Fees are added as the venue reports them, whatever their asset."""
    acc: dict[tuple[str, str], list[Decimal]] = {}
    for fill in fills(store, msgspec.structs.replace(f, limit=None)):
        slot = acc.setdefault((utc_day(fill.ts_ms), fill.key), [ZERO, ZERO, ZERO])
        slot[0] += fill.realized_pnl
        slot[2] += fill.fee
    for pay in funding(store, msgspec.structs.replace(f, limit=None)):
        slot = acc.setdefault((utc_day(pay.ts_ms), pay.key), [ZERO, ZERO, ZERO])
        slot[1] += pay.amount
    out = [
        DayPnlRow(
            day=day,
            source="venue",
            name=key,
            basis=v[0],
            funding=v[1],
            fees=v[2],
            slippage=ZERO,
            total=v[0] + v[1] - v[2],
        )
        for (day, key), v in sorted(acc.items())
    ]
    return _limit(out, f)


def decisions(store: Store, f: HistoryFilter) -> list[DecisionRow]:
    w = _Where()
    if f.stream:
        w.add("stream = ?", f.stream)
    if f.strategy:
        w.add("strategy = ?", f.strategy)
    if f.pair_id:
        w.add("pair_id = ?", f.pair_id)
    w.time("ts_ms", f)
    rows = store.query(
        f"SELECT stream, strategy, pair_id, ts_ms, action, reason, keys, terms, detail FROM decisions{w.sql()} "
        "ORDER BY ts_ms, id",
        w.params,
    )
    out = [
        DecisionRow(
            stream=str(r[0]),
            strategy=str(r[1]),
            pair_id=str(r[2]),
            ts_ms=int(r[3]),
            action=str(r[4]),
            reason=str(r[5]),
            keys=str(r[6]),
            terms=_TERMS.decode(str(r[7])),
            detail=str(r[8]),
        )
        for r in rows
    ]
    return _limit(out, f)


def prune(store: Store, cutoff_ms: int, stream: str | None) -> PruneReport:
    """Retention: delete rows older than ``cutoff_ms``, keeping what a restart needs."""
    ns = cutoff_ms * 1_000_000
    s = " AND stream = ?" if stream else ""
    sp: tuple[Any, ...] = (stream,) if stream else ()
    final = ", ".join(f"'{v}'" for v in _FINAL)
    live = (
        f"EXISTS (SELECT 1 FROM orders o WHERE o.stream = {{t}}.stream AND o.client_id = {{t}}.client_id "
        f"AND o.status NOT IN ({final}))"
    )
    plan: list[tuple[str, str, tuple[Any, ...]]] = [
        ("events", f"DELETE FROM events WHERE ts_ns < ?{s}", (ns, *sp)),
        (
            "order_events",
            f"DELETE FROM order_events WHERE ts_ns < ?{s} AND NOT " + live.format(t="order_events"),
            (ns, *sp),
        ),
        (
            "order_intents",
            # an intent goes only with its order, once that order is final and old
            f"DELETE FROM order_intents WHERE ts_ns < ?{s} AND EXISTS (SELECT 1 FROM orders o WHERE "
            "o.stream = order_intents.stream AND o.client_id = order_intents.client_id AND "
            f"o.status IN ({final}) AND o.updated_ts_ms < ?)",
            (ns, *sp, cutoff_ms),
        ),
        ("orders", f"DELETE FROM orders WHERE updated_ts_ms < ?{s} AND status IN ({final})", (cutoff_ms, *sp)),
        ("fills", f"DELETE FROM fills WHERE ts_ms < ?{s}", (cutoff_ms, *sp)),
        ("funding_payments", f"DELETE FROM funding_payments WHERE ts_ms < ?{s}", (cutoff_ms, *sp)),
        ("position_snapshots", f"DELETE FROM position_snapshots WHERE ts_ms < ?{s}", (cutoff_ms, *sp)),
        ("balance_snapshots", f"DELETE FROM balance_snapshots WHERE ts_ms < ?{s}", (cutoff_ms, *sp)),
        ("decisions", f"DELETE FROM decisions WHERE ts_ms < ?{s}", (cutoff_ms, *sp)),
        (
            "pair_states",
            # keep each pair's latest state unless the pair is closed
            f"DELETE FROM pair_states WHERE ts_ms < ?{s} AND (closed = ? OR version < (SELECT MAX(p2.version) "
            "FROM pair_states p2 WHERE p2.stream = pair_states.stream AND p2.pair_id = pair_states.pair_id))",
            (cutoff_ms, *sp, True),
        ),
        ("runs", f"DELETE FROM runs WHERE stopped_ms IS NOT NULL AND stopped_ms < ?{s}", (cutoff_ms, *sp)),
    ]
    counts = store.maintenance([(q, p) for _, q, p in plan], "nothing was deleted")
    return PruneReport(cutoff_ms=cutoff_ms, deleted={name: n for (name, _, _), n in zip(plan, counts, strict=True)})
