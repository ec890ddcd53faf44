#!/usr/bin/env node
// Proxy overhead on the stdio path. The hop (issue 16): one client calling server-everything `echo`
// directly, through the SDK's bare Client+Server relay (bench/bare-relay.mjs), through FastMCP's
// proxy (bench/fastmcp-proxy.py, installed by scripts/python-mcp.sh) and through Warden with the
// shipped policy, a durable SQLite trail and the decision log, with the targets as ratios of this
// run. The durability table: what each audit mode costs per call, sequential and 32 in flight,
// and the decision log's bytes per call. History (issue 3): an allow-all policy and a 10-rule
// history policy after session histories of 10 and 10,000 calls, and the decision alone (in
// process) against a 10,000-call history, with several history windows.
// Runs against dist/ (make bench builds first).
// Alone: `node bench/stdio.mjs [--n 3000] [--warm 300] [--part hop,durability,history] [--cpu-prof DIR]`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
const DOWNSTREAM = [EVERYTHING, 'stdio'];
const FASTMCP = 'fastmcp==4.1.6';
// --cpu-prof DIR: every Warden process of the run writes a V8 CPU profile there (node --cpu-prof).
const PROFILE_DIR = process.argv.includes('--cpu-prof') ? process.argv[process.argv.indexOf('--cpu-prof') + 1] : '';
const BARE_RELAY = join(ROOT, 'bench/bare-relay.mjs');
const FASTMCP_PROXY = join(ROOT, 'bench/fastmcp-proxy.py');

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

/** `width` calls in flight on one connection, as a busy agent runs them: latency per call, calls/s. */
async function timeInFlight(client, n, width = 32) {
  const lat = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await client.callTool({ name: 'echo', arguments: { message: `m${i}` } });
        lat.push(performance.now() - t);
      }
    }),
  );
  const total = performance.now() - start;
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), perSec: (n / total) * 1000 };
}

/** Warm-up calls, then `n` timed ones, sequential or `width` in flight. */
async function measure(client, { n, warm, width = 1 }) {
  for (let i = 0; i < warm; i++) await client.callTool({ name: 'echo', arguments: { message: `warm${i}` } });
  return width > 1 ? timeInFlight(client, n, width) : timeCalls(client, n);
}

/** Starts a proxy (or the server itself) over stdio, measures it, closes it. */
async function measureProcess(command, args, load, env) {
  const { client, pid } = await connect(command, args, env);
  try {
    const r = await measure(client, load);
    return { ...r, rss: rssMb(pid) };
  } finally {
    await client.close();
  }
}

/** The interpreter with FastMCP (installed once into a cache venv), or why there is none. */
function fastmcpPython() {
  try {
    const python = execFileSync('bash', [join(ROOT, 'scripts/python-mcp.sh'), FASTMCP, 'fastmcp'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    }).trim();
    return { python };
  } catch (err) {
    const why = String(err.stderr ?? err.message ?? err)
      .trim()
      .split('\n')
      .pop();
    return { skipped: `FastMCP row skipped: ${why || 'scripts/python-mcp.sh failed'}` };
  }
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

/**
 * A Warden config in `dir`: `policy` is a fixture under test/fixtures/policies or builtin:shipped;
 * `audit` memory, sqlite (synchronous full) or sqlite-normal; `decisionLog` a file in `dir`.
 */
function wardenConfig(dir, { policy, audit, decisionLog = false, window }) {
  const config = join(dir, 'warden.yaml');
  const store = audit === 'memory' ? 'memory:' : `sqlite:${join(dir, 'audit.db')}`;
  writeFileSync(
    config,
    [
      'mcpServers:',
      `  everything: { command: ${JSON.stringify(process.execPath)}, args: ${JSON.stringify(DOWNSTREAM)} }`,
      `policy: { bundle: ${JSON.stringify(policy === 'builtin:shipped' ? policy : join(POLICIES, policy))} }`,
      `audit: { store: ${JSON.stringify(store)}${audit === 'sqlite-normal' ? ', synchronous: normal' : ''} }`,
      'log: { level: error }',
      ...(decisionLog ? [`decisionLogs: { file: ${JSON.stringify(join(dir, 'decisions.jsonl'))} }`] : []),
      ...(window !== undefined ? [`session: { historyWindow: ${window} }`] : []),
      '',
    ].join('\n'),
  );
  return config;
}

/** One Warden run: `setup` shapes its config, `load` the calls; with the decision log's bytes per call. */
async function throughWarden(setup, load) {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  try {
    const config = wardenConfig(dir, setup);
    const node = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
    const r = await measureProcess(process.execPath, [...node, CLI, 'serve', '--config', config], load, {
      WARDEN_OPA: process.env.WARDEN_OPA ?? join(ROOT, '.tools/bin/opa'),
    });
    const logBytes = setup.decisionLog ? statSync(join(dir, 'decisions.jsonl')).size : NaN;
    return { ...r, logBytesPerCall: logBytes / (load.warm + load.n) };
  } finally {
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

const SHIPPED_SQLITE = { policy: 'builtin:shipped', audit: 'sqlite', decisionLog: true };

/** The hop against its peers, same client, server and load on every row. */
async function benchHop(load) {
  const rows = [];
  const direct = await measureProcess(process.execPath, DOWNSTREAM, load);
  rows.push({ id: 'direct', path: 'direct stdio → server-everything echo', ...direct, rss: NaN });
  const relay = await measureProcess(process.execPath, [BARE_RELAY, process.execPath, ...DOWNSTREAM], load);
  rows.push({ id: 'relay', path: 'bare relay (SDK Client + Server, no policy, no records)', ...relay });
  const { python, skipped } = fastmcpPython();
  if (python) {
    const fast = await measureProcess(python, [FASTMCP_PROXY, process.execPath, ...DOWNSTREAM], load);
    rows.push({ id: 'fastmcp', path: `FastMCP ${FASTMCP.split('==')[1]} create_proxy (no policy)`, ...fast });
  }
  const warden = await throughWarden(SHIPPED_SQLITE, load);
  rows.push({ id: 'warden', path: 'Warden (shipped policy, audit sqlite full, decision log file)', ...warden });
  return { rows, skipped };
}

/** What each audit mode costs per call, sequential and 32 in flight; the bare relay as the floor. */
async function benchDurability(load) {
  const rows = [];
  for (const width of [1, 32]) {
    const relay = await measureProcess(process.execPath, [BARE_RELAY, process.execPath, ...DOWNSTREAM], {
      ...load,
      width,
    });
    rows.push({ audit: 'bare relay (none)', width, ...relay, logBytesPerCall: NaN });
    for (const audit of ['memory', 'sqlite-normal', 'sqlite']) {
      const r = await throughWarden({ ...SHIPPED_SQLITE, audit }, { ...load, width });
      rows.push({ audit: audit === 'sqlite' ? 'sqlite full' : audit.replace('-', ' '), width, ...r });
    }
  }
  return rows;
}

/** History (issue 3): decision cost against the size of the session's history and its window. */
async function benchHistory({ n }) {
  const rows = [];
  for (const [policy, label] of [
    ['allow-all', 'allow-all'],
    ['history10', '10 history rules'],
  ]) {
    for (const history of [10, 10_000]) {
      const r = await throughWarden({ policy, audit: 'memory' }, { n, warm: history });
      rows.push({ path: `Warden (${label}, window 100, audit memory:)`, history, ...r });
    }
  }
  for (const window of [0, 20]) {
    const r = await throughWarden({ policy: 'history10', audit: 'memory', window }, { n, warm: 10_000 });
    rows.push({ path: `Warden (10 history rules, window ${window}, audit memory:)`, history: 10_000, ...r });
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
  return { rows, decisions };
}

export async function benchStdio({ n = 3000, warm = 300, parts = ['hop', 'durability', 'history'] } = {}) {
  const load = { n, warm };
  return {
    n,
    warm,
    ...(parts.includes('hop') ? { hop: await benchHop(load) } : {}),
    ...(parts.includes('durability') ? { durability: await benchDurability(load) } : {}),
    ...(parts.includes('history') ? { history: await benchHistory(load) } : {}),
  };
}

const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function formatHop({ rows, skipped }, { n, warm }) {
  const direct = rows.find((r) => r.id === 'direct');
  const lines = [
    `${n} sequential calls after ${warm} warm-up calls, same client and server on every row.`,
    '',
    '| path | p50 ms | p99 ms | added p50 ms | calls/s | RSS MB | decision log B/call |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const added = r === direct ? '-' : f(r.p50 - direct.p50);
    const bytes = Number.isFinite(r.logBytesPerCall) ? Math.round(r.logBytesPerCall) : '-';
    lines.push(
      `| ${r.path} | ${f(r.p50)} | ${f(r.p99)} | ${added} | ${Math.round(r.perSec)} | ${f(r.rss, 0)} | ${bytes} |`,
    );
  }
  if (skipped) lines.push('', skipped);
  const [relay, fast, warden] = ['relay', 'fastmcp', 'warden'].map((id) => rows.find((r) => r.id === id));
  const added = (r) => r.p50 - direct.p50;
  const targets = [
    ['Warden added p50 / bare relay added p50', added(warden) / added(relay), 1.5],
    ['Warden p99 / bare relay p99', warden.p99 / relay.p99, 1.2],
    ...(fast ? [['Warden added p50 / FastMCP added p50', added(warden) / added(fast), 1 / 3]] : []),
  ];
  lines.push('', '| target | measured | at most | met |', '|---|---|---|---|');
  for (const [what, ratio, limit] of targets)
    lines.push(`| ${what} | ${f(ratio, 2)}x | ${f(limit, 2)}x | ${ratio <= limit ? 'yes' : 'no'} |`);
  return lines.join('\n');
}

function formatDurability(rows, { n, warm }) {
  const lines = [
    `Shipped policy and decision log file; ${n} calls after ${warm} warm-up calls, per audit mode.`,
    '',
    '| audit | in flight | p50 ms | p99 ms | added p50 vs bare relay ms | calls/s | decision log B/call |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const floor = rows.find((x) => x.width === r.width && !Number.isFinite(x.logBytesPerCall));
    const added = r === floor ? '-' : f(r.p50 - floor.p50);
    const bytes = Number.isFinite(r.logBytesPerCall) ? Math.round(r.logBytesPerCall) : '-';
    lines.push(
      `| ${r.audit} | ${r.width} | ${f(r.p50)} | ${f(r.p99)} | ${added} | ${Math.round(r.perSec)} | ${bytes} |`,
    );
  }
  return lines.join('\n');
}

function formatHistory({ rows, decisions }) {
  const lines = ['| path | history | p50 ms | p99 ms | calls/s | Warden RSS MB |', '|---|---|---|---|---|---|'];
  for (const r of rows)
    lines.push(`| ${r.path} | ${r.history} | ${f(r.p50)} | ${f(r.p99)} | ${Math.round(r.perSec)} | ${f(r.rss, 0)} |`);
  lines.push(
    '',
    '| decision only (10 history rules, in process) | history | window | p50 ms | p99 ms |',
    '|---|---|---|---|---|',
  );
  for (const d of decisions)
    lines.push(`| evaluate mcp/decision | ${d.history} | ${d.window} | ${f(d.p50)} | ${f(d.p99)} |`);
  return lines.join('\n');
}

export function formatStdio(result) {
  return [
    ...(result.hop ? ['### The hop', formatHop(result.hop, result)] : []),
    ...(result.durability ? ['### Durability', formatDurability(result.durability, result)] : []),
    ...(result.history ? ['### History', formatHistory(result.history)] : []),
  ].join('\n\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const result = await benchStdio({
    n: Number(arg('--n', 3000)),
    warm: Number(arg('--warm', 300)),
    parts: arg('--part', 'hop,durability,history').split(','),
  });
  console.log(formatStdio(result));
}
