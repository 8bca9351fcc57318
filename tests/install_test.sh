#!/usr/bin/env bash
# install_test.sh — linkbench as a user installs it: cmake --install to a temporary prefix, then from another directory run a shipped scenario, list, --version, the man page, bash completion, and build the out-of-tree example with pkg-config.
# usage: tests/install_test.sh <build dir> <source dir>   (ctest: install_tool)
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
src=$(cd "${2:?source dir}" && pwd)
work=$(mktemp -d "$build/install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fails=0
fail() { echo "install_test: FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "install_test: ok: $*"; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in bin/linkbench lib/linkbench/variants/evloop.so lib/linkbench/variants/dual.so \
         include/linkbench/link.h include/linkbench/rt.h include/linkbench/vsock.h \
         share/linkbench/workloads/echo.json share/linkbench/workloads/suites/first.json \
         share/linkbench/plots/latency.gp share/man/man1/linkbench.1 \
         share/bash-completion/completions/linkbench share/doc/linkbench/README.md \
         share/doc/linkbench/examples/minimal_variant/minimal.c; do
  [ -e "$prefix/$f" ] || fail "the install lacks $f"
done
# the Go reference server (go:<design> variants) when the build made one
if [ -x "$build/linkbench-go" ] && [ ! -x "$prefix/lib/linkbench/linkbench-go" ]; then
  fail "the install lacks lib/linkbench/linkbench-go"
fi
pc=$(find "$prefix" -name linkbench.pc | head -n1)
[ -n "$pc" ] || fail "the install lacks linkbench.pc"
ok "installed into the prefix"

# everything below runs from a directory that is neither the source nor the build tree,
# with nothing in the environment pointing back at them
elsewhere=$work/elsewhere
mkdir -p "$elsewhere"
cd "$elsewhere"
unset LINKBENCH_VARIANT_DIR LINKBENCH_PLOTS_DIR LINKBENCH_DATA_DIR LINKBENCH_SOURCE_DIR LINKBENCH_BIN
lb=$prefix/bin/linkbench

v=$("$lb" --version)
[[ $v == "linkbench "[0-9]* ]] || fail "--version printed '$v'"
list=$("$lb" list)
real_variants=$(cd "$prefix/lib/linkbench/variants" && pwd -P)
grep -q "(modules in $real_variants)" <<<"$list" || fail "list does not load the prefix's variants: $list"
grep -q '^evloop' <<<"$list" || fail "list lacks evloop: $list"
# the listing is read whole first: `lb | grep -q` under pipefail fails by chance when grep
# quits at the match and lb, still writing, dies of SIGPIPE
scenarios=$("$lb" list --scenarios)
grep -q "^echo .*$prefix/share/linkbench/workloads/echo.json" <<<"$scenarios" ||
  fail "list --scenarios does not show the installed echo.json: $scenarios"
ok "--version, list (variants from the prefix), list --scenarios"

# a shipped scenario by name, short and small, results in this directory
out=$("$lb" run --variant dual,evloop --repeat 1 --duration 0.3 --links 4 echo 2>&1) ||
  fail "linkbench run echo failed: $out"
last=$(tail -n1 <<<"$out")
page=${last#page: }
[[ $last == "page: results/echo/"*"/index.html" ]] || fail "the last line is not the page: $last"
[ -f "$page" ] || fail "no page at $page"
[ -f "$(dirname "$page")/report.json" ] || fail "no report.json beside $page"
ls "$(dirname "$page")"/lat_rtt.png >/dev/null 2>&1 || fail "no chart: the installed plots were not found"
grep -q '^verdict: PASS' <<<"$out" || fail "no passing verdict: $out"
ok "linkbench run echo from another directory: $page"

# the man page reads and names every subcommand
if command -v man >/dev/null; then
  m=$(man -l "$prefix/share/man/man1/linkbench.1" 2>/dev/null)
else
  m=$(cat "$prefix/share/man/man1/linkbench.1")
fi
for c in run report check list; do
  grep -q "linkbench $c" <<<"$m" || fail "the man page lacks linkbench $c"
done
ok "man page"

# bash completion: subcommands, options from --help, variant names, shipped scenarios
comp() {   # comp WORDS... -> the completions of the last word
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _linkbench; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$prefix/share/bash-completion/completions/linkbench" "$@"
}
grep -qx run <<<"$(comp "$lb" r)" || fail "completion of 'r' lacks run"
grep -qx -- --variant <<<"$(comp "$lb" run --va)" || fail "completion of 'run --va' lacks --variant"
grep -qx evloop <<<"$(comp "$lb" run --variant ev)" || fail "completion of '--variant ev' lacks evloop"
grep -qx dual,evloop <<<"$(comp "$lb" run --variant dual,ev)" || fail "completion of '--variant dual,ev'"
grep -qx first <<<"$(comp "$lb" run fir)" || fail "completion of 'run fir' lacks the first suite"
ok "bash completion"

# a variant built out of tree through pkg-config, loaded by path
export PKG_CONFIG_PATH=$(dirname "$pc")
cflags=$(pkg-config --cflags linkbench)
[[ $cflags == *"-I"*"/include"* ]] || fail "pkg-config --cflags linkbench: '$cflags'"
inc=${cflags#-I}
inc=${inc%% *}
[ -f "$inc/linkbench/link.h" ] || fail "pkg-config's include dir $inc has no linkbench/link.h"
cc $cflags -std=c11 -Wall -Wextra -Werror -shared -fPIC -o minimal.so \
   "$prefix/share/doc/linkbench/examples/minimal_variant/minimal.c" || fail "cc \$(pkg-config --cflags linkbench) minimal.c"
cmake -S "$prefix/share/doc/linkbench/examples/minimal_variant" -B ex >/dev/null &&
  cmake --build ex >/dev/null || fail "the example's CMake build through pkg-config"
[ -f ex/minimal.so ] || fail "the example's CMake build made no minimal.so"
out=$("$lb" run --variant ./minimal.so,evloop --repeat 1 --duration 0.3 --links 4 echo 2>&1) ||
  fail "linkbench run --variant ./minimal.so failed: $out"
grep -q '^\./minimal.so ' <<<"$out" || fail "no row for the out-of-tree variant: $out"
ok "out-of-tree variant built with pkg-config --cflags linkbench and run"

if [ $fails -gt 0 ]; then
  echo "install_test: $fails failed" >&2
  exit 1
fi
echo "install_test: all passed"
