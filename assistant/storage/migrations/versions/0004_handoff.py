"""handoff: delivery outbox, deadline extensions, lifecycle columns on work orders and handoffs

Revision ID: 0004_handoff
Revises: 0002
Written by hand: it touches only the handoff feature's tables and columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_handoff"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_order_events") as batch:
        batch.add_column(sa.Column("action", sa.String(length=20), nullable=False, server_default=sa.text("''")))
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("deadline_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reminders", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("handoff_requests") as batch:
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("close_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("work_order_number", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("left_message", sa.Text(), nullable=True))

    op.create_table(
        "order_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["work_orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_order_outbox_idempotency_key"),
    )
    op.create_index("ix_order_outbox_created_at", "order_outbox", ["created_at"])
    op.create_index("ix_order_outbox_order_id", "order_outbox", ["order_id"])
    op.create_index("ix_order_outbox_status", "order_outbox", ["status"])
    op.create_index("ix_order_outbox_next_attempt_at", "order_outbox", ["next_attempt_at"])

    op.create_table(
        "work_order_extensions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("previous_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["work_orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_work_order_extensions_order_id", "work_order_extensions", ["order_id"])
    op.create_index("ix_work_order_extensions_status", "work_order_extensions", ["status"])


def downgrade() -> None:
    op.drop_table("work_order_extensions")
    op.drop_table("order_outbox")
    with op.batch_alter_table("handoff_requests") as batch:
        batch.drop_column("left_message")
        batch.drop_column("work_order_number")
        batch.drop_column("close_note")
        batch.drop_column("claimed_at")
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("resolved_at")
        batch.drop_column("reminders")
        batch.drop_column("rating")
        batch.drop_column("deadline_days")
    with op.batch_alter_table("work_order_events") as batch:
        batch.drop_column("action")
