"""signal ↔ order links keep the signal itself (JSON), so a restarted ``strategy signals`` can
follow the orders of the run before it to their end.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("signal_orders") as batch:
        batch.add_column(sa.Column("signal", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("signal_orders") as batch:
        batch.drop_column("signal")
