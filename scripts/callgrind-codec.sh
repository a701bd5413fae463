#!/usr/bin/env bash
# Instructions per encode and per decode of each codec shape, counted by valgrind's callgrind:
# exact counts that hold on a busy machine, where timings move by 10-30 %.
#
#   scripts/callgrind-codec.sh [NUMBAT_BENCH] [ITERATIONS]
#
# NUMBAT_BENCH defaults to .build/release/numbat-bench (swift build -c release --product
# numbat-bench). The terms are the ones `numbat-bench --only codec` times, written once by an
# OTP node into $CODEC_FILE (default /tmp/numbat-codec-terms.etf; kept, so that two builds
# compare on the same bytes). Each shape and direction runs in its own valgrind process that
# collects only inside CodecBench.countedEncode/countedDecode/countedFlatDecode (FlatTerm, the
# arena decoder); the count divided by ITERATIONS
# (default 200) is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${1:-.build/release/numbat-bench}"
ITERATIONS="${2:-200}"
FILE="${CODEC_FILE:-/tmp/numbat-codec-terms.etf}"
. scripts/lib/callgrind.sh
callgrind_require objcopy
if [ ! -f "$FILE" ]; then
  "$BENCH" --only codec --sides swift --codec-file "$FILE" --codec-count 0 >/dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
callgrind_strip "$BENCH" "$out/numbat-bench"
BENCH="$out/numbat-bench"
printf '| shape | encode instructions | decode instructions | flat decode instructions |\n|---|---:|---:|---:|\n'
for shape in small_msg ints_1000 map_100_binaries erlang_memory deep_nested metric_reply log_batch; do
  row="| $shape"
  for direction in encode decode flat-decode; do
    function=countedEncode
    [ "$direction" = decode ] && function=countedDecode
    [ "$direction" = flat-decode ] && function=countedFlatDecode
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" --toggle-collect="*${function}*" \
      "$BENCH" --only codec --sides swift --codec-file "$FILE" --codec-shape "$shape" \
      --codec-direction "$direction" --codec-count "$ITERATIONS" >/dev/null 2>"$out/log"
    total=$(callgrind_total "$out/cg")
    row="$row | $(printf "%'d" $((total / ITERATIONS)))"
  done
  echo "$row |"
done
