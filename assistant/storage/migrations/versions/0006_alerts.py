"""alerts: the events table of the db event bus, escalation of alerts, alerts in the delivery outbox

Revision ID: 0006_alerts
Revises: 0004_handoff, 0005_channels
Written by hand: it touches only the alert feature's tables and columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_alerts"
# Merges the handoff and channels branches: it alters order_outbox, which 0004 creates (a merge, not
# depends_on, so the version table lists only real heads).
down_revision = ("0004_handoff", "0005_channels")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_created_at", "events", ["created_at"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    # An escalated alert goes to the department webhook through the one outbox: its rows may now belong to an
    # alert instead of a work order.
    with op.batch_alter_table("order_outbox") as batch:
        batch.add_column(sa.Column("alert_id", sa.Integer(), nullable=True))
        batch.alter_column("order_id", existing_type=sa.Integer(), nullable=True)
    op.create_index("ix_order_outbox_alert_id", "order_outbox", ["alert_id"])


def downgrade() -> None:
    op.drop_index("ix_order_outbox_alert_id", table_name="order_outbox")
    op.execute("DELETE FROM order_outbox WHERE order_id IS NULL")
    with op.batch_alter_table("order_outbox") as batch:
        batch.alter_column("order_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("alert_id")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("escalated_at")
    op.drop_index("ix_events_created_at", table_name="events")
    op.drop_table("events")
