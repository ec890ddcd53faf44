#!/usr/bin/env node
// Policy bundles (issue 7): how fast a change reaches calls, what a swap costs the calls around
// it, and how fast `warden replay` re-decides recorded history.
//   - directory change -> first call decided by it: a real `warden serve` (stdio) watching a policy
//     directory; the change denies a probe call, which the client sends in a loop until denied;
//   - bundle service publish -> active: an in-process runtime long-polling a local OPA bundle
//     service (Prefer: wait=N);
//   - call latency through Warden while the policy is swapped every 300 ms, against no swaps;
//   - replay: decisions re-evaluated per second over synthetic recorded sessions, shipped policy.
// Runs against dist/ (make bench builds first). Alone: `node bench/bundles.mjs`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { percentile } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');
const FAULTY = join(ROOT, 'test/fixtures/servers/faulty.js');
const policy = await import(join(ROOT, 'dist/policy/index.js'));
const policyEdge = await import(join(ROOT, 'dist/bundles/index.js'));
const reports = await import(join(ROOT, 'dist/reports/index.js'));

const rego = (deny, marker) => `package mcp

default decision := {"allow": true, "reasons": [], "monitored": [], "obligations": {}, "marker": "${marker}"}

decision := {"allow": false, "reasons": [{"rule": "bench.probe", "message": "probe"}], "monitored": [], "obligations": {}, "marker": "${marker}"} if {
\tinput.call.name == "echo"
\tinput.call.arguments.message == "${deny}"
}
`;

function tmp(prefix) {
  return mkdtempSync(join(tmpdir(), `warden-bench-${prefix}-`));
}

async function startWarden(dir, policyDir) {
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    [
      'mcpServers:',
      `  faulty: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(FAULTY)}] }`,
      `policy: { bundle: ${JSON.stringify(policyDir)}, watch: true }`,
      `audit: { store: "sqlite:${join(dir, 'audit.db')}", synchronous: normal }`,
      'log: { level: warn }',
    ].join('\n'),
  );
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'serve', '--config', config],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      WARDEN_OPA: process.env.WARDEN_OPA ?? join(ROOT, '.tools/bin/opa'),
    },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return client;
}

/** Directory edit -> the first call the new revision decides (through the proxy). */
async function directoryToCall(rounds) {
  const dir = tmp('dir');
  const policyDir = join(dir, 'policy');
  mkdirSync(join(policyDir, 'mcp'), { recursive: true });
  writeFileSync(join(policyDir, 'mcp/decision.rego'), rego('probe-0', 'r0'));
  const client = await startWarden(dir, policyDir);
  const times = [];
  try {
    await client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    for (let i = 1; i <= rounds; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      writeFileSync(join(policyDir, 'mcp/decision.rego'), rego(`probe-${i}`, `r${i}`));
      for (;;) {
        const res = await client.callTool({ name: 'echo', arguments: { message: `probe-${i}` } });
        if (res.isError) break;
        if (performance.now() - t0 > 10_000) throw new Error('the change never reached a call');
      }
      times.push(performance.now() - t0);
    }
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return times.sort((a, b) => a - b);
}

/** Call latency while the policy is swapped every 300 ms, against the same stream with no swap. */
async function latencyDuringSwaps(ms) {
  const dir = tmp('lat');
  const policyDir = join(dir, 'policy');
  mkdirSync(join(policyDir, 'mcp'), { recursive: true });
  writeFileSync(join(policyDir, 'mcp/decision.rego'), rego('never', 'base'));
  const client = await startWarden(dir, policyDir);
  const stream = async (swaps) => {
    const lat = [];
    let n = 0;
    const swapper = swaps
      ? setInterval(() => writeFileSync(join(policyDir, 'mcp/decision.rego'), rego('never', `s${n++}`)), 300)
      : null;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const t = performance.now();
      await client.callTool({ name: 'echo', arguments: { message: 'x' } });
      lat.push(performance.now() - t);
    }
    if (swapper) clearInterval(swapper);
    lat.sort((a, b) => a - b);
    return { calls: lat.length, swaps: n, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.at(-1) };
  };
  try {
    for (let i = 0; i < 300; i++) await client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    // Quiet, swapping, quiet again: the better quiet run is the baseline (no order bias for swaps).
    const quiet1 = await stream(false);
    const swapping = await stream(true);
    const quiet2 = await stream(false);
    return { quiet: quiet1.p99 <= quiet2.p99 ? quiet1 : quiet2, swapping };
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A local OPA bundle service with long polling; time from publish to the runtime's swap. */
async function servicePublishToActive(rounds) {
  const dir = tmp('svc');
  const opa = process.env.WARDEN_OPA ?? join(ROOT, '.tools/bin/opa');
  const build = (i) => {
    const src = join(dir, `src${i}`);
    mkdirSync(join(src, 'mcp'), { recursive: true });
    writeFileSync(join(src, 'mcp/decision.rego'), rego('never', `svc${i}`));
    execFileSync(
      opa,
      [
        'build',
        '-b',
        '-t',
        'wasm',
        '-e',
        'mcp/decision',
        '--revision',
        `svc-${i}`,
        '-o',
        join(dir, `b${i}.tar.gz`),
        '.',
      ],
      { cwd: src },
    );
    return readFileSync(join(dir, `b${i}.tar.gz`));
  };
  let bundle = build(0);
  let etag = '"0"';
  const waiters = new Set();
  const server = createServer((req, res) => {
    const send = () => {
      if (req.headers['if-none-match'] === etag)
        res.writeHead(304, { ETag: etag, 'Content-Type': 'application/vnd.openpolicyagent.bundles' }).end();
      else res.writeHead(200, { ETag: etag, 'Content-Type': 'application/vnd.openpolicyagent.bundles' }).end(bundle);
    };
    if (req.headers['if-none-match'] === etag && /wait=\d+/.test(req.headers['prefer'] ?? '')) {
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        send();
      };
      const timer = setTimeout(wake, 10_000);
      waiters.add(wake);
    } else send();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/b.tar.gz`;
  const runtime = policyEdge.openPolicyRuntime({
    bundles: [
      { name: 'policy', url, polling: { minDelaySeconds: 30, maxDelaySeconds: 60, longPollingTimeoutSeconds: 10 } },
    ],
    entrypoint: 'mcp/decision',
  });
  await runtime.start();
  const bundles = Array.from({ length: rounds }, (_, i) => build(i + 1));
  const times = [];
  try {
    for (let i = 1; i <= rounds; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      bundle = bundles[i - 1];
      etag = `"${i}"`;
      for (const w of [...waiters]) w();
      while (runtime.revision !== `svc-${i}`) await new Promise((r) => setImmediate(r));
      times.push(performance.now() - t0);
    }
  } finally {
    runtime.stop();
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return times.sort((a, b) => a - b);
}

/** Synthetic recorded sessions (received, decided, completed per call) re-decided by the shipped policy. */
async function replayRate(sessions, callsPerSession) {
  const engine = await policy.PolicyEngine.load(
    await policyEdge.compileDirectory(join(ROOT, 'policy'), 'mcp/decision'),
    'mcp/decision',
  );
  const tools = [
    'run_tests',
    'security_scan',
    'fraud_check',
    'payment_processing',
    'crm_lookup',
    'deploy_to_production',
  ];
  const records = [];
  let seq = 0;
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  for (let s = 0; s < sessions; s++) {
    const sid = `s-${s}`;
    records.push({
      seq: ++seq,
      at: new Date(t0).toISOString(),
      type: 'session.opened',
      session_id: sid,
      data: { client: { name: 'bench', version: '1' }, principal: { sub: `u${s}`, roles: ['developer'], claims: {} } },
    });
    for (let c = 0; c < callsPerSession; c++) {
      const at = new Date(t0 + s * 1_000_000 + c * 1000).toISOString();
      const tool = tools[(s + c) % tools.length];
      const args = { service: `svc${c % 3}`, payment_id: `p${c % 5}`, amount: c };
      const callId = `${sid}-${c}`;
      records.push({
        seq: ++seq,
        at,
        type: 'call.received',
        session_id: sid,
        data: { call_id: callId, kind: 'tool', server: 'bench', tool, name: tool, arguments: args },
      });
      records.push({
        seq: ++seq,
        at,
        type: 'call.decided',
        session_id: sid,
        data: {
          call_id: callId,
          decision_id: callId,
          allow: true,
          policy_allow: true,
          reasons: [],
          monitored: [],
          obligations: {},
          revision: 'old',
          mode: 'enforce',
        },
      });
      records.push({
        seq: ++seq,
        at,
        type: 'call.completed',
        session_id: sid,
        data: {
          call_id: callId,
          outcome: 'success',
          duration_ms: 5,
          result: { structuredContent: { ok: true, ...args } },
        },
      });
    }
  }
  const report = await reports.replayRecords(records, {
    policy: engine,
    session: { historyWindow: 200, resultMaxChars: 2048 },
  });
  return report;
}

/** Rows: { measure, value, note }. */
export async function benchBundles(options = {}) {
  const rounds = options.rounds ?? 5;
  const rows = [];
  const dirTimes = await directoryToCall(rounds);
  rows.push({
    measure: 'directory change -> first call decided by it (p50)',
    value: `${dirTimes[Math.floor(dirTimes.length / 2)].toFixed(0)} ms`,
    note: `max ${dirTimes.at(-1).toFixed(0)} ms over ${rounds} edits; target <= 1000 ms`,
  });
  const svcTimes = await servicePublishToActive(rounds);
  rows.push({
    measure: 'bundle service publish -> active (long poll, p50)',
    value: `${svcTimes[Math.floor(svcTimes.length / 2)].toFixed(0)} ms`,
    note: `max ${svcTimes.at(-1).toFixed(0)} ms over ${rounds} publishes`,
  });
  const { quiet, swapping } = await latencyDuringSwaps(options.latencyMs ?? 3000);
  rows.push({
    measure: 'call latency, no swap (p50 / p99 / max)',
    value: `${quiet.p50.toFixed(2)} / ${quiet.p99.toFixed(2)} / ${quiet.max.toFixed(1)} ms`,
    note: `${quiet.calls} calls`,
  });
  rows.push({
    measure: 'call latency, swap every 300 ms (p50 / p99 / max)',
    value: `${swapping.p50.toFixed(2)} / ${swapping.p99.toFixed(2)} / ${swapping.max.toFixed(1)} ms`,
    note: `${swapping.calls} calls, ${swapping.swaps} swaps`,
  });
  const replay = await replayRate(options.sessions ?? 20, options.calls ?? 500);
  rows.push({
    measure: 'replay (shipped policy, history window 200)',
    value: `${replay.decisions_per_second} decisions/s`,
    note: `${replay.decisions} decisions, ${replay.sessions} sessions, ${replay.changed} changed`,
  });
  return rows;
}

export function formatBundles(rows) {
  const w0 = Math.max(...rows.map((r) => r.measure.length), 7);
  const w1 = Math.max(...rows.map((r) => r.value.length), 5);
  return [
    `${'measure'.padEnd(w0)}  ${'value'.padEnd(w1)}  note`,
    `${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ----`,
    ...rows.map((r) => `${r.measure.padEnd(w0)}  ${r.value.padEnd(w1)}  ${r.note}`),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(formatBundles(await benchBundles()));
}
