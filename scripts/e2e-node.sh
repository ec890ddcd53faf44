#!/usr/bin/env bash
# Run the end-to-end subset with Warden itself on Node 22 or 24 (`make test` runs both):
#
#   scripts/e2e-node.sh 22
#
# The tests (vitest) and the servers behind Warden stay on the machine's Node; every Warden they
# spawn (stdio, HTTP, the demo) runs on that version's binary from npm (scripts/node-bin.sh), with
# better-sqlite3 built for it (scripts/sqlite-native.sh) and loaded through
# test/helpers/native-addons.mjs. test/e2e/node-version.test.ts checks that it is so.
#
# The subset: the stdio core (relay, policy, history), the HTTP front as a spawned CLI (auth,
# sessions, admin API), approvals (elicitation, timeouts, progress) and the demo.
set -euo pipefail

major=${1:?usage: scripts/e2e-node.sh 22|24}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
node=$(bash "$repo/scripts/node-bin.sh" "$major")
sqlite=$(bash "$repo/scripts/sqlite-native.sh" "$node")
hook="file://$repo/test/helpers/native-addons.mjs?sqlite=$sqlite"

echo "e2e on $("$node" --version): Warden runs on $node" >&2
cd "$repo"
WARDEN_TEST_NODE="$node" WARDEN_TEST_NODE_OPTIONS="--import=$hook" npx vitest run \
  test/e2e/node-version.test.ts \
  test/e2e/stdio-core.test.ts \
  test/e2e/modern-stdio.test.ts \
  test/e2e/http-cli.test.ts \
  test/e2e/approval.test.ts \
  test/e2e/demo.test.ts
