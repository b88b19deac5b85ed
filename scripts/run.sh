#!/usr/bin/env bash
# Migrates the database, then starts the action server (5055), Rasa (5005),
# the web app (8000) and the staff-notification worker on the embedded SQLite
# database, prints the URLs and stops them all on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh # pids, stop_all, wait_for, set_chat_origins

BIN=.venv/bin
RASA_PORT="${RASA_PORT:-5005}" ACTION_PORT="${ACTION_PORT:-5055}" WEB_PORT="${WEB_PORT:-8000}"
# Unset: the default of clinic/settings.py, the one place it is written.
export DATABASE_URL="${DATABASE_URL:-$("$BIN/python" -m clinic.settings database_url)}"
export ACTION_ENDPOINT_URL="${ACTION_ENDPOINT_URL:-http://localhost:$ACTION_PORT/webhook}"
export RASA_URL="${RASA_URL:-http://localhost:$RASA_PORT}"
# Local development: the REST channel is open (off by default elsewhere;
# REST_CHANNEL_TOKEN requires a bearer token instead; README, Security).
export REST_CHANNEL="${REST_CHANNEL:-open}"
set_chat_origins # CHAT_ALLOWED_ORIGINS and chat_origins (scripts/lib.sh)
# Rasa's HTTP API is on for one client, the staff app's live chat
# (clinic/rasa_api.py), with a token drawn for this run unless
# RASA_AUTH_TOKEN is given: every API call without it is refused (401).
export RASA_AUTH_TOKEN="${RASA_AUTH_TOKEN:-$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))')}"
# var/ holds the database, the outboxes and the secrets: owner-only
# (clinic/private_files.py makes each file 0600).
mkdir -p var && chmod 700 var

trap stop_all INT TERM EXIT

"$BIN/python" -m db.migrate

# rasa-sdk has no authentication: keep it on loopback (it reads SANIC_HOST).
SANIC_HOST="${ACTION_HOST:-127.0.0.1}" "$BIN/rasa" run actions --port "$ACTION_PORT" \
  --actions actions &
pids+=($!)
# Rasa answers 413 to bodies over 64 KB (Sanic's default limit is 100 MB).
# `python -m rasa_extensions run` is `rasa run` with the project's start-up
# hook (rasa_extensions/plugin.py): version check, action-server fallback.
SANIC_REQUEST_MAX_SIZE=65536 "$BIN/python" -m rasa_extensions run --port "$RASA_PORT" --model models \
  --endpoints endpoints.yml --credentials credentials.yml \
  --enable-api --auth-token="$RASA_AUTH_TOKEN" \
  --cors "${chat_origins[@]}" &
pids+=($!)
"$BIN/python" -m webapp --port "$WEB_PORT" &
pids+=($!)
"$BIN/python" -m notifications.worker &
pids+=($!)

wait_for "action server" "http://localhost:$ACTION_PORT/health"
wait_for "web app" "http://localhost:$WEB_PORT/healthz"
wait_for "Rasa" "http://localhost:$RASA_PORT/"
cat <<MSG

  Assistant is up (database: $DATABASE_URL)
    Demo clinic page with chat:  http://localhost:$WEB_PORT/
    Staff app:                   http://localhost:$WEB_PORT/staff
                                 (make an account first: make staff-user)
    Rasa REST channel:           POST http://localhost:$RASA_PORT/webhooks/rest/webhook
    Action server:               http://localhost:$ACTION_PORT/health
  Press Ctrl-C to stop everything.

MSG
wait -n "${pids[@]}" || true
