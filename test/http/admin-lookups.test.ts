import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { POLICIES, SERVERS, nodeServer } from '../helpers/warden.js';
import { connectHttp, rawRequest, startHttpWarden, type InProcessWarden } from '../helpers/http.js';

// Query values used as keys must find only what Warden defined, never Object.prototype's members
// (a `bucket=constructor` once reached the compliance computation as a function: 500).
const BUCKET_NAMES = '1m, 5m, 15m, 1h, 6h, 1d, 7d';

describe('admin API: lookups keyed by the query string, and error bodies (through the real HTTP front)', () => {
  let w: InProcessWarden;

  beforeAll(async () => {
    // auth none on loopback: the local user is an admin.
    w = await startHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
    });
    // One session with a call, so the compliance report has something to fold into buckets.
    const { client, transport } = await connectHttp(w.url);
    await client.callTool({ name: 'echo', arguments: { message: 'for the report' } });
    await transport.terminateSession();
    await client.close();
  });
  afterAll(async () => {
    await w?.close();
  });

  test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '3m'])(
    'GET /admin/compliance?bucket=%s is 400 naming the buckets',
    async (bucket) => {
      const res = await rawRequest(w.url, { path: `/admin/compliance?bucket=${encodeURIComponent(bucket)}` });
      expect(res.status).toBe(400);
      expect(res.json()).toEqual({
        error: 'bad_request',
        error_description: `bucket must be one of ${BUCKET_NAMES} (or left out to fit the range), not "${bucket}"`,
      });
    },
  );

  test.each([
    ['1h', 3_600_000],
    ['7d', 604_800_000],
  ])('GET /admin/compliance?bucket=%s answers in %s ms buckets', async (bucket, ms) => {
    const res = await rawRequest(w.url, { path: `/admin/compliance?bucket=${bucket}` });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ range: { bucket_ms: ms } });
  });

  // The error bodies, byte for byte: clients and the dashboard read `error` as a stable code.
  const ANSWERS: Record<string, { body: string; status: number; text: string }> = {
    'not JSON': {
      body: '{"approve": tru',
      status: 400,
      text: '{"error":"bad_request","error_description":"the body is not valid JSON"}',
    },
    'over 64 kB': {
      body: JSON.stringify({ approve: 'x'.repeat(70_000) }),
      status: 413,
      text: '{"error":"too_large","error_description":"the body is larger than 64 kB"}',
    },
    'for no pending approval': {
      body: '{"approve": true}',
      status: 404,
      text:
        '{"error":"approval_not_found",' +
        '"error_description":"no pending approval nope (it may have been answered, timed out or cancelled, ' +
        'or be older than approval.retryWithinMs)"}',
    },
  };
  test.each(Object.entries(ANSWERS))('POST /admin/approvals/nope with a body %s', async (_case, answer) => {
    const headers = { 'Content-Type': 'application/json' };
    const res = await rawRequest(w.url, { method: 'POST', path: '/admin/approvals/nope', headers, body: answer.body });
    expect(res.status).toBe(answer.status);
    expect(res.body).toBe(answer.text);
  });

  test('an unknown admin endpoint is 404 not_found', async () => {
    const res = await rawRequest(w.url, { path: '/admin/nowhere' });
    expect(res.status).toBe(404);
    expect(res.body).toBe('{"error":"not_found","error_description":"no such admin endpoint; see docs/admin-api.md"}');
  });
});
