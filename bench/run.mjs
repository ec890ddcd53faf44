#!/usr/bin/env node
// `npm run bench` (make bench): every benchmark, printed as tables. Never run by the tests:
// timings are measured here, not asserted. Each part also runs alone: node bench/<part>.mjs.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const only = process.argv.slice(2);
// A part is named by its title or its file's name: `npm run bench -- stdio` runs bench/stdio.mjs.
const want = (name, file) => only.length === 0 || only.includes(name) || only.includes(file.replace(/\.mjs$/, ''));
const here = (file) => fileURLToPath(new URL(file, import.meta.url));

async function part(name, file, run) {
  if (!want(name, file)) return;
  if (!existsSync(here(file))) {
    console.log(`\n## ${name}\n(${file} is not present)`);
    return;
  }
  console.log(`\n## ${name}`);
  const started = Date.now();
  try {
    console.log(await run(await import(`./${file}`)));
  } catch (err) {
    console.log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  }
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

console.log(`# Warden benchmarks (Node ${process.version}, ${(await import('node:os')).cpus().length} cores)`);
await part('stdio proxy', 'stdio.mjs', async (m) => m.formatStdio(await m.benchStdio()));
await part('audit trail', 'audit.mjs', async (m) => m.formatTable(await m.benchAudit()));
await part('http front', 'http.mjs', async (m) => (m.formatHttp ?? m.formatTable)(await m.benchHttp()));
await part('policy bundles', 'bundles.mjs', async (m) => (m.formatBundles ?? m.formatTable)(await m.benchBundles()));
await part('policy evaluation budget', 'budget.mjs', async (m) => m.formatBudget(await m.benchBudget()));
await part('history', 'history.mjs', async (m) => m.formatHistory(await m.benchHistory()));
await part('replicas', 'replicas.mjs', async (m) => m.formatReplicas(await m.benchReplicas()));
await part('result policy', 'results.mjs', async (m) => m.formatResults(await m.benchResults()));
await part('tool pinning', 'pinning.mjs', async (m) => m.formatPinning(await m.benchPinning()));
