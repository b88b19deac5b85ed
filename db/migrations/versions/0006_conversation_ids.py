"""conversation ids namespaced by channel: a Twilio conversation is tel:+E164

Revision ID: 0006_conversation_ids
Revises: 0005_answer_reviews
Create Date: 2026-12-02 20:30:00

Data only (#14, clinic/conversation_ids.py). Before, the Twilio channel
keyed a conversation by the bare E.164 number, which any REST or socket.io
client could also name. Its conversations are renamed `tel:<number>` in
Rasa's `events` (data only: the table stays Rasa's) and in the tables that
point at a conversation. A Twilio conversation is told apart by its number
being in `sms_contacts` (every number that texted has a row). Other old ids
(REST and widget ones) stay as they were: staff still read them, and no
client can reach them any more, as every new id has its channel's prefix.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_conversation_ids"
down_revision = "0005_answer_reviews"
branch_labels = None
depends_on = None

PREFIX = "tel:"
# Tables holding a conversation id in `sender_id` (events is Rasa's and may
# not exist yet: Rasa creates it when it first starts).
TABLES = ("events", "leads", "red_flag_alerts", "answer_reviews")


CONTACTS = sa.table("sms_contacts", sa.column("phone", sa.String))


def _tables() -> list:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    return [
        sa.table(name, sa.column("sender_id", sa.String))
        for name in TABLES
        if name in existing
    ]


def upgrade() -> None:
    texted = sa.select(CONTACTS.c.phone)
    for table in _tables():
        renamed = sa.literal(PREFIX, sa.String) + table.c.sender_id
        change = sa.update(table).where(table.c.sender_id.in_(texted))
        if table.name == "red_flag_alerts":  # one alert per conversation
            existing = table.alias("existing")
            change = change.where(renamed.not_in(sa.select(existing.c.sender_id)))
        op.execute(change.values(sender_id=renamed))


def downgrade() -> None:
    texted = sa.select(CONTACTS.c.phone)
    for table in _tables():
        bare = sa.func.substr(table.c.sender_id, len(PREFIX) + 1)
        op.execute(
            sa.update(table)
            .where(table.c.sender_id.like(PREFIX + "%"), bare.in_(texted))
            .values(sender_id=bare)
        )
