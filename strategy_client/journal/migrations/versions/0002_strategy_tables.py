"""strategy tables: pair states (the two-leg position at every transition) and decisions
(the edge terms at decision time).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

DEC = sa.Numeric().with_variant(sa.Text(), "sqlite")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pair_states",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("strategy", sa.Text, nullable=False),
        sa.Column("pair_id", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("phase", sa.Text, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("leg_a", sa.Text, nullable=False),
        sa.Column("leg_b", sa.Text, nullable=False),
        sa.Column("base_a", DEC, nullable=False),
        sa.Column("base_b", DEC, nullable=False),
        sa.Column("realized_basis", DEC, nullable=False),
        sa.Column("realized_funding", DEC, nullable=False),
        sa.Column("realized_fees", DEC, nullable=False),
        sa.Column("realized_slippage", DEC, nullable=False),
        sa.Column("realized_total", DEC, nullable=False),
        sa.Column("funding_accrued", DEC, nullable=False),
        sa.Column("state_format", sa.Text, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("stream", "pair_id", "version", name="uq_pair_version"),
    )
    op.create_index("ix_pairs_strategy", "pair_states", ["strategy", "pair_id", "version"])
    op.create_index("ix_pairs_ts", "pair_states", ["stream", "ts_ms"])

    op.create_table(
        "decisions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("strategy", sa.Text, nullable=False),
        sa.Column("pair_id", sa.Text, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("keys", sa.Text, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),  # JSON object: name -> decimal string
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_decisions_ts", "decisions", ["stream", "ts_ms"])


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("pair_states")
