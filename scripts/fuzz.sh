#!/usr/bin/env bash
# Fuzzes Numbat's parsers of untrusted bytes with libFuzzer.
#
#   scripts/fuzz.sh [TARGET] [SECONDS] [extra libFuzzer flags...]   fuzz TARGET for SECONDS (default 30)
#   scripts/fuzz.sh all SECONDS [flags...]                            every target, SECONDS each
#   scripts/fuzz.sh --merge TARGET                                    minimise the corpus into Fuzz/Corpora/TARGET
#   scripts/fuzz.sh SECONDS                                           ErlangTermFuzz, as before
#
# TARGET is one of the targets under Fuzz/ (docs/reliability.md, Fuzzing, lists what each
# checks): ErlangTermFuzz (the term decoder and parser), HandshakeFuzz (the distribution
# handshake, both roles), FrameReceiverFuzz (frames, atom cache, fragments, control messages),
# EPMDFuzz (EPMD replies and requests), MetricBlockFuzz (stored metric blocks),
# ReleaseArchiveFuzz (gzip + tar release uploads),
# StrictJSONFuzz (the REST API's request bodies). A campaign of N executions:
#   scripts/fuzz.sh TARGET 0 -runs=N
#
# Builds the target optimised with -sanitize=fuzzer,address (AddressSanitizer takes over the
# bounds checks a debug build makes), -D FUZZING (which swaps the replayer's @main for
# libFuzzer's entry points; the targets have no main.swift, so they are already compiled as
# libraries) and -enable-testing (the targets reach the internal pure parsers with
# @testable import) into .build-fuzz. The working corpus is .build-fuzz/corpus/TARGET, started
# from the hand-made seeds (Fuzz/Seeds/make_seeds.py, and the term encodings below) and read
# together with the committed corpus Fuzz/Corpora/TARGET, which the run does not change
# (--merge updates it). Properties are checked on every input by the target's *Properties.swift.
# Exits non-zero when libFuzzer finds a crash, a leak, a timeout or an allocation over the
# limit; the input is saved in .build-fuzz/artifacts/ and replays in a plain build with
#   swift build --product TARGET && .build/debug/TARGET --verbose .build-fuzz/artifacts/crash-...
set -euo pipefail

cd "$(dirname "$0")/.."
TARGETS=(ErlangTermFuzz HandshakeFuzz FrameReceiverFuzz EPMDFuzz MetricBlockFuzz ReleaseArchiveFuzz StrictJSONFuzz)
SCRATCH=.build-fuzz
ARTIFACTS="$SCRATCH/artifacts"
# lld: gold stops with an internal error linking the sanitized NIOSSL/BoringSSL objects.
FLAGS=(--scratch-path "$SCRATCH" -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -enable-testing -Xswiftc -use-ld=lld)

# A trap goes to libFuzzer's handler (which saves the input at once), not the Swift runtime's
# backtracer, which takes seconds and confuses AddressSanitizer.
export SWIFT_BACKTRACE=enable=no

MERGE=0
if [ "${1:-}" = --merge ]; then
    MERGE=1
    shift
fi
TARGET=ErlangTermFuzz
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    :  # `scripts/fuzz.sh SECONDS`: the term decoder, as before there were other targets
elif [ -n "${1:-}" ]; then
    TARGET=$1
    shift
fi
SECONDS_TO_RUN="${1:-30}"
shift || true

if [ "$TARGET" = all ]; then
    for target in "${TARGETS[@]}"; do
        "$0" "$target" "$SECONDS_TO_RUN" "$@"
    done
    exit 0
fi
if [[ ! " ${TARGETS[*]} " =~ " $TARGET " ]]; then
    echo "unknown target $TARGET; targets: ${TARGETS[*]} (or all)" >&2
    exit 2
fi

swift build --product "$TARGET" "${FLAGS[@]}"
BINARY="$(swift build --product "$TARGET" "${FLAGS[@]}" --show-bin-path)/$TARGET"
CORPUS="$SCRATCH/corpus/$TARGET"
COMMITTED="Fuzz/Corpora/$TARGET"
mkdir -p "$CORPUS" "$ARTIFACTS" "$COMMITTED"

# The limits of every run. -malloc_limit_mb: no single allocation may approach what an absurd
# length field would ask for (the term decoder allows 16 MB of inflated data, which ByteBuffer
# rounds up to 32 MB); -rss_limit_mb: nothing accumulates without bound.
MAX_LEN=4096
[ "$TARGET" = ReleaseArchiveFuzz ] && MAX_LEN=8192  # a tar block is 512 bytes
LIMITS=(-max_len="$MAX_LEN" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=128)
DICT=()
[ -f "Fuzz/Seeds/$TARGET.dict" ] && DICT=(-dict="Fuzz/Seeds/$TARGET.dict")

if [ "$MERGE" = 1 ]; then
    # Minimise what the committed corpus and the working corpus cover into a fresh directory,
    # which replaces the committed one.
    fresh="$SCRATCH/merge-$TARGET"
    rm -rf "$fresh" && mkdir -p "$fresh"
    "$BINARY" -merge=1 "${LIMITS[@]}" "$fresh" "$COMMITTED" "$CORPUS"
    rm -rf "$COMMITTED" && mv "$fresh" "$COMMITTED"
    echo "$COMMITTED: $(ls "$COMMITTED" | wc -l) inputs, $(du -sk "$COMMITTED" | cut -f1) KiB"
    exit 0
fi

if [ "$TARGET" != ErlangTermFuzz ]; then
    if command -v python3 >/dev/null; then
        python3 Fuzz/Seeds/make_seeds.py "$SCRATCH/seeds"
        cp -n "$SCRATCH/seeds/$TARGET"/* "$CORPUS"/ 2>/dev/null || true
    fi
    echo "fuzzing $TARGET for $SECONDS_TO_RUN s; corpus $CORPUS and $COMMITTED, crashes to $ARTIFACTS/"
    "$BINARY" "$CORPUS" "$COMMITTED" \
        -max_total_time="$SECONDS_TO_RUN" \
        "${LIMITS[@]}" "${DICT[@]}" \
        -artifact_prefix="$ARTIFACTS/" \
        -print_final_stats=1 \
        "$@"
    exit
fi

# seed NAME HEX: one valid encoding (hex digits, spaces ignored) as a corpus file.
seed() {
    local hex="${2// /}"
    printf '%b' "$(sed 's/../\\x&/g' <<<"$hex")" >"$CORPUS/seed-$1"
}
seed small-integer          "8361 05"
seed integer                "8362 fffffffb"
seed small-big              "836e 09 00 0000000000000000 01"
seed large-big              "836f 00000002 01 0100"
seed new-float              "8346 3ff8000000000000"
seed float-ext              "8363 312e3530303030303030303030303030303030303030652b3030 0000000000"
seed atoms                  "8368 04 7702 6f6b 76 0002 c3a9 64 0003 616263 7303 616263"
seed binary                 "836d 00000003 010203"
seed bit-binary             "834d 00000002 03 ffe0"
seed tuple                  "8368 02 7702 6f6b 61 01"
seed large-tuple            "8369 00000002 6101 6102"
seed string                 "836b 0003 616263"
seed list                   "836c 00000002 7701 61 6101 6a"
seed improper-list          "836c 00000001 6101 7701 62"
seed map                    "8374 00000002 7701 61 6101 6101 6d 00000000"
seed pid                    "8358 7703 614062 00000001 00000002 00000003"
seed legacy-pid             "8367 6400 03 614062 00000001 00000002 03"
seed port                   "8378 7703 614062 0000000100000000 00000007"
seed new-port               "8359 7703 614062 00000001 00000007"
seed legacy-port            "8366 6400 03 614062 00000001 03"
seed reference              "835a 0003 7703 614062 00000007 00000001 00000002 00000003"
seed legacy-reference       "8372 0001 6400 03 614062 03 00000001"
seed export                 "8371 7705 6c69737473 7703 6d6170 6102"
seed fun                    "8370 00000043 00 cd2561f1ffd57ff693adb88276f4c110 00000029 00000000 7701 71 6129 6206692b0f 5877 0d 6e6f6e6f6465406e6f686f7374 000000000000000000000000"
seed compressed             "8350 00000132 789ccb616060482967 4c1c4544a22c002e3f55ff"
seed atom-cache-reference   "8368 02 5200 6101"  # rejected: no distribution header here

# Text for TermParser, which the target also checks when an input is UTF-8 without a version byte.
printf '%s' "{ok, [1, 2 | 3], #{a => <<\"b\"/utf8, 255, 7:3>>}, 16#ff, -1.5e-3, \$a, 'q\\'', fun m:f/1, \"\\x{1F600}\\^a\"}." \
    >"$CORPUS/seed-text"

echo "fuzzing the term decoder for $SECONDS_TO_RUN s; corpus $CORPUS and $COMMITTED, crashes to $ARTIFACTS/"
"$BINARY" "$CORPUS" "$COMMITTED" \
    -max_total_time="$SECONDS_TO_RUN" \
    "${LIMITS[@]}" \
    -artifact_prefix="$ARTIFACTS/" \
    -print_final_stats=1 \
    "$@"
