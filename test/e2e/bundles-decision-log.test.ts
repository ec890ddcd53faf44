import { afterEach, describe, expect, test } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DecisionLogUploader, openAuditStore, type DecisionLogEvent } from '../../src/audit/index.js';
import { POLICIES, SERVERS, nodeServer, startWarden, type RunningWarden } from '../helpers/warden.js';
import { until } from '../policy/bundle-helpers.js';

/** An OPA-compatible decision log collector on 127.0.0.1: gunzips each POST and keeps the records. */
class Collector {
  private server: Server | null = null;
  readonly batches: {
    encoding: string | undefined;
    type: string | undefined;
    auth: string | undefined;
    records: DecisionLogEvent[];
  }[] = [];
  /** While > 0, answer 503 and count down. */
  failNext = 0;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/logs`;
  }

  get records(): DecisionLogEvent[] {
    return this.batches.flatMap((b) => b.records);
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.failNext > 0) {
          this.failNext--;
          res.writeHead(503).end();
          return;
        }
        const body = Buffer.concat(chunks);
        const records = JSON.parse(
          (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8'),
        ) as DecisionLogEvent[];
        this.batches.push({
          encoding: req.headers['content-encoding'],
          type: req.headers['content-type'],
          auth: req.headers['authorization'] as string | undefined,
          records,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

const event = (i: number): DecisionLogEvent => ({
  decision_id: `d-${i}`,
  path: 'mcp/decision',
  input: { i },
  result: { allow: true },
  bundles: { policy: { revision: 'r1' } },
  timestamp: new Date().toISOString(),
  metrics: {},
  labels: { id: 'test', version: '0' },
});

const collectors: Collector[] = [];
const uploaders: DecisionLogUploader[] = [];
let running: RunningWarden | null = null;
afterEach(async () => {
  await running?.close();
  running = null;
  for (const u of uploaders.splice(0)) await u.close(200);
  for (const c of collectors.splice(0)) await c.stop();
});

async function collector(): Promise<Collector> {
  const c = new Collector();
  collectors.push(c);
  await c.start();
  return c;
}

function uploader(
  url: string,
  extra: Partial<ConstructorParameters<typeof DecisionLogUploader>[0]> = {},
): DecisionLogUploader {
  const u = new DecisionLogUploader({
    url,
    minDelayMs: 30,
    maxDelayMs: 100,
    maxBufferRecords: 1000,
    timeoutMs: 2000,
    ...extra,
  });
  uploaders.push(u);
  return u;
}

describe('decision log upload (OPA decision log API)', () => {
  test('gzipped JSON array POSTs with the configured headers, in order', async () => {
    const c = await collector();
    const u = uploader(c.url, { headers: { Authorization: 'Bearer t0ken' }, maxBatchRecords: 20 });
    for (let i = 0; i < 50; i++) u.push(event(i));
    await until(() => c.records.length === 50, 5000, 'all records');
    expect(c.records.map((r) => r.decision_id)).toEqual(Array.from({ length: 50 }, (_, i) => `d-${i}`));
    expect(
      c.batches.every((b) => b.encoding === 'gzip' && b.type === 'application/json' && b.auth === 'Bearer t0ken'),
    ).toBe(true);
    expect(Math.max(...c.batches.map((b) => b.records.length))).toBeLessThanOrEqual(20);
    // The collector has the records before the uploader has read its answer: wait for both.
    await until(() => u.stats().uploaded === 50, 5000, 'the uploader to count its uploads');
    expect(u.stats()).toMatchObject({ buffered: 0, uploaded: 50, dropped: 0 });
  });

  test('collector briefly down (503s, then connection refused): retried with backoff, nothing lost', async () => {
    const c = await collector();
    const u = uploader(c.url);
    c.failNext = 3;
    for (let i = 0; i < 10; i++) u.push(event(i));
    await until(() => c.records.length === 10, 5000, 'after 503s');
    expect(u.stats().failed_requests).toBeGreaterThanOrEqual(3);

    const port = c.port;
    await c.stop();
    for (let i = 10; i < 30; i++) {
      u.push(event(i));
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(u.stats().last_error).toMatch(/fetch failed|ECONNREFUSED|collector/);
    const back = new Collector();
    collectors.push(back);
    await back.start(port);
    await until(() => back.records.length === 20, 8000, 'after the collector came back');
    const ids = [...c.records, ...back.records].map((r) => r.decision_id);
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: 30 }, (_, i) => `d-${i}`)));
    await until(
      () => u.stats().last_error === null && u.stats().buffered === 0,
      5000,
      'the uploader to see its upload accepted',
    );
    expect(u.stats()).toMatchObject({ buffered: 0, dropped: 0, last_error: null });
  });

  test('the buffer is bounded: the oldest records are dropped and counted', async () => {
    const c = await collector();
    c.failNext = 1_000_000;
    const u = uploader(c.url, { maxBufferRecords: 10 });
    for (let i = 0; i < 25; i++) u.push(event(i));
    expect(u.stats()).toMatchObject({ buffered: 10, dropped: 15 });
    c.failNext = 0;
    await until(() => c.records.length === 10, 5000, 'the kept records');
    expect(c.records.map((r) => r.decision_id)).toEqual(Array.from({ length: 10 }, (_, i) => `d-${i + 15}`));
  });

  test('through Warden: every decision shipped, masked before shipping, flushed at shutdown', async () => {
    const c = await collector();
    running = await startWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
      audit: { redact: ['password'] },
      decisionLogs: { service: { url: c.url, minDelayMs: 50, maxDelayMs: 100, headers: { 'X-Collector-Key': 'k' } } },
    });
    const w = running;
    for (let i = 0; i < 5; i++)
      await w.client.callTool({ name: 'echo', arguments: { message: `m${i}`, password: 'hunter2' } });
    await until(() => c.records.length >= 3, 5000, 'periodic uploads');
    await w.client.callTool({ name: 'echo', arguments: { message: 'last', password: 'hunter2' } });
    await w.close();
    running = null;
    // Shutdown flushed the rest; the collector holds exactly the decisions of the audit trail.
    await until(() => c.records.length === 6, 5000, 'final flush');
    const store = await openAuditStore(`sqlite:${join(w.dir, 'data/audit.db')}`, { readOnly: true });
    const decided = (await store.read({})).filter((r) => r.type === 'call.decided').map((r) => r.data['decision_id']);
    await store.close();
    expect(c.records.map((r) => r.decision_id)).toEqual(decided);
    const shipped = JSON.stringify(c.records);
    expect(shipped).not.toContain('hunter2');
    expect((c.records[0]!.input as { call: { arguments: { password: string } } }).call.arguments.password).not.toBe(
      'hunter2',
    );
    expect(c.records[0]).toMatchObject({
      path: 'mcp/decision',
      bundles: { policy: { revision: expect.stringMatching(/^sha256:/) } },
    });
  });
});
