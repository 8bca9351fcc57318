#!/usr/bin/env bash
# build.sh — configure and build into build/ (or $1), optionally with a sanitizer ($2), optionally only some targets ($3...).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
san=${2:-}
shift $(( $# > 2 ? 2 : $# ))
cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLB_SANITIZE="$san" >/dev/null
cmake --build "$dir" -j "$(nproc)" ${1:+--target "$@"}
