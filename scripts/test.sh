#!/usr/bin/env bash
# The test command: installs every test peer, then builds and runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
swift build --build-tests
# The codec tests are CPU-bound (corpus round trips, mutation fuzzing); they run first, on their
# own, so that they do not starve the timing-sensitive distribution and server tests of the two
# cores this machine has.
# The metric storage unit tests (days of simulated collections) are CPU-bound too.
cpu_bound='ErlangTermTests|SeriesCodecTests|MetricArchiveTests'
swift test --skip-build --filter "$cpu_bound" "$@"
# Notifications promise delivery within a second of the event: measured on its own, not on two
# cores shared with every other suite starting its OTP nodes at the same moment.
swift test --skip-build --filter NotificationsTests "$@"
# Alarms and commands push nodes to their limits (100,000-message queues, +P and +t near full)
# with checks every 0.3 s: on their own too, so the 2 s UP bound of the topology tests is not
# measured beside them.
swift test --skip-build --filter "AlarmsTests|CommandsTests" "$@"
# The suites that promise bounded times (a typed handshake error within 3 s, an rpc timeout
# within 1 s, a node UP within 2 s) measure them on their own, not beside 25 other suites
# starting OTP nodes on two cores, where they were missed by a fraction of a second.
bounded='BadInputTests|RPCTests|TopologyTests'
swift test --skip-build --filter "$bounded" "$@"
swift test --skip-build --skip "$cpu_bound|$bounded|NotificationsTests|AlarmsTests|CommandsTests|OrchestrationTests|NumbatProvidersTests|DeployCLITests|DashboardTests" "$@"
# Orchestration starts network namespaces with their own sshd and deploys real releases onto
# them (dozens of BEAM processes at once): on its own, and last, as the kernel's teardown of the
# namespaces goes on after the tests and slowed the timing-sensitive suites that followed.
swift test --skip-build --filter "OrchestrationTests|NumbatProvidersTests|DeployCLITests|DashboardTests" "$@"
# A short libFuzzer run of the term decoder (the in-process mutation fuzz test runs above too).
scripts/fuzz.sh 20
