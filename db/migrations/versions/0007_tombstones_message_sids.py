"""tombstones of deleted conversations, and Twilio MessageSids received

Revision ID: 0007_tombstones_message_sids
Revises: 0006_conversation_ids
Create Date: 2026-12-02 20:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_tombstones_message_sids"
down_revision = "0006_conversation_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_tombstones",
        sa.Column("sender_hash", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sender_hash"),
    )
    op.create_index(
        "ix_conversation_tombstones_deleted_at",
        "conversation_tombstones",
        ["deleted_at"],
        unique=False,
    )
    op.create_table(
        "twilio_message_sids",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_sid"),
    )
    op.create_index(
        "ix_twilio_message_sids_received_at",
        "twilio_message_sids",
        ["received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_twilio_message_sids_received_at", table_name="twilio_message_sids"
    )
    op.drop_table("twilio_message_sids")
    op.drop_index(
        "ix_conversation_tombstones_deleted_at", table_name="conversation_tombstones"
    )
    op.drop_table("conversation_tombstones")
