#!/usr/bin/env bash
# Installs Numbat's run-time dependencies, builds it in release mode and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product numbat >&2
exec .build/release/numbat "$@"
