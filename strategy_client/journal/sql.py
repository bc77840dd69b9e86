"""The journal's statements, written once with ``?`` placeholders for both dialects
(:meth:`Store.sql` rewrites them for PostgreSQL). Both dialects speak ``ON CONFLICT``."""

from __future__ import annotations

__all__ = [
    "VERSION_TABLE",
    "INSERT_RUN",
    "STOP_RUN",
    "INSERT_INTENT",
    "INSERT_EVENT",
    "INSERT_ORDER_EVENT",
    "UPSERT_ORDER",
    "INSERT_FILL",
    "INSERT_FUNDING",
    "INSERT_POSITION",
    "INSERT_BALANCE",
    "INSERT_PAIR_STATE",
    "INSERT_DECISION",
    "ORDER_COLUMNS",
    "TABLES",
]

#: alembic's table of the schema revision (read by the stores, written by the migrations)
VERSION_TABLE = "alembic_version"

TABLES = (
    "runs",
    "order_intents",
    "orders",
    "events",
    "order_events",
    "fills",
    "funding_payments",
    "position_snapshots",
    "balance_snapshots",
    "pair_states",
    "decisions",
    "strategy_instances",
    "lifecycle_events",
    "signal_orders",
)

INSERT_RUN = (
    "INSERT INTO runs (run_id, stream, role, name, version, exchange, account, strategy, pid, host, started_ms, "
    "stopped_ms, stop_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '')"
)
STOP_RUN = "UPDATE runs SET stopped_ms = ?, stop_reason = ? WHERE run_id = ?"

INSERT_INTENT = (
    "INSERT INTO order_intents (stream, run_id, client_id, ts_ns, key, side, type, tif, qty, price, reduce_only, "
    "origin, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

INSERT_EVENT = (
    "INSERT INTO events (stream, run_id, seq, ts_ns, kind, topic, payload, reconciled) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream, seq) DO NOTHING"
)

INSERT_ORDER_EVENT = (
    "INSERT INTO order_events (stream, run_id, seq, ts_ns, kind, client_id, venue_id, key, status, filled_qty, "
    "avg_price, venue_ts_ms, reject_reason, reject_code, trade_id, reconciled, detail, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

ORDER_COLUMNS = (
    "stream, client_id, run_id, key, venue_id, side, type, tif, price, qty, filled_qty, avg_price, status, "
    "reduce_only, created_ts_ms, updated_ts_ms, reject_reason, reject_code, last_seq, last_ns, reconciled"
)
UPSERT_ORDER = (
    f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (stream, client_id) DO UPDATE SET run_id = excluded.run_id, venue_id = excluded.venue_id, "
    "price = excluded.price, qty = excluded.qty, filled_qty = excluded.filled_qty, avg_price = excluded.avg_price, "
    "status = excluded.status, created_ts_ms = excluded.created_ts_ms, updated_ts_ms = excluded.updated_ts_ms, "
    "reject_reason = excluded.reject_reason, reject_code = excluded.reject_code, "
    "last_seq = COALESCE(excluded.last_seq, orders.last_seq), "
    "last_ns = excluded.last_ns, reconciled = excluded.reconciled"
)

INSERT_FILL = (
    "INSERT INTO fills (stream, run_id, seq, key, client_id, venue_id, trade_id, side, price, qty, fee, fee_asset, "
    "is_maker, ts_ms, realized_pnl, reconciled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (stream, key, venue_id, trade_id) DO NOTHING"
)

INSERT_FUNDING = (
    "INSERT INTO funding_payments (stream, run_id, seq, key, asset, amount, rate, ts_ms, reconciled) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream, key, asset, ts_ms) DO NOTHING"
)

INSERT_POSITION = (
    "INSERT INTO position_snapshots (stream, run_id, seq, ts_ms, key, size, entry_price, mark_price, "
    "unrealized_pnl, leverage, liquidation_price, margin_mode, reconciled) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

INSERT_BALANCE = (
    "INSERT INTO balance_snapshots (stream, run_id, seq, ts_ms, exchange, asset, wallet, free, locked, "
    "unrealized_pnl, margin_balance, available_balance, reconciled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

INSERT_PAIR_STATE = (
    "INSERT INTO pair_states (stream, run_id, strategy, pair_id, version, ts_ms, phase, closed, leg_a, leg_b, "
    "base_a, base_b, realized_basis, realized_funding, realized_fees, realized_slippage, realized_total, "
    "funding_accrued, state_format, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (stream, pair_id, version) DO NOTHING"
)

INSERT_DECISION = (
    "INSERT INTO decisions (stream, run_id, strategy, pair_id, ts_ms, action, reason, keys, terms, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
