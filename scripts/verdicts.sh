#!/usr/bin/env bash
# verdicts.sh — run everything the verdict page reads (the verdicts suite, the Go originals, the seed's scale at 10K, 50K and 100K links), then write the page and publish what it reads.
# usage: scripts/verdicts.sh [--out DIR] [--no-scale] [--no-go] [--lock FILE] [--pids-max N] [--repeat N] [--publish] [LINKBENCH]
#   --out DIR      results root (default results/verdicts/<UTC stamp>)
#   --no-scale     leave out seed_scale_10k/50k/100k (minutes of the whole machine each)
#   --no-go        leave out the Go originals (go_echo, go_server_push, go_idle at 1 000 links)
#   --lock FILE    run each scenario under `flock FILE` (a machine shared with other benchmarks)
#   --pids-max N   run the 50 000-link scenario in a pids cgroup of N tasks, so that the
#                  thread-per-link ports stop there and not at the machine's pid_max, where
#                  every other process could no longer fork (root; cgroup v1 or v2)
#   --repeat N     N repetitions per variant in every scenario (linkbench run --repeat),
#                  instead of each scenario's own (1: the whole in about a third of the time)
#   --publish      write results/published/verdicts.md and results/published/verdicts/
#                  (linkbench verdicts --publish) instead of DIR/verdicts.md
# Each scenario is its own `linkbench run` (its own lock hold); the page reads them all.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out="" scale=1 go=1 lock="" pids="" publish=0 lb="" repeat=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --no-scale) scale=0; shift ;;
    --no-go) go=0; shift ;;
    --lock) lock=$2; shift 2 ;;
    --pids-max) pids=$2; shift 2 ;;
    --repeat) repeat=(--repeat "$2"); shift 2 ;;
    --publish) publish=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "verdicts.sh: unknown option $1" >&2; exit 2 ;;
    *) lb=$1; shift ;;
  esac
done
lb=${lb:-$top/build/linkbench}
out=${out:-$top/results/verdicts/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
run() {   # run <scenario or suite> [linkbench run options]
  local what=$1; shift
  echo "verdicts.sh: $what ($(cut -d' ' -f1-3 /proc/loadavg) load)"
  if [ -n "$lock" ]; then
    flock "$lock" "$lb" run --quiet --out "$out" "${repeat[@]}" "$@" "$top/workloads/$what.json" || true
  else
    "$lb" run --quiet --out "$out" "${repeat[@]}" "$@" "$top/workloads/$what.json" || true
  fi
}
# a failed expect line or run is in its report (the page says what was measured): go on
run suites/verdicts
if [ $go = 1 ]; then
  run go/go_echo
  run go/go_server_push
  run go/go_idle --links 1000
fi
if [ $scale = 1 ]; then
  run seed/seed_scale_10k
  if [ -n "$pids" ]; then
    cg=""
    if [ -d /sys/fs/cgroup/pids ]; then cg=/sys/fs/cgroup/pids/linkbench-verdicts
    elif grep -qw pids /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then cg=/sys/fs/cgroup/linkbench-verdicts; fi
    [ -n "$cg" ] || { echo "verdicts.sh: no pids cgroup controller here" >&2; exit 2; }
    mkdir -p "$cg"
    echo "$pids" > "$cg/pids.max"
    # the run and its children in the cgroup; this shell stays outside
    ( echo $BASHPID > "$cg/cgroup.procs"; run seed/seed_scale_50k )
  else
    run seed/seed_scale_50k
  fi
  run seed/seed_scale_100k
fi
if [ $publish = 1 ]; then
  "$lb" verdicts --publish "$top/results/published/verdicts" "$top/results/published/verdicts.md" "$out"
else
  "$lb" verdicts "$out/verdicts.md" "$out"
fi
