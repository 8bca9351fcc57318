#!/usr/bin/env bash
# deploy/ssh/run.sh — one sharded linkbench run over a plain list of hosts, for teams without Kubernetes:
# ssh starts shard I of N on the I-th host with the flags the Kubernetes Job gives its pods, all at one
# UTC time; scp brings each shard's report back; linkbench merge joins them here. No agent: ssh only.
#
# usage: deploy/ssh/run.sh -s SCENARIO.json -t ws://HOST:PORT/path [-o DIR] [-d SECONDS] [-r RUN_ID]
#                          host1 host2 ... [-- more linkbench run options, e.g. --duration 60]
#   -s  the scenario (copied to every host)        -t  the gateway, as each host reaches it
#   -o  where the results come back (default results/ssh)
#   -d  seconds from now to the common start (default 30: time for every ssh to connect)
#   -r  the run's name (default: the UTC time now)
# A host named twice runs two shards (two driver processes). Each host needs linkbench on its PATH
# (or $LINKBENCH_REMOTE) and an accurate clock (NTP): each shard reports its offset from the
# gateway's clock, bounded by the HTTP Date of its handshake, where the gateway sends Date.
# $SSH and $SCP replace ssh and scp (options, a jump host: SSH="ssh -J bastion"); $LINKBENCH is the
# linkbench that merges here (default: the one on PATH). Exit: merge's (0, 1 invalid, 2 refused), or 1
# when a shard failed.
set -euo pipefail

usage() { sed -n '6,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

scenario='' target='' out=results/ssh delay=30 run=
while getopts "s:t:o:d:r:h" opt; do
  case $opt in
    s) scenario=$OPTARG ;;
    t) target=$OPTARG ;;
    o) out=$OPTARG ;;
    d) delay=$OPTARG ;;
    r) run=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
hosts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do hosts+=("$1"); shift; done
[ $# -gt 0 ] && shift
extra=("$@")
if [ -z "$scenario" ] || [ -z "$target" ] || [ ${#hosts[@]} -eq 0 ]; then usage; fi
[ -r "$scenario" ] || { echo "run.sh: $scenario: cannot read the scenario" >&2; exit 2; }
case $delay in ''|*[!0-9]*) echo "run.sh: -d: a whole number of seconds (got $delay)" >&2; exit 2 ;; esac

read -r -a ssh_cmd <<< "${SSH:-ssh}"
read -r -a scp_cmd <<< "${SCP:-scp}"
remote_lb=${LINKBENCH_REMOTE:-linkbench}
local_lb=${LINKBENCH:-linkbench}
n=${#hosts[@]}
run=${run:-$(date -u +%Y%m%dT%H%M%SZ)}
start_at=$(date -u -d "+$delay seconds" +%Y-%m-%dT%H:%M:%SZ)
# a fresh directory on each host, removed once its results are copied back
rdir=/tmp/linkbench-$run.$(date +%s%N)
if [ -e "$out/$run" ]; then echo "run.sh: $out/$run exists: give another run name (-r)" >&2; exit 2; fi
mkdir -p "$out/$run"
echo "run.sh: $n shards of $(basename "$scenario") against $target, starting at $start_at"

# each shard its own remote directory: a host named twice keeps its shards apart
q() { printf '%q ' "$@"; }
pids=()
for i in "${!hosts[@]}"; do
  h=${hosts[$i]}
  "${ssh_cmd[@]}" "$h" "mkdir -p $(q "$rdir/shard-$i")" </dev/null
  "${scp_cmd[@]}" -q "$scenario" "$h:$rdir/shard-$i/scenario.json" </dev/null
  # shellcheck disable=SC2029  # expanded here on purpose: the command is built for the remote shell
  "${ssh_cmd[@]}" "$h" "$(q "$remote_lb" run "$rdir/shard-$i/scenario.json" --target "$target" \
      --shard "$i/$n" --start-at "$start_at" --out "$rdir/shard-$i/out" --quiet ${extra[@]+"${extra[@]}"})" \
      </dev/null >"$out/$run/shard-$i.log" 2>&1 &
  pids+=($!)
done

failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "run.sh: shard $i/$n on ${hosts[$i]} failed (its log: $out/$run/shard-$i.log)" >&2
    failed=1
  fi
done
for i in "${!hosts[@]}"; do
  if "${scp_cmd[@]}" -q -r "${hosts[$i]}:$rdir/shard-$i/out" "$out/$run/shard-$i" </dev/null; then
    "${ssh_cmd[@]}" "${hosts[$i]}" "rm -rf $(q "$rdir/shard-$i"); rmdir $(q "$rdir") 2>/dev/null; true" \
      </dev/null || true
  else
    echo "run.sh: no results from shard $i/$n on ${hosts[$i]}" >&2
    failed=1
  fi
done
# merge what came back: a shard missing is refused by name
rc=0
"$local_lb" merge "$out/$run/merged" "$out/$run" || rc=$?
[ "$rc" -eq 0 ] && [ "$failed" -ne 0 ] && rc=1
exit "$rc"
