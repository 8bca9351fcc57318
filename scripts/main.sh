#!/usr/bin/env bash
# main.sh — the main job: set up, build the tool, run the first suite (a verdict and index.html in about 3 minutes on 2 vCPUs).
# usage: scripts/main.sh [--full] [linkbench run options...]
#   --full  the default suite instead: every scenario at its own size, 3 repetitions,
#           scale steps up to 10 000 links (22 min 25 s measured on a 2-vCPU VM)
# The last line printed is the path of the results page (results/<suite>/<stamp>/index.html).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
suite=first
args=()
for a in "$@"; do
  case $a in
    --full) suite=default ;;
    *) args+=("$a") ;;
  esac
done
"$top/scripts/setup.sh" --main
# the tool and its variants only: the tests build with ./scripts/test.sh
"$top/scripts/build.sh" "$top/build" "" linkbench linkbench_man
cd "$top"
exec "$top/build/linkbench" run "${args[@]}" "workloads/suites/$suite.json"
