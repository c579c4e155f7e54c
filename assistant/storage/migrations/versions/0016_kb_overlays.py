"""Community overlays of the city knowledge base (issue 15): local entries and overrides in kb_entries

Revision ID: 0016_kb_overlays
Revises: 0015_one_outbox

Every existing entry is a city entry (``community_code`` NULL). A community's local entry has its code;
an override also names the city entry it replaces (``overrides``). Versions need nothing: local ids are
namespaced (``CODE--entry``), so their history never mixes with a city entry's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_kb_overlays"
down_revision = "0015_one_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kb_entries") as batch:
        batch.add_column(sa.Column("community_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("overrides", sa.String(length=80), nullable=True))
    op.create_index("ix_kb_entries_community_code", "kb_entries", ["community_code"])


def downgrade() -> None:
    op.drop_index("ix_kb_entries_community_code", table_name="kb_entries")
    with op.batch_alter_table("kb_entries") as batch:
        batch.drop_column("overrides")
        batch.drop_column("community_code")
