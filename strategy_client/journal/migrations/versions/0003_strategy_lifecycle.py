"""strategy lifecycle: one row per strategy instance (its lifecycle state, the process running it,
and the control request another shell left for it) and every transition; signal ↔ order links.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEC = sa.Numeric().with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "strategy_instances",
        sa.Column("stream", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("strategy", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),  # live | paper
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("since_ms", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("pid", sa.BigInteger, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("open_count", sa.BigInteger, nullable=False),  # pairs (or signal positions) open
        sa.Column("heartbeat_ms", sa.BigInteger, nullable=False),
        # the control channel: another process writes a request, the running one answers it
        sa.Column("request_id", sa.BigInteger, nullable=False),
        sa.Column("request_state", sa.Text, nullable=False),
        sa.Column("request_by", sa.Text, nullable=False),
        sa.Column("request_ms", sa.BigInteger, nullable=False),
        sa.Column("answered_id", sa.BigInteger, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
    )
    op.create_table(
        "lifecycle_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("from_state", sa.Text, nullable=False),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("transition", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
    )
    op.create_index("ix_lifecycle_ts", "lifecycle_events", ["stream", "ts_ms"])
    op.create_table(
        "signal_orders",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("signal_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),  # entry | stop_loss | take_profit | rejected
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("qty", DEC, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.UniqueConstraint("stream", "signal_id", "role", name="uq_signal_role"),
    )


def downgrade() -> None:
    op.drop_table("signal_orders")
    op.drop_index("ix_lifecycle_ts", "lifecycle_events")
    op.drop_table("lifecycle_events")
    op.drop_table("strategy_instances")
