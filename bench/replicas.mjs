#!/usr/bin/env node
// Replicas over one PostgreSQL audit chain. Every commit takes the audit_state row lock, so the
// chain is one queue whatever the number of writers; appends in one tick of one process share a
// commit (group commit), appends of different processes do not.
//
// Table 1: appends/s on one shared chain by 1, 3 and 6 writer processes (each a child running
// `node bench/replicas.mjs --append <pgurl> <n> <inflight>`: realistic call.received, call.decided
// and call.completed records built with dist/audit's constructors), one append at a time and 32 in
// flight per process; after each row `warden audit verify` checks the chain and its record count
// against the appends the writers saw acknowledged.
// Table 2: `tools/call run_tests` as 2026-07-28 stateless requests (bearer auth, the `_meta`
// envelope; each client its own W3C trace, so its own history scope) from 1 and 16 concurrent
// clients: directly to one `warden serve --http 0` replica, and through HAProxy (plain round robin)
// in front of 1 and of 3 replicas, each with the example CI server, the shipped policy and the
// shared PostgreSQL store. Table 3: the CPU seconds each process used during each Table 2 row.
//
// PostgreSQL is durable (fsync on), from scripts/pg-test-server.sh as in bench/audit.mjs. Runs
// against dist/ (make bench builds first). Alone: `node bench/replicas.mjs [--seconds 10]`.
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { startPostgres } from './audit.mjs';
import { startHaproxy } from './haproxy.mjs';
import { machineBusySeconds, percentile, serveWarden, stopChild, treeCpuSeconds } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const CLI = join(ROOT, 'dist/cli/main.js');
const CI_SERVER = join(ROOT, 'examples/servers/ci.js');
const MODERN = '2026-07-28';
const ALICE = { token: 'alice-token-0123456789', sub: 'alice', roles: ['developer'] };
const run = promisify(execFile);

const WRITERS = [1, 3, 6];
const IN_FLIGHT = [1, 32];
/** Appends per Table 1 row, split between its writers: sequential appends each wait for an fsync. */
const ROW_APPENDS = { 1: 1500, 32: 15_000 };
const CLIENTS = [1, 16];

// --- the appender child ---------------------------------------------------------------------------

/** One call's records, in the pipeline's order: received, decided, completed. */
function callRecord(audit, tag, i) {
  const call_id = `c-${tag}-${Math.floor(i / 3)}`;
  const session = `s-${tag}`;
  const service = `svc-${i % 7}`;
  if (i % 3 === 0)
    return audit.callReceived(session, {
      call_id,
      kind: 'tool',
      server: 'ci',
      tool: 'run_tests',
      name: 'run_tests',
      arguments: { service, suite: 'all' },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      now_ms: Date.now(),
      trace_id: randomBytes(16).toString('hex'),
    });
  if (i % 3 === 1)
    return audit.callDecided(session, {
      call_id,
      decision_id: randomUUID(),
      allow: true,
      policy_allow: true,
      reasons: [],
      monitored: [],
      obligations: { audit: { required: true } },
      revision: 'sha256:1ac80fbc21f9',
      mode: 'enforce',
      now_ms: Date.now(),
    });
  const result = { service, suite: 'all', passed: 163, failed: 0 };
  return audit.callCompleted(session, {
    call_id,
    outcome: 'success',
    duration_ms: 2,
    result_digest: `sha256:${randomBytes(32).toString('hex')}`,
    result: {
      content: [{ type: 'text', text: `All 163 all tests passed for ${service}.` }],
      structuredContent: result,
    },
  });
}

/**
 * `--append <pgurl> <n> <inflight> [chain]`: opens the store (appending to `chain`, as a replica
 * with `audit.chain: instance` does, when given), warms up, prints `ready`, waits for a line on
 * stdin, makes n appends with `inflight` in flight, then prints one JSON line: acknowledged and
 * failed appends (warm-up included), the measured window, its latencies and its CPU time.
 */
async function appendMain(url, n, inflight, chain) {
  const audit = await import(join(ROOT, 'dist/audit/index.js'));
  const store = await audit.openAuditStore(url, chain ? { chain } : {});
  const tag = `${process.pid}`;
  let [next, acked, failed] = [0, 0, 0];
  const latencies = [];
  const appendMany = async (count, keep) => {
    const stop = next + count;
    const worker = async () => {
      while (next < stop) {
        const started = performance.now();
        try {
          await store.append(callRecord(audit, tag, next++));
          acked++;
          if (keep) latencies.push(Math.round((performance.now() - started) * 1000) / 1000);
        } catch (err) {
          failed++;
          process.stderr.write(`append failed: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
    };
    await Promise.all(Array.from({ length: inflight }, worker));
  };
  await appendMany(Math.max(30, 3 * inflight), false);
  process.stdout.write('ready\n');
  await once(process.stdin, 'data');
  process.stdin.destroy(); // or it keeps this process alive
  const cpu = process.cpuUsage();
  const start = performance.timeOrigin + performance.now();
  await appendMany(n, true);
  const end = performance.timeOrigin + performance.now();
  const { user, system } = process.cpuUsage(cpu);
  // Before close: the parent reads PostgreSQL's CPU time while this process's backends still run.
  process.stdout.write(`${JSON.stringify({ acked, failed, start, end, cpu_s: (user + system) / 1e6, latencies })}\n`);
  await store.close();
}

// --- Table 1: appends on one chain ----------------------------------------------------------------

/** Creates database `name` on the server of `url` and returns its URL. */
async function createDatabase(url, name) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A writer child, tracked so that an interrupted run still kills it. */
function spawnWriter(url, n, inflight, children, chain = '') {
  const child = spawn(process.execPath, [SELF, '--append', url, String(n), String(inflight), chain], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  const exited = once(child, 'exit').then(() => children.delete(child));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const line = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`writer ${child.pid} exited (${child.exitCode}) without answering`);
    return value;
  };
  return { child, line, exited };
}

/**
 * `warden audit verify` on the whole store: whether every chain (and tie) verified, and how many
 * records the chains hold together (one line per chain on a store of many chains).
 */
async function verify(url) {
  try {
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', '--store', url]);
    const counts = [...stdout.matchAll(/^(?:(?:shared )?chain "[^"]*": )?ok: (\d+) records verified/gm)];
    const records = counts.reduce((s, m) => s + Number(m[1]), 0);
    return { ok: counts.length > 0, records: counts.length > 0 ? records : NaN, text: stdout.trim() };
  } catch (err) {
    return { ok: false, records: NaN, text: `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || String(err) };
  }
}

/** The chain each writer appends to. `shared`: the one chain (''). `per-writer`: its own (`audit.chain: instance`). */
function writerChains(processes, layout) {
  return Array.from({ length: processes }, (_, k) => (layout === 'shared' ? '' : `w${k}`));
}

async function chainRow(server, processes, inflight, children, layout = 'shared') {
  const url = await createDatabase(server.url, `chain_${layout.replace('-', '_')}_${processes}x${inflight}`);
  const n = Math.ceil(ROW_APPENDS[inflight] / processes);
  const writers = writerChains(processes, layout).map((chain) => spawnWriter(url, n, inflight, children, chain));
  for (const w of writers) if ((await w.line()) !== 'ready') throw new Error('writer did not get ready');
  const [pgCpu, busy] = [treeCpuSeconds(server.pid), machineBusySeconds()];
  for (const w of writers) w.child.stdin.end('go\n');
  const results = await Promise.all(writers.map(async (w) => JSON.parse(await w.line())));
  const [pgCpuSeconds, machineSeconds] = [treeCpuSeconds(server.pid) - pgCpu, machineBusySeconds() - busy];
  await Promise.all(writers.map((w) => w.exited));
  const secs = (Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start))) / 1000;
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const check = await verify(url);
  return {
    layout,
    processes,
    inflight,
    appends_per_s: latencies.length / secs,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    secs,
    writers_cpu_s: results.reduce((s, r) => s + r.cpu_s, 0),
    pg_cpu_s: pgCpuSeconds,
    machine_cpu_s: machineSeconds,
    acked: results.reduce((s, r) => s + r.acked, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    verified: check.ok,
    records: check.records,
    verify_text: check.text,
  };
}

// --- Table 2: calls through the load balancer -------------------------------------------------------

/** `warden serve --http 0` with the CI server, the shipped policy and the shared store. */
async function startReplica(index, store, children) {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-replica-'));
  const config = join(dir, 'warden.yaml');
  // JSON is YAML: one field a line is what matters here.
  const doc = {
    instance: `replica-${index}`,
    mcpServers: { ci: { command: process.execPath, args: [CI_SERVER] } },
    policy: { bundle: join(ROOT, 'policy') },
    auth: { type: 'bearer', tokens: [ALICE] },
    // Behind the load balancer, requests carry its address in Host.
    http: { allowedHosts: ['127.0.0.1'] },
    audit: { store },
  };
  writeFileSync(config, JSON.stringify(doc, null, 2));
  const { child, port: listening } = serveWarden(config, `replica ${index}`);
  children.add(child);
  child.once('exit', () => children.delete(child));
  // An interrupted benchmark kills the replica (and with its stdin, its CI servers) and its files.
  const killSync = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killSync);
  const port = await listening;
  return {
    host: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stop: async () => {
      process.removeListener('exit', killSync);
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A W3C traceparent per client: each client is its own history scope, on every replica. */
const traceparents = Array.from(
  { length: Math.max(...CLIENTS) },
  () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
);

/** One stateless 2026-07-28 `tools/call run_tests`; resolves true when it ran and succeeded. */
function callRunTests(url, agent, client, id) {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'run_tests',
      arguments: { service: `svc-${client}` },
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'bench-replicas', version: '1' },
        traceparent: traceparents[client],
      },
    },
  });
  const u = new URL(`${url}/mcp`);
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${ALICE.token}`,
    'mcp-protocol-version': MODERN,
    'mcp-method': 'tools/call',
    'mcp-name': 'run_tests',
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(succeeded(res, Buffer.concat(chunks).toString('utf8'))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON-RPC answer (plain JSON or in an SSE stream) is a result without isError. */
function succeeded(res, body) {
  if (res.statusCode !== 200) return false;
  const texts = String(res.headers['content-type']).includes('text/event-stream')
    ? body
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
    : [body];
  const answer = texts
    .filter(Boolean)
    .map((t) => JSON.parse(t))
    .find((m) => 'result' in m || 'error' in m);
  return answer !== undefined && 'result' in answer && answer.result.isError !== true;
}

/** `clients` concurrent clients, each calling in sequence, until `seconds` have passed. */
async function drive(url, clients, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let id = 1; performance.now() < deadline; id++) {
        const t = performance.now();
        const ok = await callRunTests(url, agent, client, id).catch(() => false);
        if (ok) latencies.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    calls_per_s: latencies.length / secs,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    errors,
    secs,
  };
}

/**
 * One call per client on each replica, before anything is measured: a client's first request to a
 * replica opens its history scope there, a Warden session with its own CI server process.
 */
async function openScopes(replicas) {
  const clients = Math.max(...CLIENTS);
  for (const r of replicas) {
    const agent = new Agent({ keepAlive: true, maxSockets: clients });
    const answers = await Promise.all(Array.from({ length: clients }, (_, c) => callRunTests(r.url, agent, c, 0)));
    agent.destroy();
    if (answers.includes(false)) throw new Error(`run_tests failed on ${r.url} before the measurements`);
  }
}

/** CPU seconds so far of each replica (with its CI servers), haproxy, PostgreSQL and this process. */
function cpuSnapshot(replicas, lb, server) {
  const self = process.cpuUsage();
  return {
    replicas: replicas.map((r) => treeCpuSeconds(r.pid)),
    haproxy: lb ? treeCpuSeconds(lb.pid) : 0,
    postgres: treeCpuSeconds(server.pid),
    client: (self.user + self.system) / 1e6,
    machine: machineBusySeconds(),
  };
}

async function callsRow(label, url, { replicas, lb, server }, clients, seconds) {
  await drive(url, clients, 1); // warm-up: JIT, connections, pools
  const before = cpuSnapshot(replicas, lb, server);
  const sent = lb ? await lb.stats() : null;
  const result = await drive(url, clients, seconds);
  const after = cpuSnapshot(replicas, lb, server);
  const received = lb ? await lb.stats() : null;
  return {
    label,
    replicas: lb ? Object.keys(received).length : 1,
    clients,
    ...result,
    cpu: {
      replicas: after.replicas.map((c, i) => c - before.replicas[i]),
      haproxy: after.haproxy - before.haproxy,
      postgres: after.postgres - before.postgres,
      client: after.client - before.client,
      machine: after.machine - before.machine,
    },
    requests: received ? Object.keys(received).map((name) => received[name] - (sent[name] ?? 0)) : null,
  };
}

async function callsTable(server, seconds, children) {
  const store = await createDatabase(server.url, 'calls');
  const replicas = await Promise.all([0, 1, 2].map((i) => startReplica(i, store, children)));
  const rows = [];
  try {
    await openScopes(replicas);
    for (const c of CLIENTS)
      rows.push(await callsRow('direct', replicas[0].url, { replicas, lb: null, server }, c, seconds));
    for (const count of [1, 3]) {
      const lb = await startHaproxy(replicas.slice(0, count));
      try {
        for (const c of CLIENTS) rows.push(await callsRow('haproxy', lb.url, { replicas, lb, server }, c, seconds));
      } finally {
        await lb.stop();
      }
    }
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
  }
  const check = await verify(store);
  return { rows, check };
}

// --- the benchmark --------------------------------------------------------------------------------

/**
 * Runs both tables on one private, durable PostgreSQL. Options: `seconds` per Table 2 row (default
 * 10). Everything it starts (PostgreSQL, writers, replicas, haproxy) is stopped before it returns or
 * throws, and killed by an exit hook if the process is interrupted.
 */
export async function benchReplicas({ seconds = 10, chainsOnly = false } = {}) {
  const children = new Set();
  const server = startPostgres();
  const killAll = () => {
    for (const child of children) child.kill('SIGKILL');
    server.stop();
  };
  const interrupt = () => process.exit(130);
  process.once('exit', killAll);
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    server.pid = Number(readFileSync(join(server.dataDir, 'data/postmaster.pid'), 'utf8').split('\n')[0]);
    const chain = [];
    const sharded = [];
    for (const processes of WRITERS)
      for (const inflight of IN_FLIGHT) {
        chain.push(await chainRow(server, processes, inflight, children, 'shared'));
        sharded.push(await chainRow(server, processes, inflight, children, 'per-writer'));
      }
    const calls = chainsOnly ? null : await callsTable(server, seconds, children);
    return { chain, sharded, calls };
  } finally {
    await Promise.all([...children].map((c) => stopChild(c, 5000)));
    process.removeListener('exit', killAll);
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    server.stop();
  }
}

// --- the tables -----------------------------------------------------------------------------------

const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const table = (head, body) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );

function formatChain(rows) {
  const base = (inflight) => rows.find((r) => r.processes === 1 && r.inflight === inflight);
  const body = rows.map((r) => [
    r.processes,
    r.inflight,
    f(r.appends_per_s, 0),
    f(r.appends_per_s / r.processes, 0),
    f(r.p50_ms, 2),
    f(r.p99_ms, 2),
    `${f(r.appends_per_s / base(r.inflight).appends_per_s, 2)}×`,
    `${f(r.writers_cpu_s, 1)} / ${f(r.pg_cpu_s, 1)} / ${f(r.machine_cpu_s, 1)} of ${f(r.secs, 1)}`,
    r.verified ? 'ok' : `FAILED: ${r.verify_text.split('\n')[0]}`,
    `${r.records} / ${r.acked}${r.records === r.acked ? '' : ' LOST'}${r.failed ? ` (${r.failed} failed)` : ''}`,
  ]);
  const head = [
    'processes',
    'in flight per process',
    'total appends/s',
    'appends/s per process',
    'p50 ms',
    'p99 ms',
    'vs 1 process',
    'CPU s: writers / postgres / machine, in wall s',
    'chain verified',
    'records / acknowledged',
  ];
  return [
    '### Audit appends/s on one shared chain, by replica count',
    '',
    table(head, body),
    '',
    'Ratios are against the 1-process row with the same appends in flight per process. "machine" is every',
    "process's CPU time (/proc/stat), this benchmark's and anything else running; 2 cores give 2 s per wall s.",
  ].join('\n');
}

function formatCalls({ rows, check }) {
  const direct = (c) => rows.find((r) => r.label === 'direct' && r.clients === c);
  const single = (c) => rows.find((r) => r.label === 'haproxy' && r.replicas === 1 && r.clients === c);
  const name = (r) => (r.label === 'direct' ? '1 (direct)' : `${r.replicas} (haproxy)`);
  const calls = rows.map((r) => [
    name(r),
    r.clients,
    f(r.calls_per_s, 0),
    f(r.p50_ms, 2),
    f(r.p99_ms, 2),
    r.label === 'direct' ? '-' : f(r.p50_ms - direct(r.clients).p50_ms, 2),
    r.label === 'direct' ? '-' : `${f(r.calls_per_s / single(r.clients).calls_per_s, 2)}×`,
    r.errors,
  ]);
  const cores = cpus().length;
  const cpu = rows.map((r) => {
    const total = r.cpu.replicas.reduce((a, b) => a + b, 0) + r.cpu.haproxy + r.cpu.postgres + r.cpu.client;
    return [
      name(r),
      r.clients,
      f(r.secs, 1),
      ...r.cpu.replicas.map((c) => f(c, 2)),
      f(r.cpu.haproxy, 2),
      f(r.cpu.postgres, 2),
      f(r.cpu.client, 2),
      `${f((100 * total) / (r.secs * cores), 0)}% / ${f((100 * r.cpu.machine) / (r.secs * cores), 0)}%`,
      r.requests ? r.requests.join(' / ') : '-',
    ];
  });
  return [
    '### Calls through a round-robin load balancer',
    '',
    table(
      [
        'replicas',
        'concurrency',
        'calls/s',
        'p50 ms',
        'p99 ms',
        'added p50 ms vs direct',
        'calls/s vs 1 replica',
        'failed calls',
      ],
      calls,
    ),
    '',
    `Chain after Table 2: ${check.ok ? `verified, ${check.records} records` : `FAILED: ${check.text}`}.`,
    '',
    '### CPU seconds per process during each row of the table above',
    '',
    table(
      [
        'replicas',
        'concurrency',
        'wall s',
        'replica-0 (+ CI servers)',
        'replica-1',
        'replica-2',
        'haproxy',
        'postgres',
        'client (this process)',
        `busy of ${cores} cores: these / machine`,
        'requests r0 / r1 / r2',
      ],
      cpu,
    ),
    '',
    'All three replicas run in every row; those outside the load balancer are idle.',
  ].join('\n');
}

/** Table 1b: the same appends on one chain per writer, against the shared chain of the same row. */
function formatSharded(shared, sharded) {
  const body = sharded.map((r) => {
    const same = shared.find((x) => x.processes === r.processes && x.inflight === r.inflight);
    return [
      r.processes,
      r.inflight,
      f(same.appends_per_s, 0),
      f(r.appends_per_s, 0),
      `${f(r.appends_per_s / same.appends_per_s, 2)}×`,
      f(r.p50_ms, 2),
      f(r.p99_ms, 2),
      `${f(r.writers_cpu_s, 1)} / ${f(r.pg_cpu_s, 1)} / ${f(r.machine_cpu_s, 1)} of ${f(r.secs, 1)}`,
      r.verified ? 'ok' : `FAILED: ${r.verify_text.split('\n')[0]}`,
      `${r.records} / ${r.acked}${r.records === r.acked ? '' : ' LOST'}${r.failed ? ` (${r.failed} failed)` : ''}`,
    ];
  });
  const head = [
    'processes',
    'in flight per process',
    'shared chain appends/s',
    'one chain per writer appends/s',
    'per writer vs shared',
    'p50 ms',
    'p99 ms',
    'CPU s: writers / postgres / machine, in wall s',
    'chains verified',
    'records / acknowledged',
  ];
  return [
    '### Audit appends/s with one chain per writer, against one shared chain',
    '',
    table(head, body),
    '',
    'Each writer appends to its own chain of the same store, as a replica with audit.chain: instance does: its own',
    'audit_chains row and seq, the same WAL. Ratios are against the shared-chain row with the same writers, measured just before.',
  ].join('\n');
}

export function formatReplicas({ chain, sharded, calls }) {
  const tables = [formatChain(chain), formatSharded(chain, sharded), ...(calls ? [formatCalls(calls)] : [])];
  return `${tables.join('\n\n')}\n`;
}

if (process.argv[1] === SELF && process.argv[2] === '--append') {
  await appendMain(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6] || '');
} else if (process.argv[1] === SELF) {
  const i = process.argv.indexOf('--seconds');
  const chainsOnly = process.argv.includes('--chains-only');
  const result = await benchReplicas({ ...(i > 0 ? { seconds: Number(process.argv[i + 1]) } : {}), chainsOnly });
  console.log(formatReplicas(result));
}
