"""gateway tables: API keys (hashed), the command outbox, the audit log.

Revision ID: g0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "g0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "gw_api_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),  # sha256 hex of the 256-bit secret
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "gw_commands",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("request", sa.Text, nullable=False),  # JSON
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=True),  # JSON
        sa.Column("error", sa.Text, nullable=True),  # JSON problem document
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("key_id", "idempotency_key", name="uq_gw_commands_idem"),
    )
    op.create_index("ix_gw_commands_status", "gw_commands", ["status"])
    op.create_table(
        "gw_audit",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("command_id", sa.Text, nullable=True),
        sa.Column("remote", sa.Text, nullable=False),
    )
    op.create_index("ix_gw_audit_ts", "gw_audit", ["ts_ms"])


def downgrade() -> None:
    op.drop_table("gw_audit")
    op.drop_index("ix_gw_commands_status", table_name="gw_commands")
    op.drop_table("gw_commands")
    op.drop_table("gw_api_keys")
