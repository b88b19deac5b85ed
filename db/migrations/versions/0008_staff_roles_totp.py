"""staff roles and TOTP: front desk or admin, and two-factor sign-in

Every account that exists becomes an admin: until now each one could do
everything (export, delete), and an admin is asked to set up TOTP at its
next sign-in. New accounts choose their role (create-user --role).

Revision ID: 0008_staff_roles_totp
Revises: 0007_tombstones_message_sids
Create Date: 2026-12-02 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_staff_roles_totp"
down_revision = "0007_tombstones_message_sids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.execute("UPDATE staff_users SET role = 'admin'")
    with op.batch_alter_table("staff_users") as batch:
        batch.alter_column("role", existing_type=sa.String(length=16), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
        batch.drop_column("role")
