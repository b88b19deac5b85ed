# Shared by run.sh and run_scaled.sh, which source it from the repository
# root: the chat's allowed origins, and the background processes they start
# (stop_all ends them; each script sets its trap), and waiting for a server.

pids=() # every process started in the background (append "$!")

stop_all() {
  trap - INT TERM EXIT
  echo
  echo "Stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

wait_for() { # name url [seconds, default 180]
  for _ in $(seq 1 "${3:-180}"); do
    if curl -fs -o /dev/null "$2"; then return 0; fi
    sleep 1
  done
  echo "error: $1 did not start (see the log above)" >&2
  exit 1
}

# Browser origins allowed to use the chat (the widget's pages): Rasa's --cors
# and the socket.io origin check (channels/socketio_channel.py) both use it.
# Exports CHAT_ALLOWED_ORIGINS (default: the web app on WEB_PORT, or
# PUBLIC_BASE_URL) and sets the array chat_origins for Rasa's --cors.
set_chat_origins() {
  local web_origin="${PUBLIC_BASE_URL:-http://localhost:$WEB_PORT}"
  export CHAT_ALLOWED_ORIGINS="${CHAT_ALLOWED_ORIGINS:-$web_origin http://127.0.0.1:$WEB_PORT}"
  read -r -a chat_origins <<< "${CHAT_ALLOWED_ORIGINS//,/ }"
}
