"""runner tables: runs, order intents, orders, events (the outbox), order events, fills,
funding payments, position and balance snapshots.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Money: exact decimals. NUMERIC keeps every digit in PostgreSQL; SQLite's NUMERIC affinity would
# turn '0.1' into a float, so there the column is TEXT.
DEC = sa.Numeric().with_variant(sa.Text(), "sqlite")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("exchange", sa.Text, nullable=False, server_default=""),
        sa.Column("account", sa.Text, nullable=False, server_default=""),
        sa.Column("strategy", sa.Text, nullable=False, server_default=""),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("stopped_ms", sa.BigInteger, nullable=True),
        sa.Column("stop_reason", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_runs_stream", "runs", ["stream", "started_ms"])

    op.create_table(
        "order_intents",
        _id(),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("ts_ns", sa.BigInteger, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("tif", sa.Text, nullable=False),
        sa.Column("qty", DEC, nullable=False),
        sa.Column("price", DEC, nullable=True),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("request", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("stream", "client_id", name="uq_intents_client_id"),
    )
    # no time index here: every index is one more page written by the synchronous intent commit
    # (~6 µs each); history finds intents through orders, and scans a stream's intents otherwise

    op.create_table(
        "orders",
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("venue_id", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("tif", sa.Text, nullable=False),
        sa.Column("price", DEC, nullable=True),
        sa.Column("qty", DEC, nullable=False),
        sa.Column("filled_qty", DEC, nullable=False),
        sa.Column("avg_price", DEC, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("created_ts_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ts_ms", sa.BigInteger, nullable=False),
        sa.Column("reject_reason", sa.Text, nullable=False),
        sa.Column("reject_code", sa.Text, nullable=True),
        sa.Column("last_seq", sa.BigInteger, nullable=True),
        sa.Column("last_ns", sa.BigInteger, nullable=False),
        sa.Column("reconciled", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("stream", "client_id", name="pk_orders"),
    )
    op.create_index("ix_orders_status", "orders", ["stream", "status"])
    op.create_index("ix_orders_updated", "orders", ["stream", "updated_ts_ms"])

    op.create_table(
        "events",
        _id(),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("ts_ns", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("topic", sa.LargeBinary, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("reconciled", sa.Boolean, nullable=False),
        sa.UniqueConstraint("stream", "seq", name="uq_events_seq"),
    )

    op.create_table(
        "order_events",
        _id(),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("ts_ns", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("venue_id", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("filled_qty", DEC, nullable=False),
        sa.Column("avg_price", DEC, nullable=True),
        sa.Column("venue_ts_ms", sa.BigInteger, nullable=False),
        sa.Column("reject_reason", sa.Text, nullable=False),
        sa.Column("reject_code", sa.Text, nullable=True),
        sa.Column("trade_id", sa.Text, nullable=True),
        sa.Column("reconciled", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_order_events_client", "order_events", ["stream", "client_id", "id"])
    op.create_index("ix_order_events_ts", "order_events", ["stream", "ts_ns"])

    op.create_table(
        "fills",
        _id(),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("venue_id", sa.Text, nullable=False),
        sa.Column("trade_id", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("price", DEC, nullable=False),
        sa.Column("qty", DEC, nullable=False),
        sa.Column("fee", DEC, nullable=False),
        sa.Column("fee_asset", sa.Text, nullable=False),
        sa.Column("is_maker", sa.Boolean, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("realized_pnl", DEC, nullable=False),
        sa.Column("reconciled", sa.Boolean, nullable=False),
        sa.UniqueConstraint("stream", "key", "venue_id", "trade_id", name="uq_fills_trade"),
    )
    op.create_index("ix_fills_ts", "fills", ["stream", "ts_ms"])

    op.create_table(
        "funding_payments",
        _id(),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("amount", DEC, nullable=False),
        sa.Column("rate", DEC, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("reconciled", sa.Boolean, nullable=False),
        sa.UniqueConstraint("stream", "key", "asset", "ts_ms", name="uq_funding_settlement"),
    )
    op.create_index("ix_funding_ts", "funding_payments", ["stream", "ts_ms"])

    op.create_table(
        "position_snapshots",
        _id(),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("size", DEC, nullable=False),
        sa.Column("entry_price", DEC, nullable=False),
        sa.Column("mark_price", DEC, nullable=False),
        sa.Column("unrealized_pnl", DEC, nullable=False),
        sa.Column("leverage", sa.Integer, nullable=False),
        sa.Column("liquidation_price", DEC, nullable=False),
        sa.Column("margin_mode", sa.Text, nullable=False),
        sa.Column("reconciled", sa.Boolean, nullable=False),
    )
    op.create_index("ix_positions_key", "position_snapshots", ["stream", "key", "ts_ms"])

    op.create_table(
        "balance_snapshots",
        _id(),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("exchange", sa.Text, nullable=False),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("wallet", sa.Text, nullable=False),  # spot | margin
        sa.Column("free", DEC, nullable=False),
        sa.Column("locked", DEC, nullable=False),
        sa.Column("unrealized_pnl", DEC, nullable=False),
        sa.Column("margin_balance", DEC, nullable=False),
        sa.Column("available_balance", DEC, nullable=False),
        sa.Column("reconciled", sa.Boolean, nullable=False),
    )
    op.create_index("ix_balances_asset", "balance_snapshots", ["stream", "asset", "ts_ms"])


def downgrade() -> None:
    for table in (
        "balance_snapshots",
        "position_snapshots",
        "funding_payments",
        "fills",
        "order_events",
        "events",
        "orders",
        "order_intents",
        "runs",
    ):
        op.drop_table(table)
