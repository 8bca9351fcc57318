#!/usr/bin/env bash
# check_html.sh — render a linkbench HTML report in headless Chromium to a PNG, to look at it (and to prove it opens from disk).
# usage: scripts/check_html.sh <report.html> [out.png] [width] [height]
set -euo pipefail
html=${1:?usage: check_html.sh <report.html> [out.png] [width] [height]}
out=${2:-${html%.html}.png}
w=${3:-1280}
h=${4:-4000}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "check_html.sh: chromium not found (apt-get install chromium)" >&2
    exit 2
fi
[ -f "$html" ] || { echo "check_html.sh: $html: no such file" >&2; exit 2; }
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case $out in /*) ;; *) out=$PWD/$out ;; esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
# the page must render from a file: URL, with no network and no GPU
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --hide-scrollbars --window-size="$w,$h" --screenshot="$out" "file://$abs" >/dev/null 2>&1 || true
if [ ! -s "$out" ]; then
    echo "check_html.sh: chromium wrote no screenshot for $html" >&2
    exit 1
fi
echo "check_html.sh: $out"
