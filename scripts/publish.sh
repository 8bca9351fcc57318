#!/usr/bin/env bash
# publish.sh — copy a suite run's findings (report.md and PNG charts per scenario, the overview, an index) into results/published/.
# usage: scripts/publish.sh [--sub NAME] RESULTS_DIR [LINKBENCH]
#   --sub NAME   publish into results/published/NAME/ instead (another suite's run, e.g.
#                --sub go for workloads/suites/go.json), leaving the rest as it is
#   RESULTS_DIR  a suite run's directory, results/default/<stamp>/ as `./scripts/main.sh
#                --full` (linkbench run workloads/suites/default.json) wrote it: one
#                directory per scenario
# The index is assembled from each report.md's generated sections; nothing here is
# hand-written judgement. Raw report.json, CSVs and .hlog files stay out (bulk).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
sub=""
if [ "${1:-}" = "--sub" ]; then
  sub=${2:?publish: --sub needs a name}
  case $sub in *[!a-z0-9_-]*|verdicts) echo "publish: --sub $sub: a name of a-z 0-9 _ - (not verdicts)" >&2; exit 2;; esac
  shift 2
fi
src=${1:?usage: scripts/publish.sh [--sub NAME] RESULTS_DIR [LINKBENCH]}
src=${src%/}   # rel paths below are taken after "$src/"
lb=${2:-$top/build/linkbench}
dst="$top/results/published${sub:+/$sub}"
suite=$(basename "$(dirname "$(cd "$src" && pwd)")")
[ -d "$src" ] || { echo "publish: $src: no such directory" >&2; exit 2; }
"$lb" plot "$src" >/dev/null     # every chart, and the overview across scenarios
rm -rf "$dst.new"
mkdir -p "$dst.new"
index="$dst.new/README.md"
machine=""
sections=""
# every scenario's run (a stepped scenario: each links_<N> step)
while IFS= read -r rep; do
  d=$(dirname "$rep")
  rel=${d#"$src"/}
  scen=${rel%%/*}
  step=""
  case "$d" in */links_*) step="@${d##*/links_}";; esac
  out="$dst.new/$scen${step:+/links_${step#@}}"
  mkdir -p "$out"
  cp "$d/report.md" "$out/"
  cp "$d"/*.png "$out/" 2>/dev/null || true
  [ -n "$machine" ] || machine=$(grep -m1 '^\*\*Machine\.\*\*' "$d/report.md" || true)
  title=$(head -n1 "$d/report.md" | sed 's/^# //')
  link=${out#"$dst.new/"}/report.md
  body=$(awk '/^## What the numbers show/{on=1; next} /^## /{on=0} on' "$d/report.md")
  expect=$(awk '/^## Expectations/{on=1; next} /^## /{on=0} on && /held/' "$d/report.md" | head -n1)
  sections+=$'\n'"## [$title]($link)"$'\n'"$body"$'\n'"$expect"$'\n'
done < <(find "$src" -name report.json | sort)
cp "$src"/overview*.png "$dst.new/" 2>/dev/null || true
# stepped scenarios: threads, memory and CPU per link-second versus links, drawn beside
# the steps (one chart per scenario)
scale_charts=""
# (a suite's run keeps it at <scenario>/scale.png; a lone scenario's run at
# <scenario>/<stamp>/scale.png: the scenario is the first directory either way)
while IFS= read -r chart; do
  rel=${chart#"$src"/}
  scen=${rel%%/*}
  mkdir -p "$dst.new/$scen"
  cp "$chart" "$dst.new/$scen/scale.png"
  scale_charts+=$'\n'"![$scen: threads, memory and CPU per link versus links]($scen/scale.png)"$'\n'
done < <(find "$src" -mindepth 2 -maxdepth 3 -name scale.png -not -path '*/links_*' | sort)
{
  echo "# Published findings: the $suite suite"
  echo
  echo "Produced by \`linkbench run workloads/suites/$suite.json\` and \`scripts/publish.sh${sub:+ --sub $sub}\`"
  echo "on $(date -u +%Y-%m-%d). Every paragraph below is generated from the measurements by"
  echo "\`report.md\`'s generator (\`sim/rep/rep_md.c\`). Each directory holds the scenario's"
  echo "\`report.md\` (machine record, the seed's 性能对比总结 table rebuilt from measurements,"
  echo "expectations) and its charts; raw \`report.json\`, CSVs and \`.hlog\` files are not"
  echo "published (run the suite to get them)."
  echo
  [ -n "$machine" ] && echo "$machine" && echo
  for p in "$dst.new"/overview*.png; do
    [ -e "$p" ] && echo "![$(basename "$p" .png)]($(basename "$p"))" && echo
  done
  if [ -n "$scale_charts" ]; then
    echo "## Scale: per link, versus links"
    echo "$scale_charts"
  fi
  echo "$sections"
} > "$index"
# the verdict page and what it reads are published by linkbench verdicts --publish
# (scripts/verdicts.sh), not from this suite, and another suite's findings (--sub) by
# that suite's run: kept as they are
keep_list="verdicts.md verdicts"
[ -z "$sub" ] && [ -d "$dst" ] && for d in "$dst"/*/; do
  [ -f "$d/README.md" ] && keep_list+=" $(basename "$d")"
done
for keep in $keep_list; do
  [ -e "$dst/$keep" ] && mv "$dst/$keep" "$dst.new/"
done
rm -rf "$dst"
mv "$dst.new" "$dst"
echo "publish: wrote $dst ($(find "$dst" -name report.md | wc -l) reports)"
