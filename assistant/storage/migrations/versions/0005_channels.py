"""WeChat/WeCom channels: inbound dedupe, customer-service outbox, access tokens, numbered menus

Revision ID: 0005_channels
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_channels"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_inbound",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("msg_type", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "dedupe_key", name="uq_channel_inbound_key"),
    )
    op.create_index("ix_channel_inbound_received_at", "channel_inbound", ["received_at"])

    op.create_table(
        "channel_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_encrypted", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_channel_outbox_session_id", "channel_outbox", ["session_id"])
    op.create_index("ix_channel_outbox_status", "channel_outbox", ["status"])
    op.create_index("ix_channel_outbox_next_attempt_at", "channel_outbox", ["next_attempt_at"])

    op.create_table(
        "channel_tokens",
        sa.Column("account", sa.String(length=120), nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("fetched_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )

    op.create_table(
        "channel_menus",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("payloads", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )


def downgrade() -> None:
    op.drop_table("channel_menus")
    op.drop_table("channel_tokens")
    op.drop_index("ix_channel_outbox_next_attempt_at", table_name="channel_outbox")
    op.drop_index("ix_channel_outbox_status", table_name="channel_outbox")
    op.drop_index("ix_channel_outbox_session_id", table_name="channel_outbox")
    op.drop_table("channel_outbox")
    op.drop_index("ix_channel_inbound_received_at", table_name="channel_inbound")
    op.drop_table("channel_inbound")
