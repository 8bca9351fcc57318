#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets (clang, LB_FUZZ=ON) into build-fuzz/ and run each for a bounded time.
# FUZZ_SECONDS (default 60) per target; FUZZ_TARGETS (default all: ws_handshake vsock_frames
# vsock_inplace scn).
# Seeds come from fuzz/corpus/<target>/ (read only); what the fuzzer learns goes to
# build-fuzz/corpus/<target>/, crashes to build-fuzz/artifacts/<target>/. A crash fails
# the script: copy its input to tests/data/fuzz-regress/<target>/ and fix the bug.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${FUZZ_BUILD_DIR:-$top/build-fuzz}
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-ws_handshake vsock_frames vsock_inplace scn}
command -v clang >/dev/null || { echo "fuzz: clang is missing (scripts/setup.sh installs it)" >&2; exit 2; }
CC=clang cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLB_FUZZ=ON >/dev/null
bins=()
for t in $targets; do bins+=("fuzz_$t"); done
cmake --build "$dir" -j "$(nproc)" --target "${bins[@]}"
# leaks are bugs here too; a slow input (>10 s) is reported as a hang
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in $targets; do
  mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t"
  log="$dir/fuzz_$t.log"
  echo "fuzz: $t for ${secs}s (log: $log)"
  if "$dir/fuzz_$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$dir/artifacts/$t/" "$dir/corpus/$t" "$top/fuzz/corpus/$t" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz: $t ok: ${execs:-?} executions, ${cov:-cov ?}, corpus $(ls "$dir/corpus/$t" | wc -l) files"
  else
    failed=1
    echo "fuzz: $t FOUND A BUG: see $log; inputs in $dir/artifacts/$t/:" >&2
    ls "$dir/artifacts/$t" >&2
    grep -m3 -E 'ERROR|runtime error|invariant' "$log" >&2 || true
  fi
done
exit $failed
