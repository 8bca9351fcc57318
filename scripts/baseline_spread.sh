#!/usr/bin/env bash
# baseline_spread.sh — measure this machine's run-to-run spread: N runs of a suite make a spread baseline (baseline update --from-runs N), M more runs are checked against it, and the share of comparisons that held is the gate's false-alarm figure.
#
# usage: scripts/baseline_spread.sh [--runs N] [--check-runs M] [--suite FILE] [--out DIR]
#                                   [--install]
#   --runs N        suite runs that make the baseline (default 5)
#   --check-runs M  further runs checked against it, each as a CI would (default 5)
#   --suite FILE    default workloads/suites/default.json (quick.json for a trial)
#   --out DIR       default results/spread/<UTC stamp>; the baseline is DIR/baseline.json
#   --install       copy DIR/baseline.json to results/baseline.json at the end (commit it
#                   with the printed figures)
# Run it on a quiet machine, the one that will run the checks: the figures measure that
# machine. It prints, and writes to DIR/summary.txt, how many baseline comparisons held
# in each check run, and how many check runs passed entirely.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
lb=${LINKBENCH:-$top/build/linkbench}
runs=5 check_runs=5 suite=$top/workloads/suites/default.json out= install=0
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --check-runs) check_runs=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --install) install=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "baseline_spread.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
case $runs$check_runs in *[!0-9]*) echo "baseline_spread.sh: --runs and --check-runs take numbers" >&2; exit 2 ;; esac
[ "$runs" -ge 2 ] || { echo "baseline_spread.sh: --runs must be >= 2 (a spread needs two runs)" >&2; exit 2; }
[ -x "$lb" ] || { echo "baseline_spread.sh: $lb not built (./scripts/build.sh)" >&2; exit 2; }
[ -f "$suite" ] || { echo "baseline_spread.sh: $suite: no such suite" >&2; exit 2; }
out=${out:-$top/results/spread/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
summary=$out/summary.txt
: > "$summary"
say() { echo "$*" | tee -a "$summary"; }

say "baseline_spread: $(uname -n), $(nproc) CPUs, $(uname -r); suite $suite; $runs + $check_runs runs"
say "baseline_spread: load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# A run that fails (lost messages, a variant that could not run) is still a run of this
# machine: its reports are kept and judged like the others; the exit code is recorded.
for i in $(seq 1 "$runs"); do
  rc=0
  "$lb" run --quiet --out "$out/spread/run-$i" "$suite" > "$out/spread-run-$i.log" 2>&1 || rc=$?
  say "baseline_spread: spread run $i/$runs done (exit $rc, load $(cut -d' ' -f1 /proc/loadavg))"
done
dirs=()
for i in $(seq 1 "$runs"); do dirs+=("$out/spread/run-$i"); done
"$lb" baseline update --from-runs "$runs" --baseline "$out/baseline.json" "${dirs[@]}" \
  > "$out/baseline-update.log"
say "baseline_spread: $out/baseline.json from $runs runs"

held_all=0 failed_all=0 passed=0
for j in $(seq 1 "$check_runs"); do
  rc=0
  "$lb" run --quiet --out "$out/check/run-$j" "$suite" > "$out/check-run-$j.log" 2>&1 || rc=$?
  crc=0
  "$lb" check --baseline "$out/baseline.json" --summary-export "$out/check-$j.json" \
    "$out/check/run-$j" > "$out/check-$j.txt" 2>&1 || crc=$?
  line=$(grep '^check: ' "$out/check-$j.txt" | tail -1)
  held=$(echo "$line" | sed -n 's/^check: \([0-9]*\) held, \([0-9]*\) failed.*/\1/p')
  failed=$(echo "$line" | sed -n 's/^check: \([0-9]*\) held, \([0-9]*\) failed.*/\2/p')
  held_all=$((held_all + ${held:-0})) failed_all=$((failed_all + ${failed:-0}))
  [ "$crc" -eq 0 ] && passed=$((passed + 1))
  say "baseline_spread: check run $j/$check_runs: run exit $rc, check exit $crc: ${line#check: }"
  grep '^FAIL' "$out/check-$j.txt" | sed 's/^/    /' | tee -a "$summary" || true
done
total=$((held_all + failed_all))
if [ "$total" -gt 0 ]; then
  pct=$(awk -v h="$held_all" -v t="$total" 'BEGIN { printf "%.2f", 100 * h / t }')
else
  pct=n/a
fi
say "baseline_spread: $held_all of $total baseline comparisons held ($pct %); $passed of $check_runs check runs passed entirely"
say "baseline_spread: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$install" = 1 ]; then
  cp "$out/baseline.json" "$top/results/baseline.json"
  say "baseline_spread: installed as results/baseline.json"
fi
