#!/usr/bin/env bash
# The test command: builds Release and ASan+UBSan, and runs the whole ctest suite under both.
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
