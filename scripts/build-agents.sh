#!/usr/bin/env bash
# Compiles the agents in agents/*.erl with OTP 25's erlc, deterministically, into the resources
# Numbat ships (Sources/NumbatServices/Resources/agents). The agents include their shared
# skeleton (start/stop, owner monitor, leaving) from agents/numbat_agent_skeleton.hrl at compile
# time, so each beam stays one self-contained module for code:load_binary/3. Run it after editing
# an agent or the header; the test AgentBuildTests fails while the shipped beams differ from what
# this script produces.
set -euo pipefail
cd "$(dirname "$0")/.."
# Beams from a newer compiler may not load on OTP 25 nodes: refuse anything but OTP 25.
release=$(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')
if [ "$release" != 25 ]; then
    echo "build-agents.sh: erlc must be OTP 25's (this one is OTP $release)" >&2
    exit 1
fi
out=Sources/NumbatServices/Resources/agents
mkdir -p "$out"
erlc +deterministic -o "$out" agents/*.erl
ls -l "$out"
