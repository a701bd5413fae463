#!/usr/bin/env bash
# Installs what Numbat needs at run time on Debian 12: Erlang/OTP (for the agents and as a peer)
# zlib and SQLite (GRDB links the system library). Idempotent: skips apt when everything is present.
set -euo pipefail
packages=(erlang-nox erlang-dev zlib1g-dev libsqlite3-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
