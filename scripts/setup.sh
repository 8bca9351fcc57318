#!/usr/bin/env bash
# setup.sh — install the Debian packages in scripts/packages.txt that are missing.
# usage: setup.sh [--main]   (--main: only what building and running needs, not the tests')
# As root it installs them; otherwise it prints the exact command and fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
main=0
[ "${1:-}" = "--main" ] && main=1
# "package [role]" per line; comments and blank lines skipped; --main skips role "test"
mapfile -t pkgs < <(sed -e 's/#.*//' "$here/packages.txt" |
  awk -v main=$main 'NF >= 1 && !(main && $2 == "test") { print $1 }')
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#pkgs[@]} packages present"
  exit 0
fi
cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root: $cmd" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
