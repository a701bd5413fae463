#!/usr/bin/env bash
# Compiles the agents in agents/*.erl with OTP 25's erlc, deterministically, into the resources
# Numbat ships (Sources/NumbatServices/Resources/agents). Run it after editing an agent; the test
# AgentBuildTests fails while the shipped beams differ from what this script produces.
set -euo pipefail
cd "$(dirname "$0")/.."
out=Sources/NumbatServices/Resources/agents
mkdir -p "$out"
erlc +deterministic -o "$out" agents/*.erl
ls -l "$out"
