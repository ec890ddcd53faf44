import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { writeWardenConfig } from '../helpers/http.js';
import { CLI, POLICIES, SERVERS, WARDEN_NODE, nodeServer, wardenEnv } from '../helpers/warden.js';

// A stdio connection's first request decides its era. One with the 2026-07-28 envelope is served
// statelessly (modern-stdio.test.ts drives it with the v2 client); anything else opens a
// handshake-era session. A request before initialize used to wait in the session gate for an
// initialize that might never come; now it is answered at once: -32022 naming the handshake
// versions, except ping, which that lifecycle allows.

const config = (): Record<string, unknown> => ({
  mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
  policy: { bundle: join(POLICIES, 'allow-all') },
});

/** The 2026-07-28 per-request `_meta` envelope a modern client puts on every request. */
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** Spawns `warden serve`, writes `request` as the connection's first line, and returns the first answer. */
async function firstAnswer(
  request: Record<string, unknown>,
): Promise<{ message: Record<string, unknown>; executed: unknown[] }> {
  const files = writeWardenConfig(config(), 'stdio-versions');
  const child = spawn(WARDEN_NODE, [CLI, 'serve', '--config', files.configPath], {
    env: wardenEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${String(request['method'])}\n${stderr}`)), 20_000);
      let buffer = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const cut = buffer.indexOf('\n');
        if (cut < 0) return;
        clearTimeout(timer);
        resolve(JSON.parse(buffer.slice(0, cut)) as Record<string, unknown>);
      });
    });
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...request })}\n`);
    return { message: await answer, executed: files.executed() };
  } finally {
    child.stdin.end();
    await exited;
  }
}

describe('warden serve (stdio): the first request decides the era', () => {
  test('a handshake-era request before initialize gets -32022 with its id and the handshake versions', async () => {
    const { message, executed } = await firstAnswer({ id: 7, method: 'tools/list', params: {} });
    expect(message).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32022 } });
    const error = message['error'] as { message: string; data: { supported: string[]; requested?: string } };
    expect(error.data.supported[0]).toBe('2025-11-25');
    expect(error.data.requested).toBeUndefined();
    expect(error.message).toMatch(/send initialize before tools\/list, or start a new connection/);
    expect(executed).toEqual([]);
  }, 30_000);

  test('a ping before initialize is answered, as the handshake-era lifecycle allows', async () => {
    const { message } = await firstAnswer({ id: 'p', method: 'ping' });
    expect(message).toEqual({ jsonrpc: '2.0', id: 'p', result: {} });
  }, 30_000);

  test('a first server/discover with the 2026-07-28 envelope is served: the discover result, not an error', async () => {
    const { message } = await firstAnswer({ id: 8, method: 'server/discover', params: { _meta: ENVELOPE } });
    expect(message['id']).toBe(8);
    const result = message['result'] as { supportedVersions: string[]; resultType: string };
    expect(result.supportedVersions).toContain('2026-07-28');
    expect(result.resultType).toBe('complete');
  }, 30_000);
});
