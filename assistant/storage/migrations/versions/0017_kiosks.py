"""The kiosk fleet (issue 15): kiosks, their device tokens (hashed), heartbeats, health and open alerts

Revision ID: 0017_kiosks
Revises: 0016_kb_overlays
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_kiosks"
down_revision = "0016_kb_overlays"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("uptime_seconds", sa.Integer(), nullable=True),
        sa.Column("health", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("open_alerts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kiosks_community_code", "kiosks", ["community_code"])
    op.create_index("ix_kiosks_token_hash", "kiosks", ["token_hash"], unique=True)
    op.create_index("ix_kiosks_last_seen_at", "kiosks", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_kiosks_last_seen_at", table_name="kiosks")
    op.drop_index("ix_kiosks_token_hash", table_name="kiosks")
    op.drop_index("ix_kiosks_community_code", table_name="kiosks")
    op.drop_table("kiosks")
