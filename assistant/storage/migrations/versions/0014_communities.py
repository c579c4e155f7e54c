"""Communities of a city (issue 15): the communities table, and the community of every record residents start

Revision ID: 0014_communities
Revises: 0013_voice_clips

Records made before communities existed belong to the installation's one community, the default one
(code ``default``, made from the profile file at the next start).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_communities"
down_revision = "0013_voice_clips"
branch_labels = None
depends_on = None

DEFAULT_CODE = "default"  # assistant.communities.DEFAULT_CODE, fixed here as migrations must not change
OWNED_TABLES = ("chat_sessions", "unanswered_queries", "alerts", "work_orders", "handoff_requests")


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("street", sa.String(length=80), nullable=False),
        sa.Column("district", sa.String(length=80), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("follows_profile_file", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_communities_code", "communities", ["code"], unique=True)
    for table in (*OWNED_TABLES, "staff_accounts"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("community_code", sa.String(length=32), nullable=True))
        op.create_index(f"ix_{table}_community_code", table, ["community_code"])
    for table in OWNED_TABLES:  # staff accounts stay empty: today's staff see everything, as before
        op.execute(sa.text(f"UPDATE {table} SET community_code = :code").bindparams(code=DEFAULT_CODE))


def downgrade() -> None:
    for table in (*OWNED_TABLES, "staff_accounts"):
        op.drop_index(f"ix_{table}_community_code", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("community_code")
    op.drop_index("ix_communities_code", table_name="communities")
    op.drop_table("communities")
