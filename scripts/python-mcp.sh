#!/usr/bin/env bash
# Prints the path of a Python interpreter with the official MCP client (`mcp` on PyPI, pinned),
# installing it once into a virtualenv in the cache outside the clone. The end-to-end tests drive
# Warden with it as a real non-TypeScript client of both protocol eras.
#   scripts/python-mcp.sh                          mcp==$MCP_PYTHON_VERSION (2.3.0), for the tests
#   scripts/python-mcp.sh fastmcp==4.1.6 fastmcp   another pinned package and the module it provides
#                                                  (bench/stdio.mjs: FastMCP's proxy as a peer row)
set -euo pipefail
VERSION="${MCP_PYTHON_VERSION:-2.3.0}"
PACKAGE="${1:-mcp==$VERSION}"
MODULE="${2:-mcp}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/mcp-warden"
VENV="$CACHE/py-${PACKAGE/==/-}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import $MODULE" 2>/dev/null; then
  command -v python3 >/dev/null || { echo "python3 is needed to install $PACKAGE" >&2; exit 1; }
  mkdir -p "$CACHE"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$PACKAGE" >&2
fi
echo "$VENV/bin/python"
