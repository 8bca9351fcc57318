#!/usr/bin/env bash
# test.sh — set up, build, run the whole test suite (unit, conformance, interop, sanitizers).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" "$top/build"
cd "$top/build"
ctest --output-on-failure -j 2
