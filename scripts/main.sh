#!/usr/bin/env bash
# main.sh — the main job: set up, build, run the default scenario suite (reports and charts in results/).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" "$top/build"
cd "$top"
exec "$top/build/linkbench" run "$@" workloads/suites/default.json
