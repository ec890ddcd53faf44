// MCP 2026-07-28 (the stateless revision) on Warden's HTTP front: the v2 SDK client pinned to it and
// negotiating, raw requests for the wire rules (headers, envelope, error ids and statuses), and the
// history of stateless calls (the shipped workflows' scopes). The shipped policy decides, with the
// example CI server behind Warden over stdio; the handshake-era v1 client keeps working beside it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { textOf } from '../helpers/warden.js';
import { MCP_HEADERS, rawRequest, rpcMessage, startHttpWarden, type InProcessWarden } from '../helpers/http.js';
import { envelope, MODERN, modernPost } from '../helpers/modern.js';
import { PEOPLE, agent, shippedConfig, type Person } from '../http/admin-helpers.js';

let w: InProcessWarden;
beforeAll(async () => {
  w = await startHttpWarden(shippedConfig());
});
afterAll(async () => {
  await w?.close();
});

async function modernClient(
  who: Person,
  negotiation: 'auto' | { pin: string } = { pin: MODERN },
): Promise<{ client: Client; close(): Promise<void> }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${w.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${PEOPLE[who].token}` } },
  });
  const client = new Client({ name: `modern-${who}`, version: '2.4.0' }, { versionNegotiation: { mode: negotiation } });
  await client.connect(transport);
  return { client, close: () => client.close() };
}

function post(body: Record<string, unknown>, headers: Record<string, string> = {}, who: Person = 'alice') {
  return modernPost(w.url, PEOPLE[who].token, body, headers);
}

describe('MCP 2026-07-28 on the HTTP front', () => {
  test('a client pinned to 2026-07-28 discovers Warden, lists the tools and is governed by policy', async () => {
    const a = await modernClient('alice');
    try {
      const { tools } = await a.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['run_tests', 'deploy_to_production']));
      const denied = await a.client.callTool({ name: 'deploy_to_production', arguments: { service: 'svc-m' } });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toMatch(/run_tests/);
      const ran = await a.client.callTool({ name: 'run_tests', arguments: { service: 'svc-m' } });
      expect(ran.isError).toBeFalsy();
      expect(w.executed().map((c) => c.tool)).toContain('run_tests');
      expect(w.executed().map((c) => c.tool)).not.toContain('deploy_to_production');
    } finally {
      await a.close();
    }
  });

  test('a negotiating v2 client picks 2026-07-28; the v1 client still gets a handshake-era session', async () => {
    const modern = await modernClient('alice', 'auto');
    const legacy = await agent(w.url, 'alice');
    try {
      expect((await modern.client.listTools()).tools.length).toBeGreaterThan(0);
      expect((await legacy.client.listTools()).tools.length).toBeGreaterThan(0);
      expect(w.front.sessionCount).toBe(1);
    } finally {
      await modern.close();
      await legacy.close();
    }
  });

  test('server/discover names Warden, the revision and the aggregated capabilities', async () => {
    const res = await post({ id: 'd1', method: 'server/discover', params: { _meta: envelope() } });
    expect(res.status).toBe(200);
    const msg = rpcMessage(res);
    expect(msg['id']).toBe('d1');
    const result = msg['result'] as Record<string, unknown>;
    expect(result['supportedVersions']).toContain(MODERN);
    expect(result['resultType']).toBe('complete');
    expect(JSON.stringify(result)).toContain('mcp-warden');
    expect((result['capabilities'] as Record<string, unknown>)['tools']).toBeTruthy();
  });

  test('tools/list carries resultType, ttlMs 0 and a private cacheScope', async () => {
    const res = await post({ id: 2, method: 'tools/list', params: { _meta: envelope() } });
    const result = rpcMessage(res)['result'] as Record<string, unknown>;
    expect(result['resultType']).toBe('complete');
    expect(result['ttlMs']).toBe(0);
    expect(result['cacheScope']).toBe('private');
    expect((result['tools'] as unknown[]).length).toBeGreaterThan(0);
  });

  test.each([
    ['Mcp-Method disagrees with the body', { 'mcp-method': 'tools/list' }],
    ['Mcp-Name disagrees with the body', { 'mcp-name': 'deploy_to_production' }],
  ])('%s: refused with -32020 at HTTP 400, echoing the id, nothing runs', async (_name, headers) => {
    const before = w.executed().length;
    const res = await post(
      { id: 41, method: 'tools/call', params: { name: 'run_tests', arguments: { service: 'h' }, _meta: envelope() } },
      headers,
    );
    expect(res.status).toBe(400);
    const msg = rpcMessage(res);
    expect(msg['id']).toBe(41);
    expect((msg['error'] as { code: number }).code).toBe(-32020);
    expect(w.executed().length).toBe(before);
  });

  test('a missing Mcp-Method header is refused too', async () => {
    const res = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${PEOPLE.alice.token}`,
        'mcp-protocol-version': MODERN,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 42, method: 'tools/list', params: { _meta: envelope() } }),
    });
    expect(res.status).toBe(400);
    expect(rpcMessage(res)['id']).toBe(42);
  });

  test('an unknown method is -32601 at HTTP 404 with the request id', async () => {
    const res = await post({ id: 'u', method: 'nope/nothing', params: { _meta: envelope() } });
    expect(res.status).toBe(404);
    const msg = rpcMessage(res);
    expect(msg['id']).toBe('u');
    expect((msg['error'] as { code: number }).code).toBe(-32601);
  });

  test('stateless calls feed the shared history: a scan in another trace, by another principal, sees the tests', async () => {
    const trace = (n: string) => `00-${n.repeat(32)}-${'1'.repeat(16)}-01`;
    const call = (id: number, name: string, service: string, traceparent: string, who: Person = 'alice') =>
      post(
        {
          id,
          method: 'tools/call',
          params: { name, arguments: { service }, _meta: envelope({ traceparent }) },
        },
        {},
        who,
      ).then((r) => rpcMessage(r)['result'] as { isError?: boolean; content: { text: string }[] });
    expect((await call(1, 'run_tests', 'svc-t', trace('a'))).isError).toBeFalsy();
    // production_deployment is a global workflow correlated by service (docs/policies.md).
    expect((await call(2, 'security_scan', 'svc-t', trace('b'), 'carol')).isError).toBeFalsy();
    const untested = await call(3, 'security_scan', 'svc-u', trace('a'));
    expect(untested.isError).toBe(true);
    expect(untested.content[0]!.text).toMatch(/run_tests must succeed for service=svc-u/);
    const decisions = w.decisions().filter((d) => (d['input'] as { call?: { name?: string } }).call?.name);
    const last = decisions.at(-1)!['input'] as { call: Record<string, unknown> };
    expect(last.call['protocol_version']).toBe(MODERN);
    expect(last.call['traceparent']).toBe(trace('a'));
  });

  test('new trace ids cannot open scopes past http.maxSessionsPerPrincipal (each one runs every stdio server)', async () => {
    const capped = await startHttpWarden({ ...shippedConfig(), http: { maxSessionsPerPrincipal: 2 } });
    try {
      const list = (n: number) =>
        rawRequest(`${capped.url}/mcp`, {
          method: 'POST',
          headers: {
            ...MCP_HEADERS,
            authorization: `Bearer ${PEOPLE.alice.token}`,
            'mcp-protocol-version': MODERN,
            'mcp-method': 'tools/list',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: n,
            method: 'tools/list',
            params: {
              _meta: envelope({ traceparent: `00-${String(n).repeat(32).slice(0, 32)}-${'1'.repeat(16)}-01` }),
            },
          }),
        });
      expect((await list(1)).status).toBe(200);
      expect((await list(2)).status).toBe(200);
      const third = await list(3);
      expect(third.status).toBe(429);
      expect(rpcMessage(third)['id']).toBe(3);
      expect(JSON.stringify(rpcMessage(third)['error'])).toMatch(/http.maxSessionsPerPrincipal/);
      // An open scope is still served.
      expect((await list(1)).status).toBe(200);
    } finally {
      await capped.close();
    }
  });
});
