"""Personal data: blind index of residents' phone and ID numbers, pending erasures, daily purge runs (issue 18)

Revision ID: 0012_privacy
Revises: 0011_admin_totp
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_privacy"
down_revision = "0011_admin_totp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_data_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("handoff_request_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("key", "session_id", "work_order_id", "handoff_request_id"):
        op.create_index(f"ix_personal_data_keys_{column}", "personal_data_keys", [column])
    op.create_table(
        "privacy_pending_erasures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_privacy_pending_erasures_session_id", "privacy_pending_erasures", ["session_id"])
    op.create_index("ix_privacy_pending_erasures_work_order_id", "privacy_pending_erasures", ["work_order_id"])
    op.create_table(
        "retention_runs",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("retention_runs")
    op.drop_index("ix_privacy_pending_erasures_work_order_id", table_name="privacy_pending_erasures")
    op.drop_index("ix_privacy_pending_erasures_session_id", table_name="privacy_pending_erasures")
    op.drop_table("privacy_pending_erasures")
    for column in ("handoff_request_id", "work_order_id", "session_id", "key"):
        op.drop_index(f"ix_personal_data_keys_{column}", table_name="personal_data_keys")
    op.drop_table("personal_data_keys")
