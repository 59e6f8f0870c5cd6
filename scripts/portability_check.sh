#!/usr/bin/env bash
# Runs the test suite of a built tree under machine variations a test could
# depend on, one ctest run each, and prints a line per variation:
#   a decimal-comma locale, far-off time zones, one CPU, HOME unset, a TMPDIR
#   with a space, and (as root, where bind mounts work) a read-only source tree
#   configured and built afresh with the default compiler.
# Not part of `make test` (it takes several suite runs); docs/testing.md lists
# what it found. Usage: scripts/portability_check.sh [TREE]   (default: build)
set -uo pipefail
cd "$(dirname "$0")/.."
tree=${1:-build}
[[ -f $tree/CTestTestfile.cmake ]] || { echo "portability_check: build $tree first (make build)" >&2; exit 2; }
scratch=$(mktemp -d)
trap 'umount "$scratch/ro" 2>/dev/null; rm -rf "$scratch"' EXIT
status=0

# name, then the command prefix that sets the variation up
check() {
  local name=$1
  shift
  local log="$scratch/log"
  if "$@" ctest --test-dir "$tree" -j "$(nproc)" >"$log" 2>&1; then
    echo "ok      $name: $(grep -E 'tests passed' "$log")"
  else
    echo "FAILED  $name: $(grep -E 'tests passed' "$log")"
    grep -E '\*\*\*Failed|\*\*\*Timeout|\*\*\*Exception' "$log" | sed 's/^/        /'
    status=1
  fi
}

mkdir -p "$scratch/locales" "$scratch/tmp dir"
if localedef -i de_DE -f UTF-8 "$scratch/locales/de_DE.UTF-8" 2>/dev/null; then
  check "LC_ALL=de_DE.UTF-8 (decimal comma)" env LOCPATH="$scratch/locales" LC_ALL=de_DE.UTF-8 LANG=de_DE.UTF-8
else
  echo "FAILED  de_DE.UTF-8: localedef could not make the locale (Debian's 'locales' package)"
  status=1
fi
check "TZ=UTC-14 (Kiritimati)" env TZ=UTC-14
check "TZ=UTC+12" env TZ=UTC+12
check "one CPU (taskset -c 0: nproc 1)" taskset -c 0
check "HOME unset" env -u HOME
check "TMPDIR with a space" env TMPDIR="$scratch/tmp dir"

# A read-only source tree: the sources bind-mounted read-only, configured
# the README's way into a fresh build folder, built and tested.
mkdir -p "$scratch/ro"
if mount --bind "$PWD" "$scratch/ro" 2>/dev/null && mount -o remount,bind,ro "$scratch/ro" 2>/dev/null; then
  if touch "$scratch/ro/.write-probe" 2>/dev/null; then
    echo "FAILED  read-only source: the mount is writable"
    status=1
  elif (cd "$scratch" && env -u CC cmake -S ro -B rob -G Ninja -DINGOT_WERROR=ON -DINGOT_CUDA=OFF \
          >/dev/null && ninja -C rob >/dev/null 2>"$scratch/rob.err"); then
    tree="$scratch/rob" check "read-only source tree (fresh build)" env
  else
    echo "FAILED  read-only source: configure or build failed"
    tail -5 "$scratch/rob.err" | sed 's/^/        /'
    status=1
  fi
else
  echo "skipped read-only source: bind mounts need root"
fi
exit $status
