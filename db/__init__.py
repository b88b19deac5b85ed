"""The leads database: tables (`db.models`), engine and sessions
(`db.engine`), lead storage rules (`db.leads`) and Alembic migrations
(`db/migrations`). Rasa's tracker store keeps its own `events` table in the
same database, so a lead's transcript is found by its sender id."""
