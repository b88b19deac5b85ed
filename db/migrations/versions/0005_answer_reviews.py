"""answer reviews: staff's verdict on answers marked unhelpful or unsure

Revision ID: 0005_answer_reviews
Revises: 0004_red_flag_alerts
Create Date: 2026-12-02 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_answer_reviews"
down_revision = "0004_red_flag_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        "ix_answer_reviews_sender_id", "answer_reviews", ["sender_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_answer_reviews_sender_id", table_name="answer_reviews")
    op.drop_table("answer_reviews")
