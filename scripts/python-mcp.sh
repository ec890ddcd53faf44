#!/usr/bin/env bash
# Prints the path of a Python interpreter with the official MCP client (`mcp` on PyPI, pinned),
# installing it once into a virtualenv in the cache outside the clone. The end-to-end tests drive
# Warden with it as a real non-TypeScript client of both protocol eras.
set -euo pipefail
VERSION="${MCP_PYTHON_VERSION:-2.3.0}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/mcp-warden"
VENV="$CACHE/py-mcp-$VERSION"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import mcp' 2>/dev/null; then
  command -v python3 >/dev/null || { echo "python3 is needed for the Python client tests" >&2; exit 1; }
  mkdir -p "$CACHE"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$VERSION" >&2
fi
echo "$VENV/bin/python"
