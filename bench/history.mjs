#!/usr/bin/env node
// Declared history (`mcp/history/reads`) against the session window, with the shipped policy:
// what a decision costs, and how big its decision-log input gets, as the recorded history grows;
// and what building the read model from an audit trail costs (start-up, and each policy swap).
// Runs against dist/ (make bench builds first). Alone: `npm run bench -- history`, or
// `node bench/history.mjs [--quick]` (--quick: a tenth of the iterations, smaller scopes; a smoke run).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { percentile } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const RESULT_MAX_CHARS = 256;
const WINDOW = 100;
const TOOLS = ['run_tests', 'security_scan', 'deploy_to_production'];
const SERVICES = 500;
const SESSIONS = 1000;
const PRINCIPALS = 50;
const WARM_UP = 3000;

// RSS is only comparable after a full collection; --expose-gc cannot be passed through `npm run`.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const dist = (part) => import(join(ROOT, 'dist', part, 'index.js'));

/** The i-th recorded call of the mix: who made it, what it was, and how it ended. */
function recorded(i) {
  const name = TOOLS[i % TOOLS.length];
  const service = `svc-${Math.floor(i / TOOLS.length) % SERVICES}`;
  const deploy = name === 'deploy_to_production';
  // Deploys mostly wait for approval (held, then denied or run); tests and scans fail now and then.
  const outcome = deploy ? (i % 2 === 0 ? 'denied' : 'success') : i % 11 === 4 ? 'error' : 'success';
  return {
    call: { kind: 'tool', server: 'ci', tool: name, name, arguments: { service, commit: `c${i}` }, annotations: {} },
    decision: outcome === 'denied' ? 'deny' : 'allow',
    outcome,
    result: {
      structuredContent: { ok: outcome === 'success', service, passed: 120, failed: outcome === 'error' ? 3 : 0 },
    },
    atMs: T0 + i * 1000,
    session: `s-${i % SESSIONS}`,
    principal: { sub: `user-${i % PRINCIPALS}`, roles: ['developer'], claims: {} },
  };
}

function stats(lat) {
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** Wall time of each `await evaluate(input)`: serialisation, the worker's hop and the Wasm evaluation. */
async function timeOnce(worker, input, n) {
  gc(); // the garbage of building the scope is not this decision's cost
  for (let i = 0; i < Math.min(100, n); i++) await worker.evaluate(input);
  const lat = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await worker.evaluate(input);
    lat.push(performance.now() - t);
  }
  return stats(lat);
}

/** Two runs per input, alternated, the better of each kept (as bench/budget.mjs: a shared machine). */
async function timeDecisions(worker, inputs) {
  const runs = [];
  for (let round = 0; round < 2; round++)
    for (const [i, { input, n }] of inputs.entries()) (runs[i] ??= []).push(await timeOnce(worker, input, n));
  return Promise.all(
    inputs.map(async ({ input, n }, i) => ({
      p50: Math.min(...runs[i].map((r) => r.p50)),
      p99: Math.min(...runs[i].map((r) => r.p99)),
      n,
      bytes: Buffer.byteLength(JSON.stringify(input)),
      entries: input.history.length,
      verdict: verdictOf((await worker.evaluate(input)).decision),
    })),
  );
}

function verdictOf(decision) {
  const reasons = [...new Set(decision.reasons.map((r) => r.rule))];
  if (decision.obligations?.approval?.required) reasons.push('approval required');
  return `${decision.allow ? 'allow' : 'deny'}${reasons.length ? ` (${reasons.join(', ')})` : ''}`;
}

/**
 * One scope of `size` recorded calls, fed as the read model feeds it (historyEntry, scopeKeys,
 * apply in trail order), and the sessions a window would come from: one that made the same calls.
 */
function scopeOf(sessionPart, reads, size, windows) {
  const { HistoryIndex, Session, historyEntry, scopeKeys } = sessionPart;
  const index = new HistoryIndex(reads);
  const caller = { sub: 'release-bot', roles: ['developer'], claims: {} };
  const sessions = windows.map((w) => new Session('caller', caller, new Date(T0).toISOString(), w));
  const green = new Map();
  for (let i = 0; i < size; i++) {
    const r = recorded(i);
    const where = { seq: i + 1, session: r.session, principal: r.principal.sub, resultMaxChars: RESULT_MAX_CHARS };
    const entry = historyEntry(r.call, r.decision, r.outcome, r.result, r.atMs, 900, where);
    index.apply({ entry, keys: scopeKeys(r.session, r.principal, undefined), order: i + 1 });
    for (const s of sessions) s.record(r.call, r.decision, r.outcome, r.result, r.atMs, 900);
    if (r.call.name !== 'deploy_to_production') green.set(`${r.call.arguments.service}/${r.call.name}`, r.outcome);
  }
  // The deploy asks for a service whose latest tests and scan are green (when there is one): its gates pass.
  const services = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);
  const ok = (s) => green.get(`${s}/run_tests`) === 'success' && green.get(`${s}/security_scan`) === 'success';
  const service = services.findLast(ok) ?? 'svc-0';
  return { index, sessions, keys: scopeKeys('caller', caller, undefined), service };
}

async function decisionRow(modules, worker, reads, size, quick) {
  const many = quick ? 200 : 2000;
  const few = quick ? 10 : 30;
  const uncapped = size <= 10_000;
  const windows = [{ historyWindow: WINDOW, resultMaxChars: RESULT_MAX_CHARS }];
  if (uncapped) windows.push({ historyWindow: size, resultMaxChars: RESULT_MAX_CHARS });
  const built = performance.now();
  const { index, sessions, keys, service } = scopeOf(modules.session, reads, size, windows);
  const buildMs = performance.now() - built;
  const name = 'deploy_to_production';
  const call = {
    kind: 'tool',
    server: 'ci',
    tool: name,
    name,
    arguments: { service, commit: 'head' },
    annotations: {},
  };
  const now = T0 + (size + 1) * 1000;

  const lookups = [];
  for (let i = 0; i < 20_000; i++) {
    const t = performance.now();
    index.lookup(name, call.arguments, keys);
    lookups.push(performance.now() - t);
  }
  const history = index.lookup(name, call.arguments, keys);
  const inputs = [
    { input: sessions[0].buildInput(call, now, 'c-bench', history), n: many },
    { input: sessions[0].buildInput(call, now, 'c-bench'), n: many },
  ];
  if (uncapped) inputs.push({ input: sessions[1].buildInput(call, now, 'c-bench'), n: size > 1000 ? few : many });
  const [declared, windowed, whole = null] = await timeDecisions(worker, inputs);
  return { size, buildMs, indexed: index.size, lookup: stats(lookups), declared, windowed, whole };
}

/** The records the pipeline writes for one call of the mix (a denied one is received and decided only). */
function callRecords(audit, r, i) {
  const id = `c-${i}`;
  const at = (ms) => new Date(r.atMs + ms).toISOString();
  const allow = r.decision === 'allow';
  const received = { call_id: id, ...r.call, now_ms: r.atMs };
  const decided = {
    call_id: id,
    decision_id: `d-${i}`,
    allow,
    policy_allow: allow,
    reasons: allow ? [] : [{ rule: 'warden.approval_required', message: 'production deploy needs a release manager' }],
    monitored: [],
    obligations: {},
    revision: 'rev-1',
    mode: 'enforce',
    now_ms: r.atMs + 1,
  };
  const events = [audit.callReceived(r.session, received, at(0)), audit.callDecided(r.session, decided, at(1))];
  if (!allow) return events;
  const done = { call_id: id, outcome: r.outcome, duration_ms: 900, result_digest: 'sha256:0', result: r.result };
  events.push(audit.callForwarded(r.session, { call_id: id, server: 'ci' }, at(2)));
  events.push(
    audit.callCompleted(r.session, r.outcome === 'error' ? { ...done, error: 'tests failed' } : done, at(900)),
  );
  return events;
}

/** An SQLite trail of `calls` calls of the mix, over SESSIONS sessions; returns its record count. */
async function fillTrail(audit, url, calls) {
  const store = await audit.openAuditStore(url, { synchronous: 'normal' });
  let records = 0;
  try {
    let pending = [];
    const flush = async () => {
      records += (await Promise.all(pending)).length;
      pending = [];
    };
    for (let s = 0; s < Math.min(SESSIONS, calls); s++) {
      const { session, principal } = recorded(s);
      const data = { client: { name: 'bench', version: '1' }, principal, started_at: new Date(T0).toISOString() };
      pending.push(store.append(audit.sessionOpened(session, data)));
    }
    for (let i = 0; i < calls; i++) {
      for (const event of callRecords(audit, recorded(i), i)) pending.push(store.append(event));
      if (pending.length >= 2048) await flush();
    }
    await flush();
  } finally {
    await store.close();
  }
  return records;
}

/**
 * The model of a trail of `calls` calls, built by a new HistoryService's first lookup, as at start-up
 * or after a policy swap. The trail is filled by a child process, so this one's memory is the model's.
 */
function buildRow(modules, policy, dir, calls) {
  const url = `sqlite:${join(dir, `trail-${calls}.db`)}`;
  const filled = performance.now();
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--fill', url, String(calls)]);
  const fillS = (performance.now() - filled) / 1000;
  return measureBuild(modules, policy, url, { calls, records: Number(out), fillS });
}

async function measureBuild({ audit, reports, session }, policy, url, row) {
  const store = await audit.openAuditStore(url);
  try {
    const service = new reports.HistoryService({ policy, store, resultMaxChars: RESULT_MAX_CHARS });
    const caller = new session.Session('caller', { sub: 'release-bot', roles: [], claims: {} }, '', {
      historyWindow: WINDOW,
      resultMaxChars: RESULT_MAX_CHARS,
    });
    const name = 'deploy_to_production';
    const call = { kind: 'tool', server: 'ci', tool: name, name, arguments: { service: 'svc-1' }, annotations: {} };
    gc();
    const before = process.memoryUsage();
    let peak = before.rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
    const t = performance.now();
    const found = await service.lookup(caller, call); // the first lookup builds the model from the trail
    const ms = performance.now() - t;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage.rss());
    gc();
    const after = process.memoryUsage();
    // Asked again after the measurement, so the model is alive while it is measured.
    const again = await service.lookup(caller, call);
    return {
      ...row,
      ms,
      found: Math.max(found?.length ?? 0, again?.length ?? 0),
      rssMb: (after.rss - before.rss) / 2 ** 20,
      peakMb: (peak - before.rss) / 2 ** 20,
      heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
    };
  } finally {
    await store.close();
  }
}

/** Decisions before any is timed: the worker's Wasm and the JIT reach their steady state first. */
async function warmUp({ Session }, worker, n) {
  const caller = new Session('warm-up', { sub: 'release-bot', roles: [], claims: {} }, '', {
    historyWindow: WINDOW,
    resultMaxChars: RESULT_MAX_CHARS,
  });
  const name = 'deploy_to_production';
  const call = { kind: 'tool', server: 'ci', tool: name, name, arguments: { service: 'svc-0' }, annotations: {} };
  const input = caller.buildInput(call, T0, 'c-warm-up', []);
  for (let i = 0; i < n; i++) await worker.evaluate(input);
}

/** Runs both tables. `quick`: a tenth of the iterations and smaller trails (a smoke run). */
export async function benchHistory({ quick = false } = {}) {
  const [policyMod, bundles, session, reports, audit] = await Promise.all(
    ['policy', 'bundles', 'session', 'reports', 'audit'].map(dist),
  );
  const { SHIPPED_BUNDLE_FILE, readBundleFile, compileDirectory } = bundles;
  const bundle = await readBundleFile(SHIPPED_BUNDLE_FILE).catch(() =>
    compileDirectory(join(ROOT, 'policy'), 'mcp/decision'),
  );
  const worker = await policyMod.WorkerEngine.load(bundle, 'mcp/decision');
  const policy = {
    revision: bundle.revision,
    hasEntrypoint: (n) => worker.hasEntrypoint(n),
    evaluateEntrypoint: (n, input) => worker.evaluateEntrypoint(n, input),
  };
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-history-'));
  try {
    const declared = await reports.declaredReads(policy);
    if (!declared?.ok) throw new Error(`the shipped policy's reads are unusable: ${JSON.stringify(declared)}`);
    const modules = { audit, reports, session };
    // The build first, while this process holds little else: its memory growth is the model's.
    const builds = [];
    for (const calls of quick ? [1000, 10_000] : [10_000, 100_000])
      builds.push(await buildRow(modules, policy, dir, calls));
    await warmUp(session, worker, quick ? 300 : WARM_UP);
    const decisions = [];
    for (const size of quick ? [10, 10_000, 100_000] : [10, 10_000, 1_000_000])
      decisions.push(await decisionRow(modules, worker, declared.reads, size, quick));
    return { decisions, builds, reads: declared.reads.length, revision: bundle.revision };
  } finally {
    await worker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const count = (n) => n.toLocaleString('en-US');
const verdicts = (rows, column) => [...new Set(rows.map((r) => r[column].verdict))].join(' / ');

export function formatHistory({ decisions, builds, reads, revision }) {
  const base = decisions[0].declared.p99;
  const lines = [
    '### Decision cost and decision-log bytes by history size',
    '',
    '| recorded calls | reads: entries | reads: lookup p50 µs | reads: p50 ms | reads: p99 ms | reads: input ' +
      '| reads: p99 / p99@10 | window ≤100: entries | window: p50 ms | window: p99 ms | window: input ' +
      '| uncapped: entries | uncapped: p50 ms | uncapped: p99 ms | uncapped: input | iterations (reads/window/uncapped) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of decisions) {
    const w = r.whole;
    const cells = [
      count(r.size),
      r.declared.entries,
      f(r.lookup.p50 * 1000, 1),
      f(r.declared.p50),
      f(r.declared.p99),
      kb(r.declared.bytes),
      `${f(r.declared.p99 / base, 2)}×`,
      r.windowed.entries,
      f(r.windowed.p50),
      f(r.windowed.p99),
      kb(r.windowed.bytes),
      w ? count(w.entries) : '-',
      w ? f(w.p50) : '-',
      w ? f(w.p99) : '-',
      w ? kb(w.bytes) : '-',
      `${r.declared.n}/${r.windowed.n}/${w ? w.n : '-'}`,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    `- policy: the shipped policy (dist/policy/shipped.tar.gz, revision ${revision}), ${reads} declared reads, ` +
      'evaluated by WorkerEngine (mcp/decision) as Warden runs it; ms = wall time of `await evaluate(input)` ' +
      '(serialisation, the hop to the worker thread, the Wasm evaluation).',
    '- the call: deploy_to_production for a service whose latest tests and scan are green (global scope); ' +
      `its decision with declared reads: ${verdicts(decisions, 'declared')}; with the window: ` +
      `${verdicts(decisions, 'windowed')} (the window holds session-scope entries, the workflow reads global ones).`,
    `- recorded calls: run_tests / security_scan / deploy_to_production in turn, over ${SERVICES} services, ` +
      `${SESSIONS} sessions and ${PRINCIPALS} principals; every row is generated synthetically straight into ` +
      'HistoryIndex (historyEntry, scopeKeys, apply in trail order: what HistoryModel.settle does), not through ' +
      'an audit store (table 2 measures that path).',
    '- reads: input.history = index.lookup(...) for the call, then Session.buildInput(call, now, id, history). ' +
      `window: the newest min(N, ${WINDOW}) entries of a session that made the same N calls, what Warden sends ` +
      'when a policy declares no reads; uncapped: the same session with historyWindow = N (10 and 10,000 only).',
    '- input = bytes of JSON.stringify(input document), i.e. the `input` of the decision-log line; ' +
      'lookup p50 over 20,000 lookups; ratio = reads p99 at N / reads p99 at 10. Timed after ' +
      `${count(WARM_UP)} warm-up decisions; each input timed twice, alternated, the better p50 and p99 kept ` +
      '(as bench/budget.mjs: a shared 2-core machine).',
    '- index held (entries over all reads): ' +
      decisions
        .map(
          (r) =>
            `${count(r.size)} calls: ${count(r.indexed)} (index and sessions filled in ${f(r.buildMs / 1000, 1)} s)`,
        )
        .join('; '),
    '',
    '### Read model build from the trail',
    '',
    '| calls in the trail | records | build ms | records/s | calls/s | RSS growth MB | RSS peak growth MB ' +
      '| heap growth MB | entries found |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const b of builds) {
    const cells = [
      count(b.calls),
      count(b.records),
      f(b.ms, 0),
      count(Math.round(b.records / (b.ms / 1000))),
      count(Math.round(b.calls / (b.ms / 1000))),
      f(b.rssMb, 1),
      f(b.peakMb, 1),
      f(b.heapMb, 1),
      b.found,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    '- trail: the same mix in an SQLite store (openAuditStore, WAL), records built with the typed constructors of ' +
      'src/audit/records.ts (session.opened per session; call.received, call.decided, and for a call that ran ' +
      'call.forwarded and call.completed). Filled beforehand (not timed: ' +
      builds.map((b) => `${f(b.fillS, 1)} s`).join(', ') +
      '), the store reopened, then a new HistoryService built by its first lookup (mcp/history/reads evaluated, ' +
      'the whole trail read in pages and folded into the index): what start-up and each policy swap cost.',
    '- RSS / heap growth: process.memoryUsage() after a full GC, before and after the build, the model alive; ' +
      'peak: the highest RSS sampled every 5 ms during the build. RSS also counts memory freed but not given back ' +
      "(V8's heap pages, SQLite's page cache); heap growth after the GC is what stays live. The trail is filled " +
      'by a child process.',
  );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === '--fill') {
  process.stdout.write(String(await fillTrail(await dist('audit'), process.argv[3], Number(process.argv[4]))));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(formatHistory(await benchHistory({ quick: process.argv.includes('--quick') })));
}
