// A real client in another language: the official Python MCP SDK (`mcp` 2.3.0, installed by
// scripts/python-mcp.sh from `make test`'s test-deps) against Warden's HTTP front, pinned to
// 2026-07-28, negotiating, and in the handshake era. The shipped policy decides alike in each.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EXAMPLES, FIXTURES, ROOT, nodeServer } from '../helpers/warden.js';
import { startHttpWarden, type InProcessWarden } from '../helpers/http.js';

const run = promisify(execFile);
const CLIENT = join(FIXTURES, 'python/modern_client.py');

let w: InProcessWarden;
let python: string;
beforeAll(async () => {
  python = (await run('bash', [join(ROOT, 'scripts/python-mcp.sh')], { timeout: 240_000 })).stdout.trim();
  w = await startHttpWarden({
    mcpServers: { ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG') },
    policy: { bundle: join(ROOT, 'policy') },
    // auth: none serves this identity; policy/access.yaml shows deploy_to_production to developers.
    identity: { roles: ['developer'] },
  });
}, 300_000);
afterAll(async () => {
  await w?.close();
});

describe('the official Python MCP client through Warden', () => {
  test.each([
    ['pinned to 2026-07-28', '2026-07-28', '2026-07-28'],
    ['negotiating', 'auto', '2026-07-28'],
    ['in the handshake era', 'legacy', '2025-11-25'],
  ])('%s: tools listed, the early deploy denied, the tests run', async (_name, mode, version) => {
    // One service per mode: without a traceparent, the stateless runs share this principal's scope.
    const { stdout } = await run(python, [CLIENT, `${w.url}/mcp`, mode, `svc-${mode}`], { timeout: 60_000 });
    const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      protocol_version: string | null;
      tools: string[];
      denied: { is_error: boolean; text: string };
      ran: { is_error: boolean; text: string };
    };
    expect(seen.protocol_version).toBe(version);
    expect(seen.tools).toEqual(expect.arrayContaining(['run_tests', 'deploy_to_production']));
    expect(seen.denied.is_error).toBe(true);
    expect(seen.denied.text).toMatch(new RegExp(`run_tests must succeed for service=svc-${mode}`));
    expect(seen.ran.is_error).toBe(false);
    expect(w.executed().filter((c) => c.tool === 'deploy_to_production')).toHaveLength(0);
  });
});
