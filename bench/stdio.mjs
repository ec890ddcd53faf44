#!/usr/bin/env node
// Proxy overhead on the stdio path (issue 3): a direct SDK client calling server-everything `echo`,
// against the same call through Warden, with an allow-all policy and with a 10-rule history
// policy, after session histories of 10 and 10,000 calls. Plus the decision alone (in process)
// against a 10,000-call history, with the default history window and with the whole history.
// Runs against dist/ (make bench builds first). Alone: `node bench/stdio.mjs [--n 2000]`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { percentile, rssMb } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const CLI = join(ROOT, 'dist/cli/main.js');
const POLICIES = join(ROOT, 'test/fixtures/policies');

async function timeCalls(client, n) {
  const lat = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.callTool({ name: 'echo', arguments: { message: `m${i}` } });
    lat.push(performance.now() - t);
  }
  const total = performance.now() - start;
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), perSec: (n / total) * 1000 };
}

async function connect(command, args, env = {}) {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return { client, pid: transport.pid };
}

async function throughWarden(policy, history, n, audit, window) {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    [
      'mcpServers:',
      `  everything: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(EVERYTHING)}, stdio] }`,
      `policy: { bundle: ${JSON.stringify(join(POLICIES, policy))} }`,
      `audit: { store: ${JSON.stringify(audit === 'memory' ? 'memory:' : `sqlite:${join(dir, 'audit.db')}`)}${audit === 'sqlite-normal' ? ', synchronous: normal' : ''} }`,
      'log: { level: error }',
      ...(window !== undefined ? [`session: { historyWindow: ${window} }`] : []),
      '',
    ].join('\n'),
  );
  const { client, pid } = await connect(process.execPath, [CLI, 'serve', '--config', config], {
    WARDEN_OPA: process.env.WARDEN_OPA ?? join(ROOT, '.tools/bin/opa'),
  });
  try {
    for (let i = 0; i < history; i++) await client.callTool({ name: 'echo', arguments: { message: `warm${i}` } });
    const r = await timeCalls(client, n);
    return { ...r, rss: rssMb(pid) };
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The decision alone, in process: what policy evaluation costs as history grows. */
async function decisionOnly(policy, history, window) {
  const { PolicyEngine } = await import(join(ROOT, 'dist/policy/index.js'));
  const { compileDirectory } = await import(join(ROOT, 'dist/bundles/index.js'));
  const { Session } = await import(join(ROOT, 'dist/session/index.js'));
  const engine = await PolicyEngine.load(
    await compileDirectory(join(POLICIES, policy), 'mcp/decision'),
    'mcp/decision',
  );
  const session = new Session('bench', { sub: 'bench', roles: [], claims: {} }, new Date().toISOString(), {
    historyWindow: window,
    resultMaxChars: 256,
  });
  const tools = ['run_tests', 'security_scan', 'fraud_check', 'echo', 'backup_database'];
  for (let i = 0; i < history; i++) {
    const name = tools[i % tools.length];
    session.record(
      {
        kind: 'tool',
        server: 's',
        tool: name,
        name,
        arguments: { payment_id: `p${i}`, message: `m${i}` },
        annotations: {},
      },
      'allow',
      'success',
      { structuredContent: { ok: true, i } },
      Date.now(),
      1,
    );
  }
  const call = {
    kind: 'tool',
    server: 's',
    tool: 'payment_processing',
    name: 'payment_processing',
    arguments: { payment_id: 'p3' },
    annotations: {},
  };
  const lat = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    engine.evaluate(session.buildInput(call, Date.now()));
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

export async function benchStdio({ n = 2000 } = {}) {
  const rows = [];
  const direct = await connect(process.execPath, [EVERYTHING, 'stdio']);
  try {
    for (let i = 0; i < 200; i++) await direct.client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    const r = await timeCalls(direct.client, n);
    rows.push({ path: 'direct stdio → server-everything echo', history: '-', ...r, rss: NaN, decision: '' });
  } finally {
    await direct.client.close();
  }
  for (const [policy, label] of [
    ['allow-all', 'allow-all'],
    ['history10', '10 history rules'],
  ]) {
    for (const history of [10, 10_000]) {
      const r = await throughWarden(policy, history, n, 'memory');
      rows.push({ path: `Warden (${label}, window 100, audit memory:)`, history, ...r });
    }
  }
  for (const window of [0, 20]) {
    const r = await throughWarden('history10', 10_000, n, 'memory', window);
    rows.push({ path: `Warden (10 history rules, window ${window}, audit memory:)`, history: 10_000, ...r });
  }
  for (const audit of ['sqlite', 'sqlite-normal']) {
    const r = await throughWarden('history10', 10, n, audit);
    rows.push({
      path: `Warden (10 history rules, audit ${audit === 'sqlite' ? 'sqlite full' : 'sqlite normal'})`,
      history: 10,
      ...r,
    });
  }
  const decisions = [];
  for (const [history, window] of [
    [10, 100],
    [10_000, 20],
    [10_000, 100],
    [10_000, 200],
    [10_000, 10_000],
  ]) {
    decisions.push({ history, window, ...(await decisionOnly('history10', history, window)) });
  }
  return { rows, decisions, direct: rows[0] };
}

export function formatStdio({ rows, decisions, direct }) {
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const lines = [
    '| path | history | p50 ms | p99 ms | added p50 ms | p99 / direct | calls/s | Warden RSS MB |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const added = r === direct ? '-' : f(r.p50 - direct.p50);
    const ratio = r === direct ? '-' : `${f(r.p99 / direct.p99, 2)}x`;
    lines.push(
      `| ${r.path} | ${r.history} | ${f(r.p50)} | ${f(r.p99)} | ${added} | ${ratio} | ${Math.round(r.perSec)} | ${Number.isFinite(r.rss) ? r.rss : '-'} |`,
    );
  }
  lines.push(
    '',
    '| decision only (10 history rules, in process) | history | window | p50 ms | p99 ms |',
    '|---|---|---|---|---|',
  );
  for (const d of decisions)
    lines.push(`| evaluate mcp/decision | ${d.history} | ${d.window} | ${f(d.p50)} | ${f(d.p99)} |`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const nArg = process.argv.indexOf('--n');
  const result = await benchStdio({ n: nArg > 0 ? Number(process.argv[nArg + 1]) : 2000 });
  console.log(formatStdio(result));
}
