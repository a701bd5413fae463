#!/usr/bin/env bash
# The CPU time and thread wake-ups of a `numbat serve` managing real nodes, per second and per
# thread, from /proc/PID/task/*/schedstat (nanoseconds on the CPU, and times scheduled in).
# With the default collection interval of an hour this is the server's floor: what it spends
# on its nodes and itself while nothing is collected (ticks, alarm checks, timers, its loops).
# On a virtual machine, where waking a sleeping thread costs far more than the work it wakes
# for, this is where background costs show (docs/benchmarks.md, issue #16 sixteenth pass).
#
#   scripts/server-wakeups.sh [NUMBAT] [NODES] [SECONDS] [-- SERVE_ARGS...]
#
# NUMBAT defaults to .build/release/numbat (swift build -c release --product numbat), NODES to
# 20 plain OTP nodes (`erl -detached`), SECONDS (the measured window, after 30 s of settling) to
# 30. METRICS_INTERVAL (default 3600) sets `--metrics-interval`; SERVE_ARGS go to `numbat serve`
# as they are (for example `-- --alert-poll 60`).
set -euo pipefail
cd "$(dirname "$0")/.."
NUMBAT="${1:-.build/release/numbat}"
NODES="${2:-20}"
WINDOW="${3:-30}"
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
. scripts/lib/serve-nodes.sh
for tool in erl curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (scripts/install-test-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/numbat-wakeups.XXXXXX)
cookie="wakeups$$"
prefix="nbwake$$n"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  serve_nodes_stop "$prefix"
  rm -rf "$work"
}
trap cleanup EXIT
serve_nodes_start "$prefix" "$cookie" "$NODES"
port=$((20000 + $$ % 20000))
"$NUMBAT" serve --port "$port" --data-dir "$work/data" --node-name "nbwakeserver$$" \
  --metrics-interval "${METRICS_INTERVAL:-3600}" "$@" >"$work/serve.log" 2>&1 &
server=$!
api="http://127.0.0.1:$port"
serve_wait_api "$api" "$work/serve.log"
serve_add_nodes "$api" "$prefix" "$cookie" "$NODES" >/dev/null
serve_wait_up "$api" "$NODES"
# The agents injected, the first collections and alarm checks made.
sleep 30
sample() {
  local task
  for task in /proc/"$server"/task/*; do
    printf '%s %s %s\n' "${task##*/}" "$(tr ' ' '_' <"$task/comm")" "$(cat "$task/schedstat")"
  done | sort
}
sample >"$work/before"
sleep "$WINDOW"
sample >"$work/after"
printf '%d nodes, metrics every %s s, %s s window\n' "$NODES" "${METRICS_INTERVAL:-3600}" "$WINDOW"
join "$work/before" "$work/after" | awk -v window="$WINDOW" '
  { cpu = ($7 - $3) / window / 1000; wakes = ($9 - $5) / window; total += cpu; all += wakes
    if (cpu >= 1) printf "  thread %-8s %-22s %7.0f us CPU/s %6.1f wake-ups/s\n", $1, $2, cpu, wakes }
  END { printf "server: %.0f us of CPU a second, %.1f wake-ups a second\n", total, all }'
