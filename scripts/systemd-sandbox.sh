#!/usr/bin/env bash
# Boots systemd as PID 1 of private namespaces (PID, mount, UTS, IPC, network, cgroup) on a machine
# whose own PID 1 is not systemd (CI's sandbox, a container), so an installed unit such as the
# Debian package's numbat.service can be started and stopped by a real systemd. PackageTests uses
# it; by hand:
#
#   scripts/systemd-sandbox.sh boot [UNIT_FILE...]   foreground: prints "sandbox cgroup NAME" and
#                                                   "sandbox pid N" (N: the host's PID of that
#                                                   systemd); SIGTERM or SIGINT (or its parent's
#                                                   exit) tears everything down
#   scripts/systemd-sandbox.sh enter N COMMAND...    runs COMMAND inside, e.g. systemctl status numbat
#
# What the sandboxed systemd sees of the machine, so it can neither start the machine's services
# nor change the machine:
#   - its units: only sandbox.target (the default), the few targets a service's default
#     dependencies name, journald and its sockets (copied from the machine's systemd), and the
#     UNIT_FILEs given, in a private directory bind-mounted over /usr/lib/systemd/system; an empty
#     tmpfs over /etc/systemd/system (the machine's enabled services) and empty directories over
#     the generators (fstab, sysv scripts, getty, postgresql's). In particular no
#     systemd-tmpfiles-setup.service, whose `--remove --boot` would empty the machine's /tmp.
#   - a /usr/sbin/policy-rc.d that allows starts over the machine's, if it has one;
#   - private tmpfs over /run, /tmp, /var/tmp, /var/lib/systemd and /var/log/journal; a private
#     /dev (null, zero, full, random, urandom, tty bound from the machine's; its own devpts and
#     /dev/shm); /proc/sys and /sys read-only; its own network namespace (loopback only), so the
#     service's port cannot clash with the machine's.
#   - cgroups: a child cgroup numbat-sandbox-PID in each of the machine's hierarchies, which a
#     cgroup namespace makes its root: systemd's slices and scopes live under it and nowhere else.
#     `container=numbat-sandbox` tells systemd it is in a container (as systemd-nspawn does).
# Teardown: unshare --kill-child SIGKILLs the namespace's PID 1, which ends every process in the
# PID namespace; the namespaces go with their last process; the cgroups are removed.
set -euo pipefail

usage() { echo "usage: $0 boot [UNIT_FILE...] | enter PID COMMAND..." >&2; exit 64; }
[ $# -ge 1 ] || usage

case $1 in
  enter)
    [ $# -ge 3 ] || usage
    pid=$2; shift 2
    # Every namespace of the sandbox's PID 1 (its root and working directory stay the caller's).
    exec nsenter --target "$pid" --mount --uts --ipc --net --pid --cgroup -- "$@"
    ;;
  boot) shift ;;
  *) usage ;;
esac

vendor=/usr/lib/systemd/system
[ -x /lib/systemd/systemd ] || { echo "no /lib/systemd/systemd (Debian's systemd package)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "the sandbox needs root" >&2; exit 1; }

name=numbat-sandbox-$$
work=$(mktemp -d /tmp/numbat-sandbox.XXXXXX)
units=$work/units
mkdir -p "$units" "$work/empty"
for unit in sysinit.target basic.target sockets.target shutdown.target network.target network-online.target \
            systemd-journald.service systemd-journald.socket systemd-journald-dev-log.socket; do
  cp "$vendor/$unit" "$units/"
done
# A machine image's /usr/sbin/policy-rc.d (Docker's denies every start: exit 101) stands for the
# machine, not for this systemd: inside, one that allows, so a package's maintainer scripts start
# and stop their service as on a Debian machine running systemd.
printf '#!/bin/sh\nexit 0\n' >"$work/policy-rc.d"
chmod 0755 "$work/policy-rc.d"
cat >"$units/sandbox.target" <<'EOF'
[Unit]
Description=Numbat's systemd sandbox (scripts/systemd-sandbox.sh)
Wants=systemd-journald.socket systemd-journald-dev-log.socket systemd-journald.service
AllowIsolate=yes
EOF
for file in "$@"; do cp "$file" "$units/"; done

# The machine's cgroup hierarchies: each mount point and its options (v1: the controllers, or
# name=systemd).
hierarchies=()
while read -r _ target type options _; do
  case $type in
    cgroup) hierarchies+=("$target:cgroup:$(tr ',' '\n' <<<"$options" | grep -vE '^(rw|ro|relatime|nosuid|nodev|noexec)$' | paste -sd,)") ;;
    cgroup2) hierarchies+=("$target:cgroup2:") ;;
  esac
done </proc/self/mounts
[ ${#hierarchies[@]} -gt 0 ] || { echo "no cgroup hierarchy mounted" >&2; exit 1; }

cleanup() {
  trap - EXIT INT TERM
  if [ -n "${watch:-}" ]; then kill "$watch" 2>/dev/null || true; fi
  if [ -n "${child:-}" ]; then kill -KILL "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  # The PID namespace's processes are gone once its PID 1 is; their cgroups empty a moment later.
  for _ in $(seq 100); do
    left=0
    for entry in "${hierarchies[@]}"; do
      dir=${entry%%:*}/$name
      [ -d "$dir" ] || continue
      find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$dir" ] && left=1
    done
    [ $left = 0 ] && break
    sleep 0.1
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

for entry in "${hierarchies[@]}"; do
  dir=${entry%%:*}/$name
  mkdir "$dir"
  # A new cpuset has no CPUs or memory nodes: its parent's.
  if [ -f "$dir/cpuset.cpus" ]; then
    cat "${entry%%:*}/cpuset.cpus" >"$dir/cpuset.cpus"
    cat "${entry%%:*}/cpuset.mems" >"$dir/cpuset.mems"
  fi
done

# Inside, as the namespaces' PID 1 before it becomes systemd: the mounts, in an order where each
# source is still visible (the units under /tmp before /tmp is covered).
inside='
set -e
mount --bind "$1/units" /usr/lib/systemd/system
mount --bind "$1/empty" /usr/lib/systemd/system-generators
[ -e /usr/sbin/policy-rc.d ] && mount --bind "$1/policy-rc.d" /usr/sbin/policy-rc.d
for d in /etc/systemd/system-generators /usr/local/lib/systemd/system-generators /usr/local/lib/systemd/system /etc/systemd/system; do
  [ -d "$d" ] && mount -t tmpfs -o mode=0755 numbat-sandbox "$d"
done
mount -t tmpfs -o mode=0755,nosuid,nodev numbat-sandbox /run
mount -t tmpfs -o mode=1777,nosuid,nodev numbat-sandbox /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev numbat-sandbox /var/tmp
mount -t tmpfs -o mode=0755 numbat-sandbox /var/lib/systemd
mkdir -p /var/log/journal && mount -t tmpfs -o mode=2755 numbat-sandbox /var/log/journal
dev=/run/numbat-sandbox-dev
mkdir "$dev" && mount -t tmpfs -o mode=0755,nosuid numbat-sandbox "$dev"
for node in null zero full random urandom tty; do touch "$dev/$node"; mount --bind "/dev/$node" "$dev/$node"; done
mkdir "$dev/pts" "$dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$dev/pts"
ln -s pts/ptmx "$dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev numbat-sandbox "$dev/shm"
ln -s /proc/self/fd "$dev/fd"
ln -s /proc/self/fd/0 "$dev/stdin"; ln -s /proc/self/fd/1 "$dev/stdout"; ln -s /proc/self/fd/2 "$dev/stderr"
mount --move "$dev" /dev
rmdir /run/numbat-sandbox-dev 2>/dev/null || true
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
mount -t tmpfs -o mode=0755,nosuid,nodev,noexec numbat-sandbox /sys/fs/cgroup
shift
for entry in "$@"; do
  target=${entry%%:*}; rest=${entry#*:}; type=${rest%%:*}; options=${rest#*:}
  mkdir -p "$target"
  if [ "$type" = cgroup2 ]; then mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$target"
  else mount -t cgroup -o "nosuid,nodev,noexec,$options" cgroup "$target"; fi
done
mount -o remount,ro,bind /sys/fs/cgroup
mount --bind /proc/sys /proc/sys && mount -o remount,ro,bind /proc/sys
exec env -i container=numbat-sandbox PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /lib/systemd/systemd --system --unit=sandbox.target --show-status=no
'

(
  for entry in "${hierarchies[@]}"; do echo "$BASHPID" >"${entry%%:*}/$name/cgroup.procs"; done
  # Should this script die without its cleanup (SIGKILL), unshare still goes, and with it the
  # sandbox.
  exec setpriv --pdeathsig KILL unshare --pid --fork --kill-child --mount --mount-proc --propagation private \
    --uts --ipc --net --cgroup /bin/sh -c "$inside" sh "$work" "${hierarchies[@]}"
) &
child=$!
# The sandbox's PID 1: unshare's child, once forked.
for _ in $(seq 100); do
  init=$(cat "/proc/$child/task/$child/children" 2>/dev/null | awk '{print $1}')
  [ -n "$init" ] && break
  sleep 0.05
done
[ -n "$init" ] || { echo "the sandbox did not start" >&2; exit 1; }
# Ready once systemctl can reach it: its private socket is there (before, systemctl says
# "offline" and does not wait).
for _ in $(seq 600); do
  nsenter --target "$init" --mount test -S /run/systemd/private 2>/dev/null && break
  kill -0 "$child" 2>/dev/null || { echo "the sandbox's systemd exited" >&2; exit 1; }
  sleep 0.1
done
nsenter --target "$init" --mount test -S /run/systemd/private || { echo "the sandbox's systemd did not come up in 60 s" >&2; exit 1; }
echo "sandbox cgroup $name"
echo "sandbox pid $init"
# Should whoever started this script die without stopping it (a test process killed), the
# sandbox goes too: a watch on the parent.
parent=$PPID
( while kill -0 "$parent" 2>/dev/null; do sleep 1; done; kill -TERM $$ 2>/dev/null ) &
watch=$!
wait "$child" || true
