#!/usr/bin/env bash
# Instructions per rpc round trip on the Swift side, counted by valgrind's callgrind: exact
# counts that hold on a busy machine, where rpc timings move by 10-30 %.
#
#   scripts/callgrind-rpc.sh [NUMBAT_BENCH] [CALLS]
#
# NUMBAT_BENCH defaults to .build/release/numbat-bench (swift build -c release --product
# numbat-bench). numbat-bench runs `--only rpc --sides swift --concurrency 1` under callgrind
# twice, with 200 calls and with 200 + CALLS (default 1,000), against an OTP 25 target node it
# starts itself (not under valgrind: only the Swift process is counted, all its threads). The
# difference of the two totals, divided by CALLS, is what one more call costs: start-up, the
# connection's set-up and the report cancel out. Any build with these options can be counted
# the same way, so two commits compare on the same target. The busy wait is on, as in the
# server (BUSY_WAIT microseconds, default 200; 0: off); its spinner thread only spins, and is
# left out of the count (callgrind counts each thread apart, and the script sums all but the
# one that ran ReplySpinner's loop).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${1:-.build/release/numbat-bench}"
CALLS="${2:-1000}"
. scripts/lib/callgrind.sh
callgrind_require objcopy
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
callgrind_strip "$BENCH" "$out/numbat-bench"
total() {
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg.$1" "$out/numbat-bench" --only rpc --sides swift \
    --calls "$1" --concurrency 1 --runs 1 --warmup 0 --busy-wait "${BUSY_WAIT:-200}" >"$out/out.$1" 2>"$out/log.$1" \
    || { cat "$out/log.$1" >&2; exit 1; }
  local sum=0 file
  for file in "$out/cg.$1"-*; do
    grep -q 'ReplySpinner.*run' "$file" && continue
    sum=$((sum + $(callgrind_total "$file")))
  done
  echo "$sum"
}
base=$(total 200)
more=$(total $((200 + CALLS)))
printf 'instructions per rpc round trip (Swift side, all threads): %s\n' "$(printf "%'d" $(((more - base) / CALLS)))"
