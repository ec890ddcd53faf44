#!/usr/bin/env node
// The result policy's cost (`mcp/result`, the shipped detectors on): what judging one tool result
// adds, for text results of 1 KB, 64 KB and 1 MB, clean and with credentials in them. Evaluated by
// the policy worker as Warden runs it, with the input Warden builds (resultTexts).
// Alone: `npm run bench -- results`, or `node bench/results.mjs [--quick]`.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { percentile } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dist = (part) => import(join(ROOT, 'dist', part, 'index.js'));

const PROSE = 'The build finished in 42 s; 163 tests passed for billing-api and the artefact was uploaded. ';
const LEAK = ' key AKIAQWERTYUIOPASDFGH token ghp_0123456789abcdefghijABCDEFGHIJ456789 ';
const SIZES = [1024, 64 * 1024, 1024 * 1024];

/** A text result of about `bytes` characters: prose, and with `leaks` a credential every 4 KB. */
function textResult(bytes, leaks) {
  let text = '';
  while (text.length < bytes) text += leaks && text.length % 4096 < PROSE.length ? PROSE + LEAK : PROSE;
  return { content: [{ type: 'text', text: text.slice(0, bytes) }] };
}

async function timed(worker, resultTexts, result, n) {
  const input = {
    version: 1,
    call: { kind: 'tool', server: 'ci', tool: 'fetch_log', name: 'fetch_log', arguments: {}, annotations: {}, id: 'c' },
    decision: { allow: true, reasons: [], obligations: {} },
    principal: { sub: 'alice', roles: [], claims: {} },
    session: { id: 's', client: { name: 'bench', version: '1' }, started_at: new Date(0).toISOString() },
    history: [],
    now_ms: 0,
  };
  const lat = [];
  let action = '';
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await worker.evaluateEntrypoint('mcp/result', { ...input, result, texts: resultTexts(result) });
    lat.push(performance.now() - t0);
    action = r.ok ? `${r.result.action} (${r.result.redact.length} kinds)` : `error: ${r.message}`;
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), action };
}

export async function benchResults({ quick = false } = {}) {
  const [policyMod, bundles] = await Promise.all(['policy', 'bundles'].map(dist));
  const { resultTexts } = await import(join(ROOT, 'dist/proxy/result-inspection.js'));
  const bundle = await bundles.readBundleFile(bundles.SHIPPED_BUNDLE_FILE);
  const worker = await policyMod.WorkerEngine.load(bundle, 'mcp/decision');
  try {
    if (!worker.hasEntrypoint('mcp/result')) throw new Error('the shipped bundle has no mcp/result: run npm run build');
    await timed(worker, resultTexts, textResult(1024, true), quick ? 20 : 200); // warm-up
    const rows = [];
    for (const bytes of SIZES) {
      const n = Math.max(5, Math.round((quick ? 20 : 200) / Math.max(1, bytes / 65536)));
      for (const leaks of [false, true])
        rows.push({ bytes, leaks, n, ...(await timed(worker, resultTexts, textResult(bytes, leaks), n)) });
    }
    return { rows, revision: bundle.revision };
  } finally {
    await worker.close();
  }
}

export function formatResults({ rows, revision }) {
  const base = rows.find((r) => r.bytes === 1024 && !r.leaks);
  const lines = [
    '### The result policy on one text result (shipped detectors)',
    '',
    '| result | credentials in it | p50 ms | p99 ms | p50 per KB µs | p50 vs 1 KB clean | answer | iterations |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.bytes >= 1048576 ? `${r.bytes / 1048576} MB` : `${r.bytes / 1024} KB`} | ${r.leaks ? 'yes' : 'no'} | ` +
        `${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${((r.p50 * 1000) / (r.bytes / 1024)).toFixed(1)} | ` +
        `${(r.p50 / base.p50).toFixed(1)}x | ${r.action} | ${r.n} |`,
    ),
    '',
    `- policy: the shipped policy (revision ${revision}), entrypoint mcp/result in the policy worker; ms = wall time of`,
    '  one evaluation with the input Warden builds (its readable strings with their pointers).',
  ];
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(formatResults(await benchResults({ quick: process.argv.includes('--quick') })));
}
