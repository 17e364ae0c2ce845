#!/usr/bin/env bash
# The test command: builds Release and ASan+UBSan and runs the whole ctest suite under both, then a
# ThreadSanitizer build runs the tests that exercise threads (scheduler, server, thread pool, kernels).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${QIUSUO_JOBS:-$(nproc)}"
for kind in release asan; do
  scripts/build.sh "$kind"
  dir=build; [ "$kind" = asan ] && dir=build-asan
  echo "== ctest ($kind)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs"
done
scripts/build.sh tsan qiusuo_tests qiusuo_cli
echo "== ctest (tsan: threaded tests)"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 QIUSUO_SOAK_SECONDS="${QIUSUO_TSAN_SOAK_SECONDS:-20}" \
  ctest --test-dir build-tsan --output-on-failure -j "$jobs" \
  -R '^(Server(Http|Chat|ChatOutput|Batching|Queue|Stream|Validation|Security|Completions|Timeout|Hardening|Fault[A-Za-z]*)|Engine|Kernels|ThreadPool)\.'
