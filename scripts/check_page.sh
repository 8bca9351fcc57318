#!/usr/bin/env bash
# check_page.sh — check a results page (index.html) in headless Chromium and keep screenshots of it at 1280 px and at phone width.
# usage: scripts/check_page.sh <index.html> [screenshot dir (default: beside the page)]
# Exit 0 when the page loads without errors, every image decodes, every link resolves and
# no character draws as a missing-glyph box (tests/browser/check_page.py says which).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
page=${1:?usage: check_page.sh <index.html> [screenshot dir]}
shots=${2:-$(dirname "$page")}
exec /usr/bin/python3 "$top/tests/browser/check_page.py" "$page" --shots "$shots"
