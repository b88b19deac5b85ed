"""live handoff: staff availability and chat requests (#15)

Revision ID: 0009_live_handoff
Revises: 0008_staff_roles_totp
Create Date: 2026-12-03 07:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_live_handoff"
down_revision = "0008_staff_roles_totp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_availability",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "handoff_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_by", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["taken_by"], ["staff_users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_handoff_chats_sender_id", "handoff_chats", ["sender_id"], unique=False
    )
    op.create_index(
        "ix_handoff_chats_status", "handoff_chats", ["status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_handoff_chats_status", table_name="handoff_chats")
    op.drop_index("ix_handoff_chats_sender_id", table_name="handoff_chats")
    op.drop_table("handoff_chats")
    op.drop_table("staff_availability")
