# What scripts that run a `numbat serve` against plain OTP nodes of their own share
# (scripts/callgrind-metrics.sh, scripts/server-wakeups.sh). Sourced by them, not run.

# Starts $3 detached OTP nodes named $1<i>@127.0.0.1 (i from 1) with the cookie $2.
serve_nodes_start() {
  local i
  for i in $(seq 1 "$3"); do
    erl -name "$1${i}@127.0.0.1" -setcookie "$2" -noshell -noinput -detached
  done
}

# Stops every node serve_nodes_start started with the prefix $1.
serve_nodes_stop() {
  pkill -f -- "-name $1[0-9]+@" 2>/dev/null || true
}

# Waits up to five minutes for the server at the API address $1 to answer; else shows its log
# $2 and stops.
serve_wait_api() {
  local _
  for _ in $(seq 1 600); do curl -sf "$1/api/topo/nodes" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "numbat serve did not start:" >&2
  cat "$2" >&2
  exit 1
}

# Adds the nodes serve_nodes_start started ($2 prefix, $3 cookie, $4 nodes) to the server at $1
# and prints each one's id, a line each.
serve_add_nodes() {
  local i
  for i in $(seq 1 "$4"); do
    curl -sf -X POST "$1/api/actions/add-node" -H 'content-type: application/json' \
      -d "{\"node\":\"$2${i}@127.0.0.1\",\"cookie\":\"$3\"}" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"]["id"])'
  done
}

# Waits up to ten minutes for $2 nodes of the server at $1 to be UP.
serve_wait_up() {
  local _ up
  for _ in $(seq 1 600); do
    up=$(curl -sf "$1/api/topo/nodes?state=UP" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))')
    [ "$up" -ge "$2" ] && return 0
    sleep 1
  done
}
