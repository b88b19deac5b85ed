#!/usr/bin/env bash
# The scaled-out set-up on one machine: Rasa replicas and action servers on
# loopback, each set behind nginx (deploy/nginx/scaled.conf: round robin,
# socket.io sessions kept on their replica, the body limit),
# Redis locks and the SQL tracker store and leads on the machine's PostgreSQL
# (deploy/endpoints.scaled.yml), plus the web app and the notification worker.
# Ctrl-C stops everything. Every port and address can be set from the
# environment (see the defaults below); tests run it on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh # pids, stop_all, wait_for, set_chat_origins

BIN=.venv/bin
PORT="${PORT:-8080}"                        # nginx in front of Rasa: clients use this
RASA_PORTS="${RASA_PORTS:-5005 5006}"       # one Rasa replica per port
ACTION_PORTS="${ACTION_PORTS:-5055 5056}"   # one action server per port
ACTIONS_PROXY_PORT="${ACTIONS_PROXY_PORT:-5050}"
API_PROXY_PORT="${API_PROXY_PORT:-5004}"    # Rasa's HTTP API, for the staff app only
WEB_PORT="${WEB_PORT:-8000}"
NGINX_DIR="${NGINX_DIR:-var/nginx}"         # nginx's config, pid and buffers
export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/ims_scaled?connect_timeout=5}"
export REDIS_HOST="${REDIS_HOST:-127.0.0.1}" REDIS_PORT="${REDIS_PORT:-6379}"
export REDIS_DB="${REDIS_DB:-1}" REDIS_PASSWORD="${REDIS_PASSWORD:-}"
export LOCK_KEY_PREFIX="${LOCK_KEY_PREFIX:-ims}"
export ACTION_ENDPOINT_URL="http://127.0.0.1:$ACTIONS_PROXY_PORT/webhook"
export RASA_URL="${RASA_URL:-http://127.0.0.1:$API_PROXY_PORT}"
set_chat_origins # CHAT_ALLOWED_ORIGINS and chat_origins (scripts/lib.sh)

# Rasa's HTTP API (/model, /status, /conversations/...) is on in every
# replica for the staff app's live chat and the notification worker
# (clinic/rasa_api.py), with a token drawn for this run unless
# RASA_AUTH_TOKEN is given: every API call without it is refused (401).
# nginx serves it only on its own listener (API_PROXY_PORT, RASA_URL), not
# on PORT, which has the channels alone.
export RASA_AUTH_TOKEN="${RASA_AUTH_TOKEN:-$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))')}"
api=(--enable-api "--auth-token=$RASA_AUTH_TOKEN")
if [ -n "${RASA_JWT_SECRET:-}" ]; then api+=(--jwt-secret "$RASA_JWT_SECRET"); fi

trap stop_all INT TERM EXIT

case "$DATABASE_URL" in
  postgresql*) ;;
  *) echo "error: the scaled set-up needs PostgreSQL (DATABASE_URL=$DATABASE_URL)" >&2; exit 1 ;;
esac
if ! "$BIN/python" -c "import redis, sys; redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), password=sys.argv[3] or None, socket_timeout=3).ping()" \
    "$REDIS_HOST" "$REDIS_PORT" "$REDIS_PASSWORD" 2>/dev/null; then
  echo "error: Redis is not reachable at $REDIS_HOST:$REDIS_PORT (start redis-server)" >&2
  exit 1
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
if [ ! -x "$NGINX" ]; then
  echo "error: nginx is not installed (Debian: apt-get install nginx; .ci/run installs it)" >&2
  exit 1
fi
"$BIN/python" -m deploy.ensure_database "$DATABASE_URL"
"$BIN/python" -m db.migrate

actions=()
for port in $ACTION_PORTS; do
  SANIC_HOST=127.0.0.1 "$BIN/rasa" run actions --port "$port" --actions actions &
  pids+=($!)
  actions+=(--action-server "127.0.0.1:$port")
done

replicas=()
for port in $RASA_PORTS; do
  # REPLICA_NAME prefixes its socket.io session ids, which nginx routes by.
  # 413 for bodies over 64 KB (not for the action servers: Rasa posts whole trackers)
  REPLICA_NAME="r$port" SANIC_REQUEST_MAX_SIZE=65536 \
    "$BIN/python" -m rasa_extensions run --interface 127.0.0.1 --port "$port" --model models \
    --endpoints deploy/endpoints.scaled.yml --credentials credentials.yml \
    --cors "${chat_origins[@]}" "${api[@]}" &
  pids+=($!)
  replicas+=(--replica "r$port=127.0.0.1:$port")
done

"$BIN/python" -m deploy.nginx.render --out "$NGINX_DIR/nginx.conf" \
  --listen "127.0.0.1:$PORT" "${replicas[@]}" \
  --actions-listen "127.0.0.1:$ACTIONS_PROXY_PORT" "${actions[@]}" \
  --api-listen "127.0.0.1:$API_PROXY_PORT"
"$NGINX" -p "$(cd "$NGINX_DIR" && pwd)" -e stderr -c nginx.conf -g "daemon off;" &
pids+=($!)
"$BIN/python" -m webapp --port "$WEB_PORT" &
pids+=($!)
"$BIN/python" -m notifications.worker &
pids+=($!)

for port in $ACTION_PORTS; do wait_for "action server $port" "http://127.0.0.1:$port/health" 300; done
for port in $RASA_PORTS; do wait_for "Rasa replica $port" "http://127.0.0.1:$port/" 300; done
wait_for "nginx" "http://127.0.0.1:$PORT/" 300
wait_for "web app" "http://127.0.0.1:$WEB_PORT/healthz" 300
cat <<MSG

  Scaled assistant is up (database: ${DATABASE_URL%%\?*}, Redis db $REDIS_DB)
    Rasa, through nginx:      http://localhost:$PORT/ (socket.io; REST is off
                              unless REST_CHANNEL_TOKEN or REST_CHANNEL=open)
    Rasa replicas:            $RASA_PORTS (loopback only)
    Action servers:           $ACTION_PORTS, through nginx on $ACTIONS_PROXY_PORT
    Rasa's HTTP API:          through nginx on $API_PROXY_PORT (loopback, with
                              RASA_AUTH_TOKEN; for the staff app's live chat)
    Demo clinic page:         http://localhost:$WEB_PORT/
  Press Ctrl-C to stop everything.

MSG
wait -n "${pids[@]}" || true
