"""Residents' recordings, kept encrypted only when asr_keep_audio is set (issue 14)

Revision ID: 0013_voice_clips
Revises: 0012_privacy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_voice_clips"
down_revision = "0012_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_clips",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("audio_encrypted", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_voice_clips_created_at", "voice_clips", ["created_at"])
    op.create_index("ix_voice_clips_session_id", "voice_clips", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_voice_clips_session_id", table_name="voice_clips")
    op.drop_index("ix_voice_clips_created_at", table_name="voice_clips")
    op.drop_table("voice_clips")
