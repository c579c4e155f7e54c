"""Optional TOTP second factor for staff accounts, with one-time recovery codes (issue 18)

Revision ID: 0011_admin_totp
Revises: 0009_sign_in_limits, 0010_callback_nonces (also joins the two heads those left into one)

- ``staff_accounts``: the TOTP secret (Fernet-encrypted), a secret being set up but not yet confirmed, when
  it was turned on, and the last accepted time step (a code is never accepted twice).
- ``staff_recovery_codes``: argon2 hashes of the one-time recovery codes.
- ``staff_pending_sign_ins``: the short "password right, second step pending" state; grants no page.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_admin_totp"
down_revision = ("0009_sign_in_limits", "0010_callback_nonces")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("totp_pending_secret", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["staff_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_recovery_codes_account_id", "staff_recovery_codes", ["account_id"])
    op.create_table(
        "staff_pending_sign_ins",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["staff_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_staff_pending_sign_ins_account_id", "staff_pending_sign_ins", ["account_id"])
    op.create_index("ix_staff_pending_sign_ins_expires_at", "staff_pending_sign_ins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_staff_pending_sign_ins_expires_at", table_name="staff_pending_sign_ins")
    op.drop_index("ix_staff_pending_sign_ins_account_id", table_name="staff_pending_sign_ins")
    op.drop_table("staff_pending_sign_ins")
    op.drop_index("ix_staff_recovery_codes_account_id", table_name="staff_recovery_codes")
    op.drop_table("staff_recovery_codes")
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_pending_secret")
        batch.drop_column("totp_secret")
