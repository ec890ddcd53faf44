// MCP 2026-07-28 on Warden's stdio front: the connection's first request decides its era. The v2
// SDK client pinned to 2026-07-28 and negotiating ('auto') drive the built `warden serve` as a real
// child process, with the shipped policy in front of the example CI server; the v1 client's
// handshake-era session is covered by stdio-core.test.ts and the demo.
import { afterEach, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import YAML from 'yaml';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import {
  CLI,
  EXAMPLES,
  ROOT,
  WARDEN_NODE,
  nodeServer,
  readJsonl,
  tempDir,
  textOf,
  wardenNodeEnv,
} from '../helpers/warden.js';

const MODERN = '2026-07-28';

let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
});

function wardenOverStdio(): { transport: StdioClientTransport; callLog: string; decisionLog: string } {
  const dir = tempDir('modern-stdio');
  const callLog = join(dir, 'calls.jsonl');
  const decisionLog = join(dir, 'decisions.jsonl');
  const configPath = join(dir, 'warden.yaml');
  const config = {
    mcpServers: { ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG') },
    policy: { bundle: join(ROOT, 'policy') },
    // policy/access.yaml keeps deploy_to_production to developers and release managers.
    identity: { roles: ['developer'] },
    audit: { store: `sqlite:${join(dir, 'audit.db')}` },
    decisionLogs: { file: decisionLog },
  };
  writeFileSync(configPath, YAML.stringify(config).replaceAll('$CALL_LOG', callLog));
  const transport = new StdioClientTransport({
    command: WARDEN_NODE,
    args: [CLI, 'serve', '--config', configPath],
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...wardenNodeEnv() },
    stderr: 'pipe',
  });
  return { transport, callLog, decisionLog };
}

describe('MCP 2026-07-28 on the stdio front', () => {
  test.each([
    ['pinned to 2026-07-28', { pin: MODERN }],
    ['negotiating', 'auto'],
  ] as const)('a v2 client %s is served statelessly and governed by the policy', async (_name, mode) => {
    const w = wardenOverStdio();
    client = new Client({ name: 'modern-stdio', version: '2.4.0' }, { versionNegotiation: { mode } });
    await client.connect(w.transport);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('deploy_to_production');
    const denied = await client.callTool({ name: 'deploy_to_production', arguments: { service: 'svc-s' } });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toMatch(/run_tests must succeed/);
    // The client process is one history scope: tests and the scan it ran count for the deploy.
    for (const name of ['run_tests', 'security_scan']) {
      const ran = await client.callTool({ name, arguments: { service: 'svc-s' } });
      expect(ran.isError, name).toBeFalsy();
    }
    const deploy = await client.callTool({ name: 'deploy_to_production', arguments: { service: 'svc-s' } });
    // Only the approval is missing now (over stdio nobody but the client could give it).
    expect(deploy.isError).toBe(true);
    expect(textOf(deploy)).not.toMatch(/must succeed/);
    expect(textOf(deploy)).toMatch(/deploy_to_production needs approval .*\[warden.approval_required\]/);
    const executed = readJsonl(w.callLog).map((c) => c['tool']);
    expect(executed).toEqual(expect.arrayContaining(['run_tests', 'security_scan']));
    const inputs = readJsonl(w.decisionLog).map((d) => d['input'] as { call: Record<string, unknown> });
    expect(inputs.every((i) => i.call['protocol_version'] === MODERN)).toBe(true);
  });
});
