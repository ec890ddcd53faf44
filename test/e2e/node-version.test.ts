import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLI,
  EXAMPLES,
  POLICIES,
  WARDEN_NODE,
  nodeServer,
  startWarden,
  textOf,
  wardenNodeEnv,
} from '../helpers/warden.js';

// The end-to-end subset runs again with Warden on Node 22 and 24 (scripts/e2e-node.sh sets
// WARDEN_TEST_NODE). This checks that the process under test really is that Node, with its SQLite
// audit trail working (a native addon built for that Node), so the subset cannot pass on the
// machine's Node by mistake.
const VERSION = execFileSync(WARDEN_NODE, ['--version'], { encoding: 'utf8' }).trim();

describe(`Warden runs on the Node under test (${VERSION})`, () => {
  test('the Warden process is that binary, and its SQLite audit trail records and verifies', async () => {
    const w = await startWarden({
      mcpServers: { ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
    });
    try {
      expect(realpathSync(readlinkSync(`/proc/${w.pid}/exe`))).toBe(realpathSync(WARDEN_NODE));
      const r = await w.client.callTool({ name: 'run_tests', arguments: { service: 'api' } });
      expect(r.isError, textOf(r)).toBeFalsy();
    } finally {
      await w.close();
    }
    const verify = execFileSync(
      WARDEN_NODE,
      [CLI, 'audit', 'verify', '--store', `sqlite:${join(w.dir, 'audit.db')}`, '--json'],
      {
        encoding: 'utf8',
        env: { ...process.env, ...wardenNodeEnv() },
      },
    );
    expect(JSON.parse(verify)).toMatchObject({ ok: true });
    expect(JSON.parse(verify).count).toBeGreaterThan(0);
  });
});
