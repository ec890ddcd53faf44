#!/usr/bin/env bash
# Print the path of a Node 22 binary for the MCP conformance suite, installing it if needed.
# Kept for existing callers; scripts/node-bin.sh does the work (and also provides Node 24).
exec bash "$(dirname "${BASH_SOURCE[0]}")/node-bin.sh" 22
