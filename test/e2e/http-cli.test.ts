import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { POLICIES, SERVERS, eventually, nodeServer, textOf } from '../helpers/warden.js';
import {
  INITIALIZE,
  MCP_HEADERS,
  alive,
  connectHttp,
  rawRequest,
  runCli,
  spawnHttpWarden,
  writeWardenConfig,
  type SpawnedWarden,
} from '../helpers/http.js';

const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdef01';

// The built CLI, spawned as `warden serve --http 0` with bearer auth, in front of the recording
// fixture (faulty) and the same fixture started through a wrapper that leaves processes behind
// unless its whole process group is ended (as npx does).
describe('warden serve --http (spawned CLI)', () => {
  let w: SpawnedWarden;

  beforeAll(async () => {
    w = await spawnHttpWarden(
      {
        mcpServers: {
          faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG'),
          wrapped: {
            command: process.execPath,
            args: [join(SERVERS, 'wrapper.js')],
            env: { WARDEN_WRAPPER_PIDS: '$DIR/pids.json' },
            prefix: 'w_',
          },
        },
        policy: { bundle: join(POLICIES, 'core') },
        auth: {
          type: 'bearer',
          tokens: [
            { token: '${TOKEN_ALICE}', sub: 'alice', roles: ['developer'], claims: { team: 'payments' } },
            { token: '${TOKEN_BOB}', sub: 'bob', roles: ['viewer'] },
          ],
          authorizationServers: ['https://idp.example.com'],
        },
      },
      { env: { TOKEN_ALICE: ALICE, TOKEN_BOB: BOB } },
    );
  });
  afterAll(async () => {
    await w?.stop();
  });

  test('lists and calls tools over Streamable HTTP; a denied call never reaches the server; the principal is in input', async () => {
    const { client, transport } = await connectHttp(w.url, { token: ALICE });
    try {
      expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['echo', 'count', 'w_echo']));

      const echo = await client.callTool({ name: 'echo', arguments: { message: 'over http' } });
      expect(textOf(echo)).toBe('over http');
      expect(echo._meta).toEqual({ 'example.com/trace': 't-1' });

      const denied = await client.callTool({ name: 'echo', arguments: { message: 'forbidden' } });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toContain('core.no_forbidden_echo');
      expect(
        w
          .executed()
          .filter((c) => c.tool === 'echo')
          .map((c) => c.arguments['message']),
      ).toEqual(['over http']);

      const event = await eventually(() =>
        w
          .decisions()
          .find(
            (d) => (d['input'] as { call: { arguments: { message?: string } } }).call.arguments.message === 'over http',
          ),
      );
      expect((event['input'] as { principal: unknown }).principal).toEqual({
        sub: 'alice',
        roles: ['developer'],
        claims: { team: 'payments' },
      });
    } finally {
      await client.close();
    }
  });

  test('401 without a token, with a resource_metadata challenge; invalid_token with a wrong one', async () => {
    const none = await rawRequest(`${w.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="http://127.0.0.1:${w.port}/.well-known/oauth-protected-resource"`,
    );

    const wrong = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: 'Bearer not-a-known-token-xxxxxxxx' },
      body: INITIALIZE,
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(
      /^Bearer resource_metadata="[^"]+", error="invalid_token", error_description="[^"]+"$/,
    );
    expect(wrong.json()).toMatchObject({ error: 'invalid_token' });

    await expect(connectHttp(w.url, { token: 'not-a-known-token-xxxxxxxx' })).rejects.toThrow();
  });

  test('serves the protected-resource metadata (RFC 9728)', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const res = await rawRequest(`${w.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({
        resource: `http://127.0.0.1:${w.port}/mcp`,
        authorization_servers: ['https://idp.example.com'],
        bearer_methods_supported: ['header'],
        resource_name: 'mcp-warden',
      });
    }
  });

  test("another principal's token cannot use a session (404), its owner still can", async () => {
    const { client, transport } = await connectHttp(w.url, { token: ALICE });
    try {
      const hijack = await rawRequest(`${w.url}/mcp`, {
        method: 'POST',
        headers: {
          ...MCP_HEADERS,
          authorization: `Bearer ${BOB}`,
          'mcp-session-id': transport.sessionId!,
          'mcp-protocol-version': '2025-06-18',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
      });
      expect(hijack.status).toBe(404);
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  test('DELETE ends the session and every process of its downstream servers, wrapper grandchildren included', async () => {
    const { client, transport } = await connectHttp(w.url, { token: ALICE });
    const { pid } = (await client.callTool({ name: 'count', arguments: {} })).structuredContent as { pid: number };
    const pids = JSON.parse(readFileSync(join(w.dir, 'pids.json'), 'utf8')) as {
      wrapper: number;
      server: number;
      helper: number;
    };
    expect([pid, pids.wrapper, pids.server, pids.helper].every(alive)).toBe(true);

    await transport.terminateSession();
    await client.close();
    await eventually(() => ![pid, pids.wrapper, pids.server, pids.helper].some(alive), 10_000);
    const after = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${ALICE}`, 'mcp-session-id': transport.sessionId ?? 'x' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect(after.status).toBe(404);
  });

  test('/metrics reports decisions by result and rule, call latency, sessions and downstream health', async () => {
    const sessionsOpen = async (): Promise<number> =>
      Number(/^warden_sessions_open (\d+)$/m.exec((await rawRequest(`${w.url}/metrics`)).body)?.[1]);
    // Earlier tests' clients closed without DELETE (as SDK clients do): their sessions stay open until reaped.
    const before = await sessionsOpen();
    const { client, transport } = await connectHttp(w.url, { token: BOB });
    try {
      expect(await sessionsOpen()).toBe(before + 1);
      await client.callTool({ name: 'echo', arguments: { message: 'm1' } });
      await client.callTool({ name: 'echo', arguments: { message: 'forbidden' } });
      const text = (await rawRequest(`${w.url}/metrics`)).body;
      expect(text).toMatch(/^warden_decisions_total\{result="allow",rule=""\} \d+$/m);
      expect(text).toMatch(/^warden_decisions_total\{result="deny",rule="core.no_forbidden_echo"\} [1-9]\d*$/m);
      expect(text).toMatch(/^warden_decision_duration_seconds_count [1-9]\d*$/m);
      expect(text).toMatch(/^warden_call_duration_seconds_count\{server="faulty",outcome="success"\} [1-9]\d*$/m);
      expect(text).toMatch(/^warden_call_duration_seconds_count\{server="faulty",outcome="denied"\} [1-9]\d*$/m);
      expect(text).toMatch(/^warden_downstream_up\{server="faulty"\} 1$/m);
      expect(text).toMatch(/^warden_downstream_up\{server="wrapped"\} 1$/m);
      expect(text).toMatch(/^warden_http_auth_failures_total\{reason="missing_token"\} [1-9]\d*$/m);
      expect(text).toMatch(/^warden_process_resident_memory_bytes \d+/m);
      await transport.terminateSession();
      expect(await sessionsOpen()).toBe(before);
    } finally {
      await client.close();
    }
  });

  test('/healthz and /readyz', async () => {
    expect((await rawRequest(`${w.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await rawRequest(`${w.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ready',
      checks: { policy: { ok: true }, audit: { ok: true }, downstream: { ok: true } },
    });
  });

  test('SIGTERM closes open sessions and their downstream processes, then exits 0', async () => {
    const { client } = await connectHttp(w.url, { token: ALICE });
    const { pid } = (await client.callTool({ name: 'count', arguments: {} })).structuredContent as { pid: number };
    const pids = JSON.parse(readFileSync(join(w.dir, 'pids.json'), 'utf8')) as { helper: number };
    expect(await w.stop()).toBe(0);
    await eventually(() => !alive(pid) && !alive(pids.helper), 10_000);
    await client.close().catch(() => undefined);
    expect(w.stderr()).toContain('"why":"SIGTERM"');
  });
});

describe('warden serve --http refuses unsafe or invalid setups at start', () => {
  test('auth none on a non-loopback address: exit 2, says why and how to fix', async () => {
    const files = writeWardenConfig({
      mcpServers: { faulty: { command: process.execPath, args: [join(SERVERS, 'faulty.js')] } },
      policy: { bundle: join(POLICIES, 'allow-all') },
    });
    const { code, stderr } = await runCli(['serve', '--config', files.configPath, '--http', '0', '--host', '0.0.0.0']);
    expect(code).toBe(2);
    expect(stderr).toContain('refusing to serve HTTP on 0.0.0.0 without authentication');
    expect(stderr).toContain('Fix: bind a loopback address');
  });

  test('--host without --http, and a bad port', async () => {
    const a = await runCli(['serve', '--config', 'x.yaml', '--host', '127.0.0.1']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--host applies to --http only');
    const b = await runCli(['serve', '--config', 'x.yaml', '--http', 'eighty']);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toContain('must be a port number');
  });
});
