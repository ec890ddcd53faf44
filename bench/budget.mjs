#!/usr/bin/env node
// The cost of the evaluation budget (issue 11, break 9): the same decisions evaluated in this
// thread (PolicyEngine, what Warden did before) and through the policy worker behind its watchdog
// (WorkerEngine, what Warden does now), p50/p99 per decision, including the input document's
// construction in both. Plus what a stalled evaluation costs the calls after it: the fresh
// worker's start. Runs against dist/ (make bench builds first). Alone: `node bench/budget.mjs [--n 2000]`.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { percentile } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const POLICIES = join(ROOT, 'test/fixtures/policies');

function stats(lat) {
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

function sessionWith(Session, history, window) {
  const principal = { sub: 'bench', roles: [], claims: {} };
  const options = { historyWindow: window, resultMaxChars: 256 };
  const session = new Session('bench', principal, new Date().toISOString(), options);
  const tools = ['run_tests', 'security_scan', 'fraud_check', 'echo', 'backup_database'];
  for (let i = 0; i < history; i++) {
    const name = tools[i % tools.length];
    const args = { payment_id: `p${i}`, message: `m${i}` };
    const call = { kind: 'tool', server: 's', tool: name, name, arguments: args, annotations: {} };
    session.record(call, 'allow', 'success', { structuredContent: { ok: true, i } }, Date.now(), 1);
  }
  return session;
}

async function timeEvaluations(evaluate, input, n) {
  for (let i = 0; i < Math.min(200, n); i++) await evaluate(input());
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await evaluate(input());
    lat.push(performance.now() - t);
  }
  return stats(lat);
}

export async function benchBudget({ n = 2000 } = {}) {
  const policy = await import(join(ROOT, 'dist/policy/index.js'));
  const { PolicyEngine, WorkerEngine, DEFAULT_EVALUATION_BUDGET } = policy;
  const { compileDirectory } = await import(join(ROOT, 'dist/bundles/index.js'));
  const { Session } = await import(join(ROOT, 'dist/session/index.js'));
  const cases = [
    { label: 'allow-all', dir: join(POLICIES, 'allow-all'), history: 0, window: 100 },
    { label: '10 history rules', dir: join(POLICIES, 'history10'), history: 10, window: 100 },
    { label: '10 history rules', dir: join(POLICIES, 'history10'), history: 10_000, window: 100 },
    { label: 'shipped policy/', dir: join(ROOT, 'policy'), history: 10_000, window: 100 },
  ];
  const rows = [];
  for (const c of cases) {
    const bundle = await compileDirectory(c.dir, 'mcp/decision');
    const inThread = await PolicyEngine.load(bundle, 'mcp/decision');
    const worker = await WorkerEngine.load(bundle, 'mcp/decision');
    try {
      const session = sessionWith(Session, c.history, c.window);
      const name = 'payment_processing';
      const call = { kind: 'tool', server: 's', tool: name, name, arguments: { payment_id: 'p3' }, annotations: {} };
      const input = () => session.buildInput(call, Date.now());
      const bytes = JSON.stringify(input()).length;
      // Two runs each, alternated, the better of each kept: on a shared machine neither gets the quieter moment.
      const a = await timeEvaluations((i) => inThread.evaluate(i), input, n);
      const b = await timeEvaluations((i) => worker.evaluate(i), input, n);
      const a2 = await timeEvaluations((i) => inThread.evaluate(i), input, n);
      const b2 = await timeEvaluations((i) => worker.evaluate(i), input, n);
      const thread = { p50: Math.min(a.p50, a2.p50), p99: Math.min(a.p99, a2.p99) };
      const viaWorker = { p50: Math.min(b.p50, b2.p50), p99: Math.min(b.p99, b2.p99) };
      rows.push({ ...c, bytes, thread, worker: viaWorker });
    } finally {
      await worker.close();
    }
  }

  // A stalled evaluation: the watchdog's answer, and what the next call then waits for.
  const bundle = await compileDirectory(join(POLICIES, 'budget'), 'mcp/decision');
  const starts = [];
  const recoveries = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const worker = await WorkerEngine.load(bundle, 'mcp/decision');
    starts.push(performance.now() - t0);
    try {
      const call = (args) => ({
        version: 1,
        call: { kind: 'tool', server: 's', tool: 'echo', name: 'echo', arguments: args, annotations: {} },
      });
      await worker.evaluate(call({ message: 'warm' }));
      await worker.evaluate(call({ message: 'stall', spin: 100_000 }));
      const t1 = performance.now();
      await worker.evaluate(call({ message: 'next' }));
      recoveries.push(performance.now() - t1);
    } finally {
      await worker.close();
    }
  }
  return { rows, budget: DEFAULT_EVALUATION_BUDGET, start: stats(starts), recovery: stats(recoveries), n };
}

export function formatBudget({ rows, budget, start, recovery, n }) {
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const lines = [
    `decision latency, ${n} evaluations each (build the input document, evaluate mcp/decision, read the decision)`,
    '',
    '| policy | history | window | input KB | in-thread p50 ms | in-thread p99 ms | worker p50 ms | worker p99 ms ' +
      '| added p50 ms | added p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const cells = [
      r.label,
      r.history,
      r.window,
      f(r.bytes / 1024, 1),
      f(r.thread.p50),
      f(r.thread.p99),
      f(r.worker.p50),
      f(r.worker.p99),
      f(r.worker.p50 - r.thread.p50),
      f(r.worker.p99 - r.thread.p99),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    `| after a stalled evaluation (budget ${budget.timeoutMs} ms) | p50 ms | p99 ms |`,
    '|---|---|---|',
    `| a worker's start (compile once, load module and data) | ${f(start.p50, 1)} | ${f(start.p99, 1)} |`,
    `| the next call after a timeout (waits for the fresh worker) | ${f(recovery.p50, 1)} | ${f(recovery.p99, 1)} |`,
  );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const nArg = process.argv.indexOf('--n');
  console.log(formatBudget(await benchBudget({ n: nArg > 0 ? Number(process.argv[nArg + 1]) : 2000 })));
}
