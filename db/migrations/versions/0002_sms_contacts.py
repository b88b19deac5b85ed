"""sms contacts: one row per texting number, with the STOP opt-out

Revision ID: 0002_sms_contacts
Revises: 0001_leads
Create Date: 2026-11-21 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_sms_contacts"
down_revision = "0001_leads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_contacts",
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_channel", sa.String(length=16), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("phone"),
    )


def downgrade() -> None:
    op.drop_table("sms_contacts")
