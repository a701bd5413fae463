#!/usr/bin/env bash
# Installs what Numbat needs at run time on Debian 12: Erlang/OTP (for the agents and as a peer),
# zlib and SQLite (GRDB links the system library), Apache Libcloud for the Libcloud bridge, and
# OpenSSH's client (physical providers without a key log in with the server user's own `ssh`).
# Idempotent: skips apt and pip when everything is present.
set -euo pipefail
packages=(erlang-nox erlang-dev zlib1g-dev libsqlite3-dev openssh-client)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The bridge runs `python3` (or NUMBAT_PYTHON). Debian's own Python takes Debian's package; another
# one (pyenv, a venv) takes PyPI's, installed with the interpreter itself: pyenv's shim would run
# `pyenv rehash`, which fails on a stale lock.
python=$(python3 -c 'import sys; print(sys.executable)')
if ! "$python" -c 'import libcloud' 2>/dev/null; then
  if [ "$("$python" -c 'import sys; print(sys.prefix)')" = /usr ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-libcloud >/dev/null
  else
    "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'apache-libcloud==3.9.1'
  fi
fi
