"""Community notices and disaster warnings (issue 17): notices, early_warnings, warning_communities

Revision ID: 0018_bulletins
Revises: 0017_kiosks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_bulletins"
down_revision = "0017_kiosks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("body", sa.String(length=1000), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("audience_min_age", sa.Integer(), nullable=True),
        sa.Column("audience_max_age", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("image_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("submitted_by", sa.String(length=80), nullable=True),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("published_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notices_community_code", "notices", ["community_code"])
    op.create_index("ix_notices_status", "notices", ["status"])
    op.create_index("ix_notices_valid_from", "notices", ["valid_from"])
    op.create_index("ix_notices_valid_to", "notices", ["valid_to"])

    op.create_table(
        "early_warnings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("msg_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("urgency", sa.String(length=20), nullable=False),
        sa.Column("certainty", sa.String(length=20), nullable=False),
        sa.Column("headline", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("area_desc", sa.Text(), nullable=False),
        sa.Column("geocodes", sa.JSON(), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("assembly_point", sa.String(length=300), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective", sa.DateTime(timezone=True), nullable=True),
        sa.Column("onset", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender", "identifier", name="uq_early_warnings_sender_identifier"),
    )
    op.create_index("ix_early_warnings_status", "early_warnings", ["status"])
    op.create_index("ix_early_warnings_expires", "early_warnings", ["expires"])

    op.create_table(
        "warning_communities",
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["warning_id"], ["early_warnings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("warning_id", "community_code"),
    )
    op.create_index("ix_warning_communities_community_code", "warning_communities", ["community_code"])


def downgrade() -> None:
    op.drop_index("ix_warning_communities_community_code", table_name="warning_communities")
    op.drop_table("warning_communities")
    op.drop_index("ix_early_warnings_expires", table_name="early_warnings")
    op.drop_index("ix_early_warnings_status", table_name="early_warnings")
    op.drop_table("early_warnings")
    op.drop_index("ix_notices_valid_to", table_name="notices")
    op.drop_index("ix_notices_valid_from", table_name="notices")
    op.drop_index("ix_notices_status", table_name="notices")
    op.drop_index("ix_notices_community_code", table_name="notices")
    op.drop_table("notices")
