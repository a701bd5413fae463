#!/usr/bin/env bash
# Instructions the server spends per metric collection, counted by valgrind's callgrind: the
# CPU-time reading of `numbat-bench --only metrics-cycle` moves by 10 ms ticks and with the
# machine's load; these counts hold.
#
#   scripts/callgrind-metrics.sh [NUMBAT] [NODES] [SECONDS]
#
# NUMBAT defaults to .build/release/numbat (swift build -c release --product numbat). Starts
# NODES (default 5) plain OTP nodes (`erl -detached`, not under valgrind), runs `numbat serve
# --metrics-interval 1` under callgrind, adds the nodes, lets the collections settle, zeroes the
# counters, waits SECONDS (default 30), dumps them and counts the collections made in that
# window from the stored points of one metric. Everything the server did in the window (its
# flush loop, ticks, the store) is divided by the collections, as the CPU-time benchmark does.
# The profile stays in $CALLGRIND_OUT (default /tmp/numbat-callgrind-metrics.out) for
# callgrind_annotate. METRICS_INTERVAL (seconds, default 1) sets `--metrics-interval`: one
# longer than the window profiles the server with its nodes and nothing collected (ticks,
# alarm checks, its own loops), and the script then prints instructions a second.
set -euo pipefail
cd "$(dirname "$0")/.."
NUMBAT="${1:-.build/release/numbat}"
NODES="${2:-5}"
SECONDS_WINDOW="${3:-30}"
OUT_FILE="${CALLGRIND_OUT:-/tmp/numbat-callgrind-metrics.out}"
. scripts/lib/callgrind.sh
. scripts/lib/serve-nodes.sh
callgrind_require objcopy callgrind_control erl cc curl python3
work=$(mktemp -d /tmp/numbat-cgmetrics.XXXXXX)
cookie="cgmetrics$$"
prefix="nbcgm$$n"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  serve_nodes_stop "$prefix"
  rm -rf "$work"
}
trap cleanup EXIT
callgrind_strip "$NUMBAT" "$work/numbat"
# libdispatch's signal thread calls sigsuspend with a mask in read-only memory, which
# valgrind's wrapper writes to (and dies): hand it a copy on the stack.
cat >"$work/sigsuspend.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return ((int (*)(const sigset_t *))dlsym(RTLD_NEXT, "sigsuspend"))(&copy);
}
C
cc -shared -fPIC -O2 -o "$work/sigsuspend.so" "$work/sigsuspend.c" -ldl
serve_nodes_start "$prefix" "$cookie" "$NODES"
port=$((20000 + $$ % 20000))
LD_PRELOAD="$work/sigsuspend.so" valgrind --tool=callgrind --callgrind-out-file="$OUT_FILE" "$work/numbat" serve \
  --port "$port" --data-dir "$work/data" --node-name "nbcgmserver$$" --metrics-interval "${METRICS_INTERVAL:-1}" >"$work/serve.log" 2>&1 &
server=$!
api="http://127.0.0.1:$port"
serve_wait_api "$api" "$work/serve.log"
ids=($(serve_add_nodes "$api" "$prefix" "$cookie" "$NODES"))
serve_wait_up "$api" "$NODES"
# The agents injected and a few collections made before counting.
sleep 20
callgrind_control -z "$server" >/dev/null
from=$(date +%s.%N)
sleep "$SECONDS_WINDOW"
callgrind_control -d "$server" >/dev/null
to=$(date +%s.%N)
cycles=0
for id in "${ids[@]}"; do
  n=$(curl -sf "$api/api/metrics/nodes/$id/series?metrics=memory_total&from=$from&to=$to" \
    | python3 -c 'import json,sys; s=json.load(sys.stdin)["series"]; print(len(s[0]["points"]) if s else 0)')
  cycles=$((cycles + n))
done
dump=$(ls -t "$OUT_FILE"* | head -1)
total=$(callgrind_total "$dump")
if [ "${METRICS_INTERVAL:-1}" -gt "$SECONDS_WINDOW" ]; then
  printf 'instructions in %ss (server, all threads, %d nodes, nothing collected): %s\n' "$SECONDS_WINDOW" "$NODES" "$(printf "%'d" "$total")"
  printf 'instructions a second: %s\n' "$(printf "%'d" $((total / SECONDS_WINDOW)))"
  printf 'profile: %s (callgrind_annotate --inclusive=yes %s)\n' "$dump" "$dump"
  exit 0
fi
[ "$cycles" -gt 0 ] || { echo "no collection was stored in the window" >&2; exit 1; }
printf 'collections in %ss: %d (%d nodes)\n' "$SECONDS_WINDOW" "$cycles" "$NODES"
printf 'instructions in the window (server, all threads): %s\n' "$(printf "%'d" "$total")"
printf 'instructions per collection: %s\n' "$(printf "%'d" $((total / cycles)))"
printf 'profile: %s (callgrind_annotate --inclusive=yes %s)\n' "$dump" "$dump"
