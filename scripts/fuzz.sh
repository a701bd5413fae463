#!/usr/bin/env bash
# Fuzzes the External Term Format decoder with libFuzzer for SECONDS (default 30).
#
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
#
# Builds Fuzz/ErlangTermFuzz optimised with -sanitize=fuzzer,address (AddressSanitizer takes
# over the bounds checks a debug build makes) and -D FUZZING (which swaps the replayer's @main
# for libFuzzer's entry points; the target has no main.swift, so it is already compiled as a
# library) into .build-fuzz, seeds .build-fuzz/corpus with valid encodings of every tag and a
# line of Erlang text, and runs. Properties checked on every input (DecoderProperties.swift):
# decoding returns a term or a TermDecodingError; a term re-encodes, plain and compressed, to
# bytes that decode to an equal term; its description parses back when it has literal syntax;
# UTF-8 text goes through TermParser with the same guarantees.
# Exits non-zero when libFuzzer finds a crash, a leak, a timeout or an allocation over the
# limit; the input is saved in .build-fuzz/artifacts/ and replays in a plain build with
#   swift build --product ErlangTermFuzz && .build/debug/ErlangTermFuzz --verbose .build-fuzz/artifacts/crash-...
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-30}"
shift || true
SCRATCH=.build-fuzz
CORPUS="$SCRATCH/corpus"
ARTIFACTS="$SCRATCH/artifacts"

swift build --product ErlangTermFuzz --scratch-path "$SCRATCH" -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
BINARY="$(swift build --product ErlangTermFuzz --scratch-path "$SCRATCH" -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --show-bin-path)/ErlangTermFuzz"

mkdir -p "$CORPUS" "$ARTIFACTS"

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

echo "fuzzing the term decoder for $SECONDS_TO_RUN s; corpus $CORPUS, crashes to $ARTIFACTS/"
# -malloc_limit_mb: no single allocation may approach what an absurd length field would ask
# for (the fuzz decoder allows 16 MB of inflated data, which ByteBuffer rounds up to 32 MB).
"$BINARY" "$CORPUS" \
    -max_total_time="$SECONDS_TO_RUN" \
    -max_len=4096 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -malloc_limit_mb=128 \
    -artifact_prefix="$ARTIFACTS/" \
    -print_final_stats=1 \
    "$@"
