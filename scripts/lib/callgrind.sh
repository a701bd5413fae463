# What the scripts/callgrind-*.sh scripts share. Sourced by them, not run.

# Stops with a message unless valgrind and the other tools named are installed.
callgrind_require() {
  local tool
  for tool in valgrind "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (scripts/install-test-deps.sh)" >&2; exit 1; }
  done
}

# Copies the binary $1 to $2 without its debug information: valgrind 3.19 (Debian 12) cannot
# read the DWARF 5 a Swift 6 build carries. The symbol table stays, so profiles name functions
# and --toggle-collect finds them.
callgrind_strip() {
  objcopy --strip-debug "$1" "$2"
}

# The instructions counted in the callgrind output file $1 (all threads).
callgrind_total() {
  sed -n 's/^summary: *//p; s/^totals: *//p' "$1" | head -1 | awk '{print $1}'
}
