#!/usr/bin/env bash
# page_test.sh — a small suite run end to end, then its index.html checked in headless Chromium (check_page.py); screenshots kept in the output directory.
# usage: tests/browser/page_test.sh <linkbench> <source dir> <output dir>   (ctest: browser_page)
# Exit 77 (skipped) when chromium is not installed; CI installs it (scripts/packages.txt).
set -euo pipefail
lb=${1:?linkbench}
src=$(cd "${2:?source dir}" && pwd)
out=${3:?output dir}
if ! command -v chromium >/dev/null 2>&1; then
  echo "page_test: chromium is not installed: skipped (apt-get install chromium fonts-wqy-microhei)"
  exit 77
fi
rm -rf "$out"
mkdir -p "$out"
log=$out/run.log
# three designs are enough to show best, worst and the one between
if ! "$lb" run --variant dual,poll,evloop --out "$out/results" "$src/tests/browser/suite.json" >"$log" 2>&1; then
  echo "page_test: the suite run failed:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
last=$(tail -n1 "$log")
page=${last#page: }
if [[ $last != "page: "*"/page_check/"*"/index.html" ]] || [ ! -f "$page" ]; then
  echo "page_test: the run's last line is not the page's path: $last" >&2
  exit 1
fi
grep -q '^verdict: ' "$log" || { echo "page_test: no verdict line" >&2; exit 1; }
/usr/bin/python3 "$src/tests/browser/check_page.py" "$page" --shots "$out"
echo "page_test: screenshots in $out (page-1280.png, page-390.png and their -top.png)"
