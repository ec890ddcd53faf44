#!/usr/bin/env bash
# Print a directory whose node_modules/better-sqlite3 is built for the given Node binary's ABI,
# building it once into a per-version cache outside the clone:
#
#   scripts/sqlite-native.sh "$(scripts/node-bin.sh 24)"  -> ~/.cache/mcp-warden/better-sqlite3-12.11.1-abi137
#
# better-sqlite3 is a native module: the clone's node_modules holds a build for the machine's Node
# only. The end-to-end subset on Node 22 and 24 (scripts/e2e-node.sh) points Warden at these builds,
# and the packed-tarball test uses the one for the machine's Node, so neither compiles SQLite
# (minutes on 2 cores) on every run.
#
# The build is npm's ordinary one (`npm install better-sqlite3@<the clone's version>`), run with
# that Node first on PATH and its own headers (node-bin.sh extracts include/node) as nodedir, from
# source (no prebuilt binary download). For the machine's Node, the clone's build of the same
# version is reused.
set -euo pipefail

node=${1:?usage: scripts/sqlite-native.sh /path/to/node}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "sqlite-native: $*" >&2; }
die() { say "$*"; exit 1; }

version=$(node -p 'require(process.argv[1]).version' "$repo/node_modules/better-sqlite3/package.json" 2>/dev/null) \
  || die "node_modules/better-sqlite3 is missing; run make deps first"
abi=$("$node" -p process.versions.modules) || die "$node does not run"
cache="${TOOLS_CACHE:-$HOME/.cache/mcp-warden}/better-sqlite3-$version-abi$abi"
addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node

probe='new (require("better-sqlite3"))(":memory:").close()'
works() { [[ -f "$cache/$addon" ]] && (cd "$cache" && "$node" -e "$probe") 2>/dev/null; }

if ! works; then
  mkdir -p "$(dirname "$cache")"
  tmp=$(mktemp -d "$cache.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo '{ "name": "better-sqlite3-build", "private": true }' >"$tmp/package.json"
  if [[ "$abi" == "$(node -p process.versions.modules)" && -f "$repo/$addon" ]]; then
    # Same ABI as the clone's build: install the JS without scripts and reuse that build.
    (cd "$tmp" && npm install --silent --no-audit --no-fund --prefer-offline --ignore-scripts \
      "better-sqlite3@$version") \
      || die "npm install better-sqlite3@$version failed"
    mkdir -p "$tmp/$(dirname "$addon")" && cp "$repo/$addon" "$tmp/$addon"
  else
    nodedir=$(cd "$(dirname "$node")/.." && pwd)
    [[ -f "$nodedir/include/node/node_version.h" ]] \
      || die "no Node headers in $nodedir/include/node (scripts/node-bin.sh extracts them)"
    say "building better-sqlite3@$version for $("$node" --version) (ABI $abi) into $cache (once; a few minutes)"
    (cd "$tmp" && PATH="$(dirname "$node"):$PATH" npm_config_nodedir="$nodedir" \
      npm_config_build_from_source=true JOBS=2 \
      npm install --silent --no-audit --no-fund --prefer-offline "better-sqlite3@$version") \
      || die "building better-sqlite3@$version for $("$node" --version) failed"
    release="$tmp/node_modules/better-sqlite3/build/Release"
    rm -rf "$release/obj" "$release/obj.target"
  fi
  if ! works; then
    rm -rf "$cache"
    mv -T "$tmp" "$cache" 2>/dev/null || works || die "could not move the build into $cache"
  fi
fi
works || die "the build in $cache does not load under $("$node" --version)"
echo "$cache"
