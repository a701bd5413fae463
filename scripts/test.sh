#!/usr/bin/env bash
# The test command: installs every test peer, then builds and runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
swift build --build-tests
swift test --skip-build "$@"
# A short libFuzzer run of the term decoder (the in-process mutation fuzz test runs above too).
scripts/fuzz.sh 20
