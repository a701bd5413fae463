#!/usr/bin/env bash
# Builds the Debian package numbat_<version>_<arch>.deb: the release `numbat` binary with the Swift
# standard library and Foundation linked in statically, its resource bundles (dashboard, API
# document, agents, Libcloud bridge) beside it in /usr/lib/numbat, /usr/bin/numbat, the systemd
# unit, the default /etc/numbat/numbat.json (a conffile) and the maintainer scripts of
# packaging/debian/. Depends: the shared libraries the binary links, as dpkg-shlibdeps finds them.
#
#   scripts/package.sh [-o OUTPUT_DIR]     (default: the repository's root)
#
# The build has a scratch directory of its own (NUMBAT_PACKAGE_SCRATCH, default .build-package) so
# it never waits on, or invalidates, the debug build in .build. The layout is deterministic: fixed
# modes, root ownership, every time the last commit's (SOURCE_DATE_EPOCH), sorted archive members.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
output=$root
while getopts "o:" option; do
  case $option in
    o) output=$(cd "$OPTARG" && pwd) ;;
    *) echo "usage: $0 [-o OUTPUT_DIR]" >&2; exit 64 ;;
  esac
done

# dpkg-deb is in dpkg; dpkg-shlibdeps (the Depends line) in dpkg-dev; strip in binutils. The
# static Foundation's URLSession (the CLI's API client, the cluster's forwarding) links libcurl,
# which the static link needs as libcurl4-openssl-dev (the package then depends on libcurl4).
missing=()
for p in dpkg-dev binutils libcurl4-openssl-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

version=$(sed -n 's/^ *static let current = "\([^"]*\)".*/\1/p' Sources/numbat/NumbatVersion.swift)
[ -n "$version" ] || { echo "no version in Sources/numbat/NumbatVersion.swift" >&2; exit 1; }
arch=$(dpkg --print-architecture)
scratch=${NUMBAT_PACKAGE_SCRATCH:-$root/.build-package}
build=(swift build -c release --product numbat --static-swift-stdlib --scratch-path "$scratch")
"${build[@]}" >&2
bin=$("${build[@]}" --show-bin-path)

if ldd "$bin/numbat" | grep -q 'libswift\|libFoundation\|lib_Foundation\|libdispatch'; then
  echo "the release binary links the Swift runtime dynamically:" >&2
  ldd "$bin/numbat" >&2
  exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
package=$stage/numbat
install -d -m 0755 "$package/DEBIAN" "$package/usr/bin" "$package/usr/lib/numbat" "$package/lib/systemd/system" \
  "$package/etc/numbat" "$package/usr/share/doc/numbat"
# The binary finds its resource bundles beside itself (SwiftPM's Bundle.module looks in the
# directory of the executable, symlinks resolved): /usr/lib/numbat, with /usr/bin/numbat a link.
install -m 0755 "$bin/numbat" "$package/usr/lib/numbat/numbat"
strip --strip-unneeded "$package/usr/lib/numbat/numbat"
ln -s ../lib/numbat/numbat "$package/usr/bin/numbat"
# The bundles the binary names (numbat_NumbatServer.resources, ...): only those, whatever else
# the scratch directory holds.
bundles=$(strings "$bin/numbat" | grep -oE '[A-Za-z0-9_-]+_[A-Za-z0-9_-]+\.resources' | sort -u)
for bundle in $bundles; do
  [ -d "$bin/$bundle" ] || continue
  cp -R "$bin/$bundle" "$package/usr/lib/numbat/$bundle"
done
[ -f "$package/usr/lib/numbat/numbat_NumbatServer.resources/dashboard/index.html" ] || { echo "the dashboard bundle is missing" >&2; exit 1; }
ls "$package/usr/lib/numbat/numbat_NumbatServices.resources/agents/"*.beam >/dev/null || { echo "the agents are missing" >&2; exit 1; }
install -m 0644 packaging/debian/numbat.service "$package/lib/systemd/system/numbat.service"
install -m 0644 packaging/debian/numbat.json "$package/etc/numbat/numbat.json"
install -m 0644 README.md "$package/usr/share/doc/numbat/README.md"
for script in postinst prerm postrm; do install -m 0755 "packaging/debian/$script" "$package/DEBIAN/$script"; done
echo /etc/numbat/numbat.json >"$package/DEBIAN/conffiles"
chmod 0644 "$package/DEBIAN/conffiles"

# Depends from the libraries the binary links (dpkg-shlibdeps reads a debian/control of its own).
shlibs=$stage/shlibs
mkdir -p "$shlibs/debian"
printf 'Source: numbat\n\nPackage: numbat\nArchitecture: any\n' >"$shlibs/debian/control"
libraries=$(cd "$shlibs" && dpkg-shlibdeps -O "$package/usr/lib/numbat/numbat" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$libraries" ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --apparent-size --exclude=DEBIAN "$package" | cut -f1)
cat >"$package/DEBIAN/control" <<EOF
Package: numbat
Version: $version
Architecture: $arch
Maintainer: Numbat developers <numbat@localhost>
Installed-Size: $size
Depends: $libraries, adduser
Recommends: openssh-client
Suggests: python3-libcloud
Section: admin
Priority: optional
Description: operations and maintenance for Erlang and Elixir clusters
 Numbat joins Erlang clusters as a hidden node over the Erlang distribution
 protocol: it manages nodes, collects metrics, raises and routes alarms, runs
 remote commands and deploys releases, behind a REST API, a dashboard and the
 numbat command line.
 .
 This package runs "numbat serve" as the systemd service numbat.service, as
 the numbat user, with its configuration in /etc/numbat/numbat.json and its
 data in /var/lib/numbat.
EOF

# Deterministic: every file's time is the last commit's, directories 0755, owner root (the
# postinst gives /etc/numbat to the numbat group).
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH=$epoch
find "$package" -type d -exec chmod 0755 {} +
find "$package" -path "$package/DEBIAN" -prune -o -type f -perm -0100 -exec chmod 0755 {} +
find "$package" -path "$package/DEBIAN" -prune -o -type f ! -perm -0100 -exec chmod 0644 {} +
find "$package" -exec touch -h -d "@$epoch" {} +
deb=$output/numbat_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$package" "$deb" >/dev/null
echo "$deb"
