import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CLI,
  POLICIES,
  SERVERS,
  eventually,
  nodeServer,
  startWarden,
  textOf,
  type RunningWarden,
} from '../helpers/warden.js';

// A real Warden (stdio) exporting to a minimal OTLP/HTTP receiver: the JS exporter posts OTLP's
// JSON encoding (hex ids) to /v1/traces. Policy: test/fixtures/policies/core (echo "forbidden" is denied).

interface OtlpValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  arrayValue?: { values?: OtlpValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: OtlpValue }[];
}
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  attributes: Record<string, unknown>;
  service: unknown;
}

function plain(value: OtlpValue): unknown {
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(plain);
  return value.stringValue ?? value.boolValue ?? value.intValue;
}

/** An OTLP/HTTP receiver on 127.0.0.1 that keeps every span it is sent, with its service.name. */
/** One exported data point of a metric: its attributes, and its value (sums, gauges) or count (histograms). */
interface ExportedPoint {
  attributes: Record<string, unknown>;
  value?: number;
  count?: number;
}

async function startReceiver(): Promise<{
  url: string;
  spans: ExportedSpan[];
  metrics: Map<string, ExportedPoint[]>;
  posts: () => number;
  close(): void;
}> {
  const spans: ExportedSpan[] = [];
  const metrics = new Map<string, ExportedPoint[]>();
  let posts = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      posts++;
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const doc = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: OtlpValue }[] };
            scopeSpans: { spans: OtlpSpan[] }[];
          }[];
        };
        for (const rs of doc.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value;
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans)
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId || undefined,
                name: s.name,
                attributes: Object.fromEntries(s.attributes.map((a) => [a.key, plain(a.value)])),
                service: service && plain(service),
              });
        }
      }
      if (req.method === 'POST' && req.url === '/v1/metrics') {
        type Point = {
          attributes?: { key: string; value: OtlpValue }[];
          asInt?: string | number;
          asDouble?: number;
          count?: string | number;
        };
        type Metric = {
          name: string;
          sum?: { dataPoints: Point[] };
          gauge?: { dataPoints: Point[] };
          histogram?: { dataPoints: Point[] };
        };
        const doc = JSON.parse(body) as { resourceMetrics: { scopeMetrics: { metrics: Metric[] }[] }[] };
        for (const metric of doc.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))) {
          const points = (metric.sum ?? metric.gauge ?? metric.histogram)?.dataPoints ?? [];
          // Cumulative: the latest export holds the totals.
          metrics.set(
            metric.name,
            points.map((p) => ({
              attributes: Object.fromEntries((p.attributes ?? []).map((a) => [a.key, plain(a.value)])),
              ...(p.asInt !== undefined || p.asDouble !== undefined ? { value: Number(p.asInt ?? p.asDouble) } : {}),
              ...(p.count !== undefined ? { count: Number(p.count) } : {}),
            })),
          );
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, metrics, posts: () => posts, close: () => server.close() };
}

function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** The call.received records of the trail, as `warden audit export` prints them. */
function receivedRecords(w: RunningWarden): Record<string, unknown>[] {
  const out = spawnSync(process.execPath, [CLI, 'audit', 'export', '--store', `sqlite:${join(w.dir, 'audit.db')}`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(out.status, out.stderr).toBe(0);
  return out.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> })
    .filter((r) => r.type === 'call.received')
    .map((r) => r.data);
}

const CONFIG = {
  mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
  policy: { bundle: join(POLICIES, 'core') },
  identity: { sub: 'alice', roles: ['developer'], claims: { scope: 'repo:read tools:call' } },
};

describe('OpenTelemetry: a span per call, exported over OTLP/HTTP (telemetry.otlp)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let w: RunningWarden;
  const allowed = traceparent();
  const denied = traceparent();

  beforeAll(async () => {
    receiver = await startReceiver();
    w = await startWarden({
      ...CONFIG,
      telemetry: { serviceName: 'warden-e2e', otlp: { endpoint: receiver.url } },
    });
    const ok = await w.client.callTool({
      name: 'echo',
      arguments: { message: 'hello' },
      _meta: { traceparent: allowed.header },
    });
    expect(textOf(ok)).toBe('hello');
    const no = await w.client.callTool({
      name: 'echo',
      arguments: { message: 'forbidden' },
      _meta: { traceparent: denied.header },
    });
    expect(no.isError).toBe(true);
    await w.client.callTool({ name: 'echo', arguments: { message: 'untraced by the client' } });
    // Spans are batched: closing Warden flushes them.
    await w.close();
    await eventually(() => receiver.spans.filter((s) => s.name.startsWith('tools/call')).length >= 3, 10_000);
  });
  afterAll(async () => {
    await w?.close();
    receiver?.close();
  });

  const callSpanOf = (traceId: string): ExportedSpan => {
    const spans = receiver.spans.filter((s) => s.traceId === traceId && s.name.startsWith('tools/call'));
    expect(spans).toHaveLength(1);
    return spans[0]!;
  };
  const childrenOf = (span: ExportedSpan): ExportedSpan[] =>
    receiver.spans.filter((s) => s.parentSpanId === span.spanId);

  test("an allowed call's span continues the client's trace, with policy, audit and downstream steps under it", () => {
    const call = callSpanOf(allowed.traceId);
    expect(call.parentSpanId).toBe(allowed.spanId);
    expect(call.name).toBe('tools/call echo');
    expect(call.service).toBe('warden-e2e');
    const revision = Object.values(w.decisions()[0]!['bundles'] as Record<string, { revision: string }>)[0]!.revision;
    expect(revision).toBeTruthy();
    expect(call.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'warden.call.name': 'echo',
      'gen_ai.tool.name': 'echo',
      'warden.server': 'faulty',
      'warden.decision': 'allow',
      'warden.rules': [],
      'warden.policy.revision': revision,
      'warden.principal.scopes': ['repo:read', 'tools:call'],
      'warden.outcome': 'success',
    });
    const names = childrenOf(call).map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'warden.policy',
        'warden.audit call.received',
        'warden.audit call.decided',
        'warden.audit call.forwarded',
        'warden.audit call.completed',
        'warden.downstream',
      ]),
    );
    expect(childrenOf(call).every((s) => s.traceId === allowed.traceId)).toBe(true);
  });

  test("the downstream server gets the downstream span's traceparent in _meta", () => {
    const call = callSpanOf(allowed.traceId);
    const downstream = childrenOf(call).find((s) => s.name === 'warden.downstream')!;
    const executed = w.executed().find((e) => e.arguments['message'] === 'hello') as unknown as {
      _meta?: { traceparent?: string };
    };
    expect(executed._meta?.traceparent).toBe(`00-${allowed.traceId}-${downstream.spanId}-01`);
  });

  test("the decision log and call.received carry the span's trace id", () => {
    const call = callSpanOf(allowed.traceId);
    const decision = w.decisions().find((d) => d['trace_id'] === allowed.traceId)!;
    expect(decision).toMatchObject({ trace_id: allowed.traceId, span_id: call.spanId });
    const received = receivedRecords(w).find((r) => (r['arguments'] as Record<string, unknown>)['message'] === 'hello');
    expect(received?.['trace_id']).toBe(allowed.traceId);
  });

  test('a denied call: decision deny, the rules, outcome denied, and no downstream step', () => {
    const call = callSpanOf(denied.traceId);
    expect(call.parentSpanId).toBe(denied.spanId);
    expect(call.attributes).toMatchObject({
      'warden.decision': 'deny',
      'warden.rules': ['core.no_forbidden_echo'],
      'warden.outcome': 'denied',
    });
    const names = childrenOf(call).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['warden.policy', 'warden.audit call.decided']));
    expect(names).not.toContain('warden.downstream');
  });

  test('the metrics mirror the Prometheus ones: decisions by result and rule, durations, open sessions', () => {
    expect(receiver.metrics.get('warden_decisions_total')).toEqual(
      expect.arrayContaining([
        { attributes: { result: 'allow', rule: '' }, value: 2 },
        { attributes: { result: 'deny', rule: 'core.no_forbidden_echo' }, value: 1 },
      ]),
    );
    expect(receiver.metrics.get('warden_decision_duration_seconds')).toEqual([{ attributes: {}, count: 3 }]);
    const calls = receiver.metrics.get('warden_call_duration_seconds') ?? [];
    expect(calls).toEqual(
      expect.arrayContaining([
        { attributes: { server: 'faulty', outcome: 'success' }, count: 2 },
        { attributes: { server: 'faulty', outcome: 'denied' }, count: 1 },
      ]),
    );
    expect(receiver.metrics.has('warden_sessions_open')).toBe(true);
  });

  test('a call without a traceparent starts a trace of its own, named in the decision log and the trail', () => {
    const roots = receiver.spans.filter((s) => s.name === 'tools/call echo' && s.parentSpanId === undefined);
    expect(roots).toHaveLength(1);
    const root = roots[0]!;
    expect([allowed.traceId, denied.traceId]).not.toContain(root.traceId);
    const decision = w.decisions().find((d) => d['span_id'] === root.spanId);
    expect(decision?.['trace_id']).toBe(root.traceId);
    const received = receivedRecords(w).find(
      (r) => (r['arguments'] as Record<string, unknown>)['message'] === 'untraced by the client',
    );
    // The client's trace (none here) keys the trace history scope; Warden's own is recorded beside it.
    expect(received).not.toHaveProperty('trace_id');
    expect(received?.['span_trace_id']).toBe(root.traceId);
  });
});

describe('OpenTelemetry configured by the OTEL_* environment', () => {
  test('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_SERVICE_NAME turn export on', async () => {
    const receiver = await startReceiver();
    const w = await startWarden(CONFIG, {
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_SERVICE_NAME: 'from-env' },
    });
    try {
      const tp = traceparent();
      await w.client.callTool({ name: 'echo', arguments: { message: 'hi' }, _meta: { traceparent: tp.header } });
      await w.close();
      const call = await eventually(() => receiver.spans.find((s) => s.traceId === tp.traceId && !!s.name), 10_000);
      expect(receiver.spans.find((s) => s.parentSpanId === tp.spanId)).toMatchObject({ service: 'from-env' });
      expect(call.traceId).toBe(tp.traceId);
    } finally {
      await w.close();
      receiver.close();
    }
  });

  test("OTEL_TRACES_EXPORTER=none: no exporter; the log and trail keep only the client's trace id", async () => {
    const receiver = await startReceiver();
    const w = await startWarden(CONFIG, {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_EXPORTER: 'none' },
    });
    try {
      const tp = traceparent();
      await w.client.callTool({ name: 'echo', arguments: { message: 'traced' }, _meta: { traceparent: tp.header } });
      await w.client.callTool({ name: 'echo', arguments: { message: 'plain' } });
      await w.close();
      const [traced, plainCall] = w.decisions();
      // No span of Warden's: the client's trace id stays for correlation, with no span id.
      expect(traced?.['trace_id']).toBe(tp.traceId);
      expect(traced).not.toHaveProperty('span_id');
      expect(plainCall).not.toHaveProperty('trace_id');
      // The downstream server gets the client's traceparent as it was sent.
      const executed = w.executed() as unknown as {
        arguments: { message: string };
        _meta?: { traceparent?: string };
      }[];
      expect(executed.find((e) => e.arguments.message === 'traced')?._meta?.traceparent).toBe(tp.header);
      expect(receivedRecords(w).map((r) => r['trace_id'])).toEqual([tp.traceId, undefined]);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.posts()).toBe(0);
      expect(w.stderr()).not.toContain('OpenTelemetry traces on');
    } finally {
      await w.close();
      receiver.close();
    }
  });
});
