#!/usr/bin/env bash
# Instructions the metric history spends per collection of one node (ingest, its share of the
# flushes, compactions and pruning), counted by valgrind's callgrind: exact counts that hold on
# a busy machine, where `numbat-bench --only metrics-store`'s CPU time moves by 10-30 %.
#
#   scripts/callgrind-store.sh [NUMBAT_BENCH] [NODES]
#
# NUMBAT_BENCH defaults to .build/release/numbat-bench (swift build -c release --product
# numbat-bench). Runs `--only metrics-store` (simulated nodes of 93 metrics, one-minute
# collections on the real SQLite store, flushed once a simulated minute as the server's
# one-second flush does at one-minute collections) under callgrind for one and for two
# simulated hours, without the week query (`--week-nodes 0`). The difference of the two totals,
# divided by NODES (default 20) x 60, is what one more node-cycle costs: start-up, the reference
# run and the queries cancel out (the queries read the last hour of raw points in both runs).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${1:-.build/release/numbat-bench}"
NODES="${2:-20}"
. scripts/lib/callgrind.sh
callgrind_require objcopy
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
callgrind_strip "$BENCH" "$out/numbat-bench"
total() {
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" "$out/numbat-bench" --only metrics-store \
    --store-nodes "$NODES" --store-hours "$1" --week-nodes 0 --reference-minutes 1 >"$out/out.$1" 2>"$out/log.$1" \
    || { cat "$out/log.$1" >&2; exit 1; }
  callgrind_total "$out/cg.$1"
}
one=$(total 1)
two=$(total 2)
printf 'instructions per node-cycle of the metric history (93 metrics, all threads): %s\n' \
  "$(printf "%'d" $(((two - one) / (NODES * 60))))"
[ -n "${CALLGRIND_KEEP:-}" ] && cp "$out/cg.2" "$CALLGRIND_KEEP" && echo "profile of the two-hour run: $CALLGRIND_KEEP"
exit 0
