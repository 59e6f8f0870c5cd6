#!/usr/bin/env bash
# Runs ctest in each build tree given and ends with one line for all of them:
#   tests: N passed, N failed, N skipped
# Usage: scripts/ctest_trees.sh JOBS TREE...
# Exits non-zero when any test failed or a tree ran no test.
set -uo pipefail
jobs=$1
shift
passed=0 failed=0 skipped=0 status=0
for tree in "$@"; do
  echo "== ctest in $tree"
  log=$(mktemp)
  ctest --test-dir "$tree" --output-on-failure -j "$jobs" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -z $summary ]]; then
    echo "ctest_trees: $tree ran no test" >&2
    status=1
  else
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
    bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$summary")
    skip=$(grep -cE '^[[:space:]]+[0-9]+ - .* \(Skipped\)$' "$log")
    passed=$((passed + total - bad - skip))
    failed=$((failed + bad))
    skipped=$((skipped + skip))
  fi
  [[ $rc -eq 0 ]] || status=1
  rm -f "$log"
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
