"""handoff contact: the phone number a resident gives in a live chat, encrypted, and its masked form

Revision ID: 0008_handoff_contact
Revises: 0004_handoff, 0005_channels
Written by hand: it touches only two columns of handoff_requests.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_handoff_contact"
# Merges the handoff and channels branches: the handoff columns of 0004 must exist before SQLite's batch copy
# of the table (a merge, not depends_on, so the version table lists only real heads).
down_revision = ("0004_handoff", "0005_channels")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_requests") as batch:
        batch.add_column(sa.Column("contact_encrypted", sa.Text(), nullable=True))
        batch.add_column(sa.Column("contact_masked", sa.String(length=20), nullable=False,
                                   server_default=sa.text("''")))


def downgrade() -> None:
    with op.batch_alter_table("handoff_requests") as batch:
        batch.drop_column("contact_masked")
        batch.drop_column("contact_encrypted")
