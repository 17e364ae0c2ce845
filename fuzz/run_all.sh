#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for SECONDS (default 60) on its seed
# corpus. Exits non-zero if any target reports a finding (crash, sanitizer report, leak, timeout,
# OOM, or an unexpected exception). Prints the executions per target.
#   fuzz/run_all.sh [SECONDS]
# Environment: BUILD_DIR (default build-fuzz), JOBS (default 2), TARGETS (default: all),
#              CXX (default clang++).
set -u -o pipefail

SECONDS_PER_TARGET="${1:-60}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${JOBS:-2}"
TARGETS="${TARGETS:-gguf tokenizer jinja request sse http checkpoint hub}"

cmake -S "$ROOT/fuzz" -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER="${CXX:-clang++}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || { echo "configure failed" >&2; exit 2; }
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "$JOBS" --target $(for t in $TARGETS; do printf 'fuzz_%s ' "$t"; done) \
  || { echo "build failed" >&2; exit 2; }

LOG_DIR="$BUILD_DIR/logs"
ART_DIR="$BUILD_DIR/artifacts"
mkdir -p "$LOG_DIR" "$ART_DIR"
status=0
summary=""
for t in $TARGETS; do
  corpus_seed="$ROOT/fuzz/corpus/$t"
  work="$BUILD_DIR/corpus/$t"  # grows as the fuzzer finds new coverage; the seeds stay untouched
  mkdir -p "$work" "$ART_DIR/$t"
  # Replay the regressions first: each must now pass.
  if [ -d "$ROOT/fuzz/regressions/$t" ] && [ -n "$(ls -A "$ROOT/fuzz/regressions/$t" 2>/dev/null)" ]; then
    if ! "$BUILD_DIR/fuzz_$t" -rss_limit_mb=2048 -timeout=10 "$ROOT/fuzz/regressions/$t"/* \
        >"$LOG_DIR/$t.regressions.log" 2>&1; then
      echo "[$t] REGRESSION: a saved reproducer fails again; see $LOG_DIR/$t.regressions.log"
      status=1
    fi
  fi
  echo "[$t] fuzzing for ${SECONDS_PER_TARGET}s ..."
  "$BUILD_DIR/fuzz_$t" "$work" "$corpus_seed" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$ART_DIR/$t/" >"$LOG_DIR/$t.log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOG_DIR/$t.log" | grep -o '[0-9]*$' | tail -1)
  [ -z "$execs" ] && execs=$(grep -o '^#[0-9]*' "$LOG_DIR/$t.log" | tail -1 | tr -d '#')
  if [ $rc -ne 0 ]; then
    status=1
    line="[$t] FINDING (exit $rc) after ${execs:-?} executions; log $LOG_DIR/$t.log, reproducer in $ART_DIR/$t/"
    echo "$line"
    grep -m3 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error|terminate called|SUMMARY' \
      "$LOG_DIR/$t.log" | sed 's/^/    /'
  else
    line="[$t] ok: ${execs:-?} executions in ${SECONDS_PER_TARGET}s"
    echo "$line"
  fi
  summary+="$line"$'\n'
done
echo
echo "=== summary ==="
printf '%s' "$summary"
exit $status
