import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { POLICIES, SERVERS, nodeServer, textOf } from '../helpers/warden.js';
import { MCP_HEADERS, connectHttp, rawRequest, startHttpWarden, type InProcessWarden } from '../helpers/http.js';

const TOKENS = { alice: 'alice-token-0123456789', bob: 'bob-token-0123456789ab', carol: 'carol-token-0123456789' };
type Who = keyof typeof TOKENS;

const initialize = (id: string): string =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });

async function rawInitialize(url: string, who: Who, id: string) {
  const headers = { ...MCP_HEADERS, authorization: `Bearer ${TOKENS[who]}` };
  return rawRequest(`${url}/mcp`, { method: 'POST', headers, body: initialize(id) });
}

async function rawDelete(url: string, who: Who, sessionId: string): Promise<number> {
  const headers = {
    authorization: `Bearer ${TOKENS[who]}`,
    'mcp-session-id': sessionId,
    'mcp-protocol-version': '2025-06-18',
  };
  return (await rawRequest(`${url}/mcp`, { method: 'DELETE', headers })).status;
}

const refusedCount = (metrics: string, reason: string): number =>
  Number(new RegExp(`^warden_sessions_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);

// A real HTTP front (in-process, 127.0.0.1) with small caps: 2 sessions per principal, 4 in all.
describe('HTTP front end: session caps per principal and in total', () => {
  let w: InProcessWarden;

  beforeAll(async () => {
    w = await startHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
      auth: { type: 'bearer', tokens: Object.entries(TOKENS).map(([sub, token]) => ({ token, sub })) },
      http: { maxSessionsPerPrincipal: 2, maxSessions: 4 },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  test('a burst of initializes from one principal opens only its cap; the rest get 429 with their own id', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const answers = await Promise.all(ids.map((id) => rawInitialize(w.url, 'carol', `burst-${id}`)));
    const opened = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    expect(opened).toHaveLength(2);
    expect(refused).toHaveLength(4);
    expect(w.front.sessionCount).toBe(2);
    for (const r of refused) {
      const body = r.json<{ id: string; error: { code: number; message: string; data: unknown } }>();
      expect(body.id).toMatch(/^burst-[a-f]$/);
      const { message, ...rest } = body.error;
      const data = { reason: 'per_principal', limit: 2, config_key: 'http.maxSessionsPerPrincipal' };
      expect(rest).toEqual({ code: -32000, data });
      expect(message).toContain('carol already has 2 open MCP sessions, the most http.maxSessionsPerPrincipal');
      expect(message).toContain('allows (2). Fix: end sessions no longer in use (DELETE /mcp with their');
      expect(message).toContain('Mcp-Session-Id; SDK clients: transport.terminateSession()), or wait until idle ones');
      expect(message).toContain('are closed (after http.idleTimeoutMs, 1800000 ms without a request)');
    }
    for (const r of opened) expect(await rawDelete(w.url, 'carol', r.headers['mcp-session-id'] as string)).toBe(200);
    expect(w.front.sessionCount).toBe(0);
  });

  test('SDK clients: the cap+1th is refused, DELETE frees a slot, another principal still gets in', async () => {
    const a1 = await connectHttp(w.url, { token: TOKENS.alice });
    const a2 = await connectHttp(w.url, { token: TOKENS.alice });
    const sessions = [a1, a2];
    try {
      const refused = connectHttp(w.url, { token: TOKENS.alice });
      await expect(refused).rejects.toThrow(/http\.maxSessionsPerPrincipal allows \(2\)/);
      const b1 = await connectHttp(w.url, { token: TOKENS.bob });
      sessions.push(b1);
      expect(textOf(await b1.client.callTool({ name: 'echo', arguments: { message: 'bob is in' } }))).toBe('bob is in');
      expect(w.front.sessionCount).toBe(3);

      await a1.transport.terminateSession();
      const a3 = await connectHttp(w.url, { token: TOKENS.alice });
      sessions.push(a3);
      const again = await a3.client.callTool({ name: 'echo', arguments: { message: 'alice again' } });
      expect(textOf(again)).toBe('alice again');
      // The refused client's session never opened: alice holds a2 and a3, bob b1.
      expect(w.front.sessionCount).toBe(3);

      // The fourth session fills Warden: a principal under its own cap is refused with 503.
      sessions.push(await connectHttp(w.url, { token: TOKENS.bob }));
      const full = await rawInitialize(w.url, 'carol', 'full-1');
      expect(full.status).toBe(503);
      expect(full.json()).toEqual({
        jsonrpc: '2.0',
        id: 'full-1',
        error: {
          code: -32000,
          message: expect.stringMatching(
            /^Warden has 4 open MCP sessions, the most http\.maxSessions allows \(4\)\. Fix: try again/,
          ),
          data: { reason: 'total', limit: 4, config_key: 'http.maxSessions' },
        },
      });
    } finally {
      for (const s of sessions) {
        await s.transport.terminateSession().catch(() => undefined);
        await s.client.close();
      }
    }
    expect(w.front.sessionCount).toBe(0);
  });

  test('warden_sessions_refused_total counts each refusal by reason', async () => {
    const metrics = (await rawRequest(`${w.url}/metrics`)).body;
    expect(refusedCount(metrics, 'per_principal')).toBe(5);
    expect(refusedCount(metrics, 'total')).toBe(1);
  });
});
