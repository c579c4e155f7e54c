"""WeChat/WeCom callbacks: used nonces, so a replayed callback is refused (issue 18)

Revision ID: 0010_callback_nonces
Revises: 0003_console, 0006_alerts, 0007_urgent_handoff, 0008_handoff_contact
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_callback_nonces"
down_revision = ("0003_console", "0006_alerts", "0007_urgent_handoff", "0008_handoff_contact")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_nonces",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "nonce"),
    )
    op.create_index("ix_channel_nonces_seen_at", "channel_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_channel_nonces_seen_at", table_name="channel_nonces")
    op.drop_table("channel_nonces")
