"""one outbox (issue 15): order_outbox becomes outbox, with the WeChat/WeCom replies of channel_outbox moved in

Revision ID: 0015_one_outbox
Revises: 0014_communities

``kind`` says which sender delivers a row (``webhook``, ``wechat``, ``wecom``); a reply keeps its session, its
recipient (still Fernet-encrypted: the key does not change) and the callback it answers. Only rows still to be
sent move (pending, or claimed by a sender that may have crashed); sent and given-up replies held nothing but
their text and are dropped with ``channel_outbox``. Epoch-float times become UTC datetimes. The downgrade
moves pending replies back the same way.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0015_one_outbox"
down_revision = "0014_communities"
branch_labels = None
depends_on = None

CHANNEL_KINDS = ("wechat", "wecom")  # fixed here: migrations must not change with the code
OLD_INDEXES = ("created_at", "order_id", "status", "next_attempt_at", "alert_id")

outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("order_id", sa.Integer), sa.column("order_number", sa.String), sa.column("event", sa.String),
    sa.column("idempotency_key", sa.String), sa.column("department", sa.String), sa.column("payload", sa.JSON),
    sa.column("status", sa.String), sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)), sa.column("locked_until", sa.DateTime(timezone=True)),
    sa.column("last_error", sa.Text), sa.column("delivered_at", sa.DateTime(timezone=True)),
    sa.column("alert_id", sa.Integer), sa.column("session_id", sa.String),
    sa.column("recipient_encrypted", sa.Text), sa.column("inbound_id", sa.Integer),
)
channel_outbox = sa.table(
    "channel_outbox",
    sa.column("id", sa.Integer), sa.column("channel", sa.String), sa.column("session_id", sa.String),
    sa.column("recipient_encrypted", sa.Text), sa.column("text", sa.Text), sa.column("status", sa.String),
    sa.column("attempts", sa.Integer), sa.column("next_attempt_at", sa.Float), sa.column("locked_until", sa.Float),
    sa.column("last_error", sa.String), sa.column("inbound_id", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("sent_at", sa.DateTime(timezone=True)),
)


def _utc(epoch: float | None) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch or 0.0, dt.UTC)


def upgrade() -> None:
    for column in OLD_INDEXES:
        op.drop_index(f"ix_order_outbox_{column}", table_name="order_outbox")
    op.rename_table("order_outbox", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="webhook"))
        batch.add_column(sa.Column("session_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("recipient_encrypted", sa.Text(), nullable=True))
        batch.add_column(sa.Column("inbound_id", sa.Integer(), nullable=True))
    for column in (*OLD_INDEXES, "session_id"):
        op.create_index(f"ix_outbox_{column}", "outbox", [column])

    bind = op.get_bind()
    waiting = bind.execute(sa.select(channel_outbox).where(channel_outbox.c.status.in_(("pending", "sending")))
                           .order_by(channel_outbox.c.id)).mappings().all()
    moved = [{"kind": row["channel"], "created_at": row["created_at"], "order_id": None, "order_number": "",
              "event": "reply", "idempotency_key": f"{row['channel']}:moved:{row['id']}", "department": "",
              "payload": {"text": row["text"]}, "status": "pending", "attempts": row["attempts"] or 0,
              "next_attempt_at": _utc(row["next_attempt_at"]), "locked_until": None,
              "last_error": row["last_error"] or "", "delivered_at": None, "alert_id": None,
              "session_id": row["session_id"], "recipient_encrypted": row["recipient_encrypted"],
              "inbound_id": row["inbound_id"]} for row in waiting if row["channel"] in CHANNEL_KINDS]
    if moved:
        op.bulk_insert(outbox, moved)

    op.drop_index("ix_channel_outbox_next_attempt_at", table_name="channel_outbox")
    op.drop_index("ix_channel_outbox_status", table_name="channel_outbox")
    op.drop_index("ix_channel_outbox_session_id", table_name="channel_outbox")
    op.drop_table("channel_outbox")


def downgrade() -> None:
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

    bind = op.get_bind()
    replies = outbox.c.kind.in_(CHANNEL_KINDS)
    waiting = bind.execute(sa.select(outbox).where(replies, outbox.c.status == "pending")
                           .order_by(outbox.c.id)).mappings().all()
    back = []
    for row in waiting:
        when = row["next_attempt_at"]
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
        back.append({"channel": row["kind"], "session_id": row["session_id"] or "",
                     "recipient_encrypted": row["recipient_encrypted"], "text": (row["payload"] or {}).get("text", ""),
                     "status": "pending", "attempts": row["attempts"], "next_attempt_at": when.timestamp(),
                     "locked_until": 0.0, "last_error": (row["last_error"] or "")[:200] or None,
                     "inbound_id": row["inbound_id"], "created_at": row["created_at"], "sent_at": None})
    if back:
        op.bulk_insert(channel_outbox, back)
    bind.execute(sa.delete(outbox).where(replies))

    for column in (*OLD_INDEXES, "session_id"):
        op.drop_index(f"ix_outbox_{column}", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("inbound_id")
        batch.drop_column("recipient_encrypted")
        batch.drop_column("session_id")
        batch.drop_column("kind")
    op.rename_table("outbox", "order_outbox")
    for column in OLD_INDEXES:
        op.create_index(f"ix_order_outbox_{column}", "order_outbox", [column])
