import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { POLICIES, SERVERS, eventually, nodeServer, textOf } from '../helpers/warden.js';
import {
  INITIALIZE,
  MCP_HEADERS,
  alive,
  connectHttp,
  rawRequest,
  startHttpWarden,
  type InProcessWarden,
} from '../helpers/http.js';

const faulty = (): Record<string, unknown> => nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG');

// The HTTP front end started in-process (real HTTP on 127.0.0.1:0) with auth none on loopback.
describe('HTTP front end: guards, limits and session handling', () => {
  let w: InProcessWarden;

  beforeAll(async () => {
    w = await startHttpWarden({
      mcpServers: { faulty: faulty() },
      policy: { bundle: join(POLICIES, 'core') },
      identity: { sub: 'local-dev', roles: ['owner'] },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  test.each([
    ['a foreign Host', { host: 'evil.example' }, /Host evil.example is not allowed/],
    ['a foreign Host on the right port', { host: 'evil.example:PORT' }, /Host evil.example:PORT is not allowed/],
    ['localhost on another port', { host: 'localhost:1' }, /Host localhost:1 is not allowed/],
    ['a foreign Origin', { origin: 'http://evil.example' }, /Origin http:\/\/evil.example is not allowed/],
    ['the null Origin', { origin: 'null' }, /Origin null is not allowed/],
  ])('403 for %s (DNS-rebinding protection), before the body is read', async (_name, headers, message) => {
    const port = new URL(w.url).port;
    const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', port)]));
    const res = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...h },
      body: INITIALIZE,
    });
    expect(res.status).toBe(403);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(
      new RegExp(message.source.replace('PORT', port)),
    );
    expect(w.front.sessionCount).toBe(0);
  });

  test('accepts localhost and 127.0.0.1 Hosts, and an allowed Origin with CORS headers', async () => {
    const port = new URL(w.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      expect((await rawRequest(`${w.url}/metrics`, { headers: { host } })).status).toBe(200);
    }
    const preflight = await rawRequest(`${w.url}/mcp`, {
      method: 'OPTIONS',
      headers: { origin: `http://localhost:${port}`, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(`http://localhost:${port}`);
    expect(preflight.headers['access-control-allow-headers']).toContain('Mcp-Session-Id');
  });

  test('probes answer whatever the Host (load balancers use the instance address)', async () => {
    expect((await rawRequest(`${w.url}/healthz`, { headers: { host: '10.1.2.3:8080' } })).status).toBe(200);
    const ready = await rawRequest(`${w.url}/readyz`, { headers: { host: '10.1.2.3:8080' } });
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ready',
      checks: {
        policy: { ok: true, detail: expect.stringMatching(/^sha256:/) },
        audit: { ok: true },
        downstream: { ok: true },
      },
    });
  });

  test('the 4 MB default body limit admits what express.json() alone would refuse (over 100 kB)', async () => {
    const { client, transport } = await connectHttp(w.url);
    try {
      const big = 'x'.repeat(300_000);
      const echo = await client.callTool({ name: 'echo', arguments: { message: big } });
      expect(textOf(echo)).toHaveLength(300_000);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  test('400 without a session id, 404 for an unknown one, 405 for other methods', async () => {
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    expect((await rawRequest(`${w.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: list })).status).toBe(400);
    expect((await rawRequest(`${w.url}/mcp`, { method: 'GET', headers: { accept: 'text/event-stream' } })).status).toBe(
      400,
    );
    const unknown = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': '00000000-0000-0000-0000-000000000000' },
      body: list,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: -32001, message: 'Session not found' } });
    const put = await rawRequest(`${w.url}/mcp`, { method: 'PUT', headers: MCP_HEADERS, body: list });
    expect(put.status).toBe(405);
    expect(put.headers['allow']).toBe('GET, POST, DELETE');
    expect(
      (await rawRequest(`${w.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: '{"jsonrpc":' })).status,
    ).toBe(400);
  });

  test('each MCP session has its own downstream process; DELETE ends it; the principal is the configured identity', async () => {
    const a = await connectHttp(w.url);
    const b = await connectHttp(w.url);
    try {
      const pidA = ((await a.client.callTool({ name: 'count', arguments: {} })).structuredContent as { pid: number })
        .pid;
      const pidB = ((await b.client.callTool({ name: 'count', arguments: {} })).structuredContent as { pid: number })
        .pid;
      expect(pidA).not.toBe(pidB);
      expect(w.front.sessionCount).toBe(2);
      await a.transport.terminateSession();
      expect(w.front.sessionCount).toBe(1);
      await eventually(() => !alive(pidA), 10_000);
      expect(alive(pidB)).toBe(true);
      const decision = await eventually(() =>
        w.decisions().find((d) => (d['input'] as { call: { name: string } }).call.name === 'count'),
      );
      expect((decision['input'] as { principal: unknown }).principal).toEqual({
        sub: 'local-dev',
        roles: ['owner'],
        claims: {},
      });
    } finally {
      await b.transport.terminateSession();
      await Promise.all([a.client.close(), b.client.close()]);
    }
  });
});

describe('HTTP front end: configured limits', () => {
  let w: InProcessWarden;

  beforeAll(async () => {
    w = await startHttpWarden({
      mcpServers: { faulty: faulty() },
      policy: { bundle: join(POLICIES, 'allow-all') },
      http: {
        bodyLimit: '2kb',
        idleTimeoutMs: 800,
        allowedHosts: ['warden.internal'],
        allowedOrigins: ['https://app.example.com'],
      },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  test('413 over http.bodyLimit', async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x'.repeat(3000), version: '1' } },
    });
    const res = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, host: 'warden.internal' },
      body,
    });
    expect(res.status).toBe(413);
    expect(res.json()).toMatchObject({ error: { message: 'request body is larger than http.bodyLimit (2048 bytes)' } });
  });

  test('configured allowedHosts and allowedOrigins replace the defaults', async () => {
    expect((await rawRequest(`${w.url}/metrics`, { headers: { host: 'warden.internal:9999' } })).status).toBe(200);
    expect((await rawRequest(`${w.url}/metrics`)).status).toBe(403);
    expect(
      (
        await rawRequest(`${w.url}/metrics`, {
          headers: { host: 'warden.internal', origin: 'https://app.example.com' },
        })
      ).status,
    ).toBe(200);
    expect(
      (await rawRequest(`${w.url}/metrics`, { headers: { host: 'warden.internal', origin: 'http://warden.internal' } }))
        .status,
    ).toBe(403);
  });

  test('an idle session is reaped with its downstream process; one with a request in flight is not', async () => {
    const busy = await rawInitialize(w.url);
    // Keep `busy` in flight past the idle timeout: a tool call that sleeps 2 s.
    const call = rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        host: 'warden.internal',
        'mcp-session-id': busy,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'sleep', arguments: { ms: 2000 } },
      }),
    });
    const idle = await rawInitialize(w.url);
    expect(w.front.sessionCount).toBe(2);
    await eventually(() => w.front.sessionCount === 1, 5000);
    const done = await call;
    expect(done.status).toBe(200);
    expect(done.body).toContain('slept 2000 ms');
    expect(await ping(w.url, idle)).toBe(404);
    await eventually(() => w.front.sessionCount === 0, 5000);
    expect(await ping(w.url, busy)).toBe(404);
  });

  test('reaping ends the downstream process', async () => {
    const id = await rawInitialize(w.url);
    const res = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, host: 'warden.internal', 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'count', arguments: {} } }),
    });
    const pid = Number(/"pid":(\d+)/.exec(res.body)?.[1]);
    expect(alive(pid)).toBe(true);
    await eventually(() => !alive(pid), 10_000);
    expect(w.front.sessionCount).toBe(0);
  });
});

/** Opens a session with raw requests (initialize + initialized) and returns its id. */
async function rawInitialize(url: string): Promise<string> {
  const headers = { ...MCP_HEADERS, host: 'warden.internal' };
  const init = await rawRequest(`${url}/mcp`, { method: 'POST', headers, body: INITIALIZE });
  expect(init.status).toBe(200);
  const id = init.headers['mcp-session-id'] as string;
  await rawRequest(`${url}/mcp`, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
    body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  });
  return id;
}

async function ping(url: string, id: string): Promise<number> {
  const res = await rawRequest(`${url}/mcp`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, host: 'warden.internal', 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
    body: '{"jsonrpc":"2.0","id":99,"method":"ping"}',
  });
  return res.status;
}
