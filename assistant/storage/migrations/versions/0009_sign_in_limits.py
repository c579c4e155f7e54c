"""Shared sign-in rate limits (one row per counting window, for every worker)

Revision ID: 0009_sign_in_limits
Revises: 0003_console, 0006_alerts, 0007_urgent_handoff, 0008_handoff_contact
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_sign_in_limits"
down_revision = ("0003_console", "0006_alerts", "0007_urgent_handoff", "0008_handoff_contact")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_limits",
        sa.Column("bucket", sa.String(length=64), nullable=False),
        sa.Column("free_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("bucket"),
    )
    op.create_index("ix_sign_in_limits_free_at", "sign_in_limits", ["free_at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_limits_free_at", table_name="sign_in_limits")
    op.drop_table("sign_in_limits")
