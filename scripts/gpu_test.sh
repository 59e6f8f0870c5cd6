#!/usr/bin/env bash
# Runs the GPU test suite on a machine with an NVIDIA GPU, from an already
# built build directory (argument, default build):
#   1. test_cuda_ops and test_cuda_models (not the _asan copies: ASan and the
#      CUDA driver do not mix), run directly with the environment ctest gives;
#   2. both again under compute-sanitizer memcheck with leak checking, in the
#      quick setting (INGOT_CUDA_TEST_QUICK=1).
# Prints pass/fail per step and exits nonzero when any step fails, or when a
# test was skipped (a GPU machine must run them). Environment:
#   INGOT_EXTRA_LIBS   a directory with libraries the build links but the
#                      machine lacks (libutf8proc.so.2, libcmocka.so.0),
#                      prepended to LD_LIBRARY_PATH;
#   COMPUTE_SANITIZER  the compute-sanitizer to use (default: on PATH, else
#                      /usr/local/cuda/bin/compute-sanitizer).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
tests=(test_cuda_ops test_cuda_models)

for t in "${tests[@]}"; do
  if [[ ! -x $build/tests/$t ]]; then
    echo "gpu_test: $build/tests/$t is missing: build it first (ninja -C $build $t)" >&2
    exit 2
  fi
done
if [[ -n ${INGOT_EXTRA_LIBS:-} ]]; then
  export LD_LIBRARY_PATH="$INGOT_EXTRA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [[ -f $build/lib/libingot_cuda.so && -z ${INGOT_CUDA_PLUGIN:-} ]]; then
  export INGOT_CUDA_PLUGIN="$build/lib/libingot_cuda.so"
fi

sanitizer=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer ||
                                 echo /usr/local/cuda/bin/compute-sanitizer)}
results=()
failed=0
log_dir=$(mktemp -d "${TMPDIR:-/tmp}/ingot_gpu_test.XXXXXX")

# record NAME STATUS DETAIL
record() {
  results+=("$(printf '%-34s %-5s %s' "$1" "$2" "$3")")
  [[ $2 == PASS ]] || failed=1
}

# The environment tests/CMakeLists.txt gives every test. The binaries run
# directly (not through ctest), so a build carried from another machine,
# whose CTestTestfile paths point elsewhere, works too.
export INGOT_FIXTURES="$root/tests/fixtures" INGOT_ASSETS="$root/.cache/assets"
export INGOT_ORACLE_DIR="$root/tests/oracle" INGOT_BUILD_DIR="$build"

# Step 1: the full runs. Exit 77 (skipped) is a failure on a GPU machine.
summary=""
for t in "${tests[@]}"; do
  log="$log_dir/$t.log"
  start=$SECONDS
  "$build/tests/$t" >"$log" 2>&1
  rc=$?
  cat "$log"
  summary+=$(awk '/^test_cuda_ops: [0-9]+ op cases/ {on = 1; print; next}
                  on && /^  / {print; next} {on = 0}
                  /^test_cuda_models: / {print}' "$log")$'\n'
  case $rc in
    0) record "$t" PASS "$((SECONDS - start)) s" ;;
    77) record "$t" FAIL "skipped: no CUDA device or fixtures seen" ;;
    *) record "$t" FAIL "exit $rc, log $log" ;;
  esac
done

# Step 2: compute-sanitizer memcheck, quick setting, with the environment
# ctest would set.
if [[ ! -x $sanitizer ]]; then
  record "compute-sanitizer" FAIL "not found ($sanitizer)"
else
  export INGOT_CUDA_TEST_QUICK=1
  for t in "${tests[@]}"; do
    log="$log_dir/memcheck_$t.log"
    start=$SECONDS
    "$sanitizer" --tool memcheck --leak-check full --error-exitcode 1 \
      "$build/tests/$t" >"$log" 2>&1
    rc=$?
    errors=$(grep -oE "ERROR SUMMARY: [0-9]+ errors?" "$log" | tail -n 1)
    if [[ $rc -eq 0 ]]; then
      record "memcheck $t" PASS "$((SECONDS - start)) s, ${errors:-no summary}"
    else
      tail -n 60 "$log"
      record "memcheck $t" FAIL "exit $rc, ${errors:-no summary}, log $log"
    fi
  done
fi

echo
echo "== gpu_test summary (build $build) =="
printf '%s\n' "${results[@]}"
[[ -n $summary ]] && printf '%s\n' "$summary"
echo "logs: $log_dir"
if [[ $failed -ne 0 ]]; then
  echo "gpu_test: FAILED"
  exit 1
fi
echo "gpu_test: all steps passed"
