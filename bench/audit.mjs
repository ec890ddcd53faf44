#!/usr/bin/env node
// Audit trail benchmark: appends/s and per-append latency (p50/p99) for SQLite and PostgreSQL.
// Runs against the built dist/ (make bench builds first). Alone: `node bench/audit.mjs [--n 2000]`.
// PostgreSQL: WARDEN_BENCH_PG_URL, or a private server from scripts/pg-test-server.sh (durable
// settings: fsync on, so the numbers include the commit flush that an acknowledged append waits for).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { percentile } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function event(i) {
  return {
    type: 'call.decided',
    session_id: `bench-${i % 8}`,
    data: {
      call_id: `c-${i}`,
      decision_id: `d-${i}`,
      allow: i % 5 !== 0,
      reasons:
        i % 5 === 0
          ? [{ rule: 'deploy.tests_first', message: 'run_tests must succeed before deploy_to_production' }]
          : [],
      monitored: false,
      obligations: {},
      revision: 'rev-1',
      mode: 'enforce',
      enforced: true,
    },
  };
}

/** Sequential: each append awaited before the next, as one call at a time sees it. */
async function sequential(store, n) {
  const lat = [];
  for (let i = 0; i < 50; i++) await store.append(event(i)); // warm-up
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await store.append(event(i));
    lat.push(performance.now() - t);
  }
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { mode: 'sequential', appends_per_s: n / secs, p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99) };
}

/** Concurrent: `width` calls in flight, as under load; appends in one tick share a commit. */
async function concurrent(store, n, width = 32) {
  const lat = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await store.append(event(i));
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return {
    mode: `${width} in flight`,
    appends_per_s: n / secs,
    p50_ms: percentile(lat, 50),
    p99_ms: percentile(lat, 99),
  };
}

/** A private PostgreSQL from scripts/pg-test-server.sh (durable: fsync on): {url, dataDir, stop()}. */
export function startPostgres() {
  const out = execFileSync('bash', [join(ROOT, 'scripts/pg-test-server.sh'), 'start'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const vars = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    url: vars.PGURL,
    dataDir: vars.PGDATA,
    stop: () =>
      execFileSync('bash', [join(ROOT, 'scripts/pg-test-server.sh'), 'stop', vars.PGDATA], { stdio: 'ignore' }),
  };
}

/**
 * Runs the audit benchmark and returns one row per store and mode. Options: `n` appends per
 * measurement (default 2000), `pgUrl` (default $WARDEN_BENCH_PG_URL or a private server), `stores`.
 */
export async function benchAudit({
  n = 2000,
  pgUrl = process.env.WARDEN_BENCH_PG_URL,
  stores = ['sqlite', 'postgres'],
} = {}) {
  const { openAuditStore, verifyChain } = await import(join(ROOT, 'dist/audit/index.js'));
  const rows = [];
  const measure = async (name, url, options = {}) => {
    for (const run of [sequential, concurrent]) {
      const store = await openAuditStore(url, options);
      try {
        rows.push({ store: name, ...(await run(store, n)) });
        const check = await verifyChain(store);
        if (!check.ok) throw new Error(`bench chain broken: ${JSON.stringify(check)}`);
      } finally {
        await store.close();
      }
    }
  };
  if (stores.includes('sqlite')) {
    const dir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
    try {
      await measure('sqlite (WAL, synchronous=FULL)', `sqlite:${join(dir, 'full.db')}`);
      // Opt-in trade-off: survives kill -9, not power loss (AuditStoreOptions.synchronous).
      await measure('sqlite (WAL, synchronous=NORMAL)', `sqlite:${join(dir, 'normal.db')}`, { synchronous: 'normal' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (stores.includes('postgres')) {
    const server = pgUrl ? null : startPostgres();
    try {
      await measure('postgres (synchronous_commit=on)', pgUrl ?? server.url);
    } finally {
      server?.stop();
    }
  }
  return rows;
}

export function formatTable(rows) {
  const head = ['store', 'mode', 'appends/s', 'p50 ms', 'p99 ms'];
  const body = rows.map((r) => [r.store, r.mode, r.appends_per_s.toFixed(0), r.p50_ms.toFixed(3), r.p99_ms.toFixed(3)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--n');
  const n = i > 0 ? Number(process.argv[i + 1]) : undefined;
  const rows = await benchAudit(n ? { n } : {});
  process.stdout.write('audit trail\n' + formatTable(rows));
}
