"""Urgent live handoffs: a request made in a session that raised an emergency goes first and never becomes 留言

Revision ID: 0007_urgent_handoff
Revises: 0005_channels
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_urgent_handoff"
down_revision = "0005_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_requests") as batch:
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("handoff_requests") as batch:
        batch.drop_column("urgent")
