"""WeChat/WeCom subscribers of a community's account, for warning pushes (issue 17)

Revision ID: 0019_wechat_subscribers
Revises: 0018_bulletins
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_wechat_subscribers"
down_revision = "0018_bulletins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_subscribers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=False),
        sa.Column("openid_key", sa.String(length=64), nullable=False),
        sa.Column("openid_encrypted", sa.Text(), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("subscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_interaction_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "openid_key", name="uq_wechat_subscribers_key"),
    )
    op.create_index("ix_wechat_subscribers_community_code", "wechat_subscribers", ["community_code"])
    op.create_index("ix_wechat_subscribers_subscribed", "wechat_subscribers", ["subscribed"])


def downgrade() -> None:
    op.drop_index("ix_wechat_subscribers_subscribed", table_name="wechat_subscribers")
    op.drop_index("ix_wechat_subscribers_community_code", table_name="wechat_subscribers")
    op.drop_table("wechat_subscribers")
