import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { MCP_HEADERS, connectHttp, rawRequest, spawnHttpWarden, writeWardenConfig } from '../helpers/http.js';
import type { WardenFiles } from '../helpers/http.js';
import {
  CLI,
  POLICIES,
  SERVERS,
  WARDEN_NODE,
  nodeServer,
  readJsonl,
  startWarden,
  textOf,
  wardenEnv,
} from '../helpers/warden.js';
import type { RunningWarden } from '../helpers/warden.js';

// Issue 11, break 6: arguments nested about 2,000 deep overflowed the recursive canonicalisation,
// so with audit.onFailure allow the call ran with no call.received record, and with deny it left
// no record at all. Now arguments over limits.argumentsMaxDepth / argumentsMaxBytes are denied
// before the policy runs, the attempt is recorded with a summary in place of the arguments, the
// chain verifies, and Warden keeps serving. Policy: allow-all, so only the limit can deny.

const config = (onFailure: 'deny' | 'allow', extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
  policy: { bundle: join(POLICIES, 'allow-all') },
  // Relative to the config file: the test's own directory.
  audit: { store: 'sqlite:./audit.db', onFailure },
  ...extra,
});

/** Echo arguments nested `depth` levels deep ({} is 1), as JSON text, built without recursion. */
function deepArguments(depth: number): string {
  return `{"message":"deep","nest":${'{"a":'.repeat(depth - 1)}1${'}'.repeat(depth - 1)}}`;
}

type AuditRow = { seq: number; type: string; session_id: string; data: Record<string, unknown> };

/** The files of a Warden started with startWarden, for the checks below. */
const filesOf = (w: RunningWarden): WardenFiles => ({
  dir: w.dir,
  configPath: w.configPath,
  callLog: '',
  decisionLog: '',
  executed: w.executed,
  decisions: w.decisions,
});

/** The trail as `warden audit export` prints it, and whether `warden audit verify` accepts it. */
function readTrail(files: WardenFiles): { records: AuditRow[]; verify: { status: number | null; stdout: string } } {
  const store = `sqlite:${join(files.dir, 'audit.db')}`;
  const run = (args: string[]) =>
    spawnSync(process.execPath, [CLI, 'audit', ...args, '--store', store], { encoding: 'utf8', timeout: 60_000 });
  const exported = run(['export']);
  expect(exported.status, exported.stderr).toBe(0);
  const verify = run(['verify']);
  return {
    records: exported.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRow),
    verify: { status: verify.status, stdout: verify.stdout + verify.stderr },
  };
}

/** What the trail and the decision log must say about one refused call and one normal call after it. */
function expectRefusedThenServed(files: WardenFiles, rule: string, depth: number, bytes: number): void {
  const { records, verify } = readTrail(files);
  expect(verify.status, verify.stdout).toBe(0);
  expect(verify.stdout).toMatch(/^ok: \d+ records verified/m);
  const received = records.filter((r) => r.type === 'call.received');
  expect(received).toHaveLength(2);
  const [refused, served] = received;
  const digest = expect.stringMatching(/^sha256:[0-9a-f]{64}$/);
  expect(refused!.data).toMatchObject({ name: 'echo', arguments_refused: { depth, bytes, digest } });
  expect(refused!.data.arguments).toEqual({}); // never the arguments themselves
  const callId = refused!.data['call_id'];
  const ofRefused = records.filter((r) => r.data['call_id'] === callId).map((r) => r.type);
  expect(ofRefused).toEqual(['call.received', 'call.decided']);
  expect(records.find((r) => r.type === 'call.decided' && r.data['call_id'] === callId)!.data).toMatchObject({
    allow: false,
    refused: rule,
    reasons: [{ rule }],
  });
  expect(served!.data).toMatchObject({ name: 'echo', arguments: { message: 'after' } });
  const completed = records.find((r) => r.type === 'call.completed' && r.data['call_id'] === served!.data['call_id']);
  expect(completed!.data).toMatchObject({ outcome: 'success' });
  // The server only ever ran the call after.
  expect(files.executed().map((c) => c.arguments['message'])).toEqual(['after']);
  const denial = files.decisions().find((d) => (d['custom'] as { allow: boolean }).allow === false)!;
  expect(denial).toMatchObject({ input: { call: { name: 'echo', arguments: {} } }, custom: { reasons: [{ rule }] } });
}

/**
 * A raw JSON-RPC client over the stdio of a real `warden serve`: the SDK client serialises with
 * JSON.stringify, which cannot write arguments 100,000 levels deep, but a hostile client can.
 */
async function rawStdioWarden(files: WardenFiles): Promise<{
  request(id: number, method: string, paramsJson: string): Promise<Record<string, unknown>>;
  close(): Promise<number | null>;
  stderr(): string;
}> {
  const child = spawn(WARDEN_NODE, [CLI, 'serve', '--config', files.configPath], {
    env: wardenEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let cut = buffer.indexOf('\n'); cut >= 0; cut = buffer.indexOf('\n')) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 1);
      if (!line.trim()) continue;
      const message = JSON.parse(line) as Record<string, unknown>;
      if (typeof message['id'] === 'number' && !('method' in message)) waiting.get(message['id'])?.(message);
    }
  });
  const request = (id: number, method: string, paramsJson: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const fail = (): void => reject(new Error(`no answer to ${method} (${id})\n--- stderr ---\n${stderr}`));
      const timer = setTimeout(fail, 30_000);
      waiting.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      child.stdin.write(`{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${paramsJson}}\n`);
    });
  const initialize = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } };
  await request(0, 'initialize', JSON.stringify(initialize));
  child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  return {
    request,
    close: () => {
      child.stdin.end();
      return exited;
    },
    stderr: () => stderr,
  };
}

describe.each(['deny', 'allow'] as const)('arguments nested too deep, audit.onFailure %s (stdio)', (onFailure) => {
  test('depth 2,000 from the SDK client: denied, recorded, the chain verifies, Warden keeps serving', async () => {
    const w = await startWarden(config(onFailure));
    let files: WardenFiles | undefined;
    try {
      const args = JSON.parse(deepArguments(2000)) as Record<string, unknown>;
      const denied = await w.client.callTool({ name: 'echo', arguments: args });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toContain('nested 2000 levels deep; Warden accepts at most 64 (limits.argumentsMaxDepth)');
      expect(textOf(denied)).toContain('[warden.arguments_too_deep]');
      const after = await w.client.callTool({ name: 'echo', arguments: { message: 'after' } });
      expect(textOf(after)).toBe('after');
      files = filesOf(w);
    } finally {
      await w.close();
    }
    expectRefusedThenServed(files, 'warden.arguments_too_deep', 2000, deepArguments(2000).length);
  });

  test('depth 100,000 as raw JSON-RPC: denied, recorded, the chain verifies, Warden keeps serving', async () => {
    const files = writeWardenConfig(config(onFailure), 'limits');
    const raw = await rawStdioWarden(files);
    let code: number | null;
    try {
      const args = deepArguments(100_000);
      const denied = await raw.request(1, 'tools/call', `{"name":"echo","arguments":${args}}`);
      expect(denied['error'], raw.stderr()).toBeUndefined();
      const result = denied['result'] as { isError?: boolean };
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain('nested 100000 levels deep; Warden accepts at most 64');
      const after = await raw.request(2, 'tools/call', '{"name":"echo","arguments":{"message":"after"}}');
      expect(textOf(after['result'])).toBe('after');
    } finally {
      code = await raw.close();
    }
    expect(code, raw.stderr()).toBe(0);
    expect(raw.stderr()).not.toMatch(/RangeError|Maximum call stack/);
    expectRefusedThenServed(files, 'warden.arguments_too_deep', 100_000, deepArguments(100_000).length);
  });
});

test('limits from the config: arguments over limits.argumentsMaxBytes are denied as too large, recorded', async () => {
  const w = await startWarden(config('deny', { limits: { argumentsMaxBytes: '64kb', argumentsMaxDepth: 8 } }));
  let files: WardenFiles | undefined;
  const message = 'x'.repeat(70_000);
  try {
    const denied = await w.client.callTool({ name: 'echo', arguments: { message } });
    expect(textOf(denied)).toContain('70014 bytes as JSON; Warden accepts at most 65536 (limits.argumentsMaxBytes)');
    const nine = { message: 'x', a: { b: { c: { d: { e: { f: { g: { h: {} } } } } } } } };
    const tooDeep = await w.client.callTool({ name: 'echo', arguments: nine });
    expect(textOf(tooDeep)).toContain('nested 9 levels deep; Warden accepts at most 8 (limits.argumentsMaxDepth)');
    expect(textOf(tooDeep)).toMatch(/limits\.argumentsMaxDepth in the Warden config\. \[warden\.arguments_too_deep]/);
    expect(textOf(await w.client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('after');
    files = filesOf(w);
  } finally {
    await w.close();
  }
  const { records, verify } = readTrail(files);
  expect(verify.status, verify.stdout).toBe(0);
  const refused = records.filter((r) => r.type === 'call.received' && r.data['arguments_refused']);
  expect(refused.map((r) => r.data['arguments_refused'])).toMatchObject([
    { bytes: 70_014, max_bytes: 65_536, max_depth: 8 },
    { depth: 9, max_depth: 8 },
  ]);
  // The 70 kB never reached the trail or the decision log.
  expect(JSON.stringify(records)).not.toContain(message);
  expect(readJsonl(join(files.dir, 'decisions.jsonl')).some((d) => JSON.stringify(d).includes(message))).toBe(false);
});

test('over HTTP: depth 100,000 in one POST is denied and recorded; /healthz and the session still answer', async () => {
  const w = await spawnHttpWarden(config('allow'));
  try {
    const { client, transport } = await connectHttp(w.url);
    const headers = { ...MCP_HEADERS, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' };
    const params = `{"name":"echo","arguments":${deepArguments(100_000)}}`;
    const body = `{"jsonrpc":"2.0","id":77,"method":"tools/call","params":${params}}`;
    const res = await rawRequest(`${w.url}/mcp`, { method: 'POST', headers, body });
    expect(res.status, res.body.slice(0, 500)).toBe(200);
    const data = res.body.split('\n').find((l) => l.startsWith('data: '));
    const answer = JSON.parse(data ? data.slice(6) : res.body) as { id: number; result: { isError: boolean } };
    expect(answer.id).toBe(77);
    expect(answer.result.isError).toBe(true);
    expect(textOf(answer.result)).toContain('[warden.arguments_too_deep]');
    expect((await rawRequest(`${w.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('after');
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  } finally {
    expect(await w.stop()).toBe(0);
  }
  expect(w.stderr()).not.toMatch(/RangeError|Maximum call stack/);
  expectRefusedThenServed(w, 'warden.arguments_too_deep', 100_000, deepArguments(100_000).length);
});
