#!/usr/bin/env node
// Run the official MCP conformance suite's server scenarios against a URL and print a JSON
// summary read from the suite's own result files.
//
//   node scripts/conformance.mjs --url http://localhost:PORT/mcp [--out DIR] [--suite all|active|pending]
//                                [--scenario NAME]... [--summary FILE] [--node PATH] [--harness FILE]
//
// The suite (@modelcontextprotocol/conformance, a devDependency) needs Node >= 22, so it runs
// under the binary scripts/node22.sh provides; this script itself runs on the machine's Node.
// Each run writes into a fresh DIR/run-XXXXXX (default DIR: test/.tmp/conformance): the suite
// saves one `server-<scenario>-<timestamp>/checks.json` per scenario and its console output goes
// to suite.log there. Exit status: 0 when no scenario has a FAILURE check, 1 otherwise, 2 on
// usage or setup errors.
//
// A scenario passes when none of its checks is FAILURE, which is the suite's own verdict (its
// SUMMARY marks such scenarios ✓). WARNING checks (SHOULD-level) are counted and listed apart.
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  createWriteStream,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// The handshake-era suite (0.1.16), and 0.2.0-alpha.12 for a revision's frozen requirements.
const SUITE_PACKAGE = '@modelcontextprotocol/conformance';
const REQUIREMENTS_PACKAGE = '@modelcontextprotocol/conformance-2026';
const SUMMARY_VERSION = 1;

function fail(message) {
  process.stderr.write(`conformance: ${message}\n`);
  process.exit(2);
}

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' },
    out: { type: 'string', default: join(REPO, 'test', '.tmp', 'conformance') },
    suite: { type: 'string', default: 'all' },
    requirements: { type: 'string' },
    scenario: { type: 'string', multiple: true },
    summary: { type: 'string' },
    node: { type: 'string' },
    harness: { type: 'string' },
    timeout: { type: 'string', default: '120000' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opts.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 17)
      .join('\n') + '\n',
  );
  process.exit(0);
}
if (!opts.url) fail('--url is required (e.g. --url http://localhost:3000/mcp)');
const timeoutMs = Number(opts.timeout);
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
  fail(`--timeout must be a positive number of ms, got ${opts.timeout}`);

const require = createRequire(import.meta.url);
const pkgPath = require.resolve(`${opts.requirements ? REQUIREMENTS_PACKAGE : SUITE_PACKAGE}/package.json`);
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
const harness = resolve(opts.harness ?? join(dirname(pkgPath), pkg.bin.conformance));
if (!existsSync(harness)) fail(`suite entry point not found: ${harness}`);

const node22 = opts.node ?? nodeFromScript();
function nodeFromScript() {
  try {
    const out = execFileSync('bash', [join(REPO, 'scripts', 'node22.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return out.trim().split('\n').at(-1);
  } catch {
    return fail('scripts/node22.sh could not provide Node 22 (see its message above)');
  }
}
const nodeVersion = execFileSync(node22, ['--version'], { encoding: 'utf8' }).trim();

mkdirSync(opts.out, { recursive: true });
const runDir = mkdtempSync(join(resolve(opts.out), 'run-'));
const log = createWriteStream(join(runDir, 'suite.log'));

/** Run the suite CLI once under Node 22, teeing its console output to suite.log. */
function runSuite(args) {
  return new Promise((resolvePromise) => {
    const child = spawn(node22, [harness, ...args], { cwd: runDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      log.write(chunk);
    });
    child.stderr.on('data', (chunk) => log.write(chunk));
    const timer = setTimeout(() => {
      log.write(`\n[conformance.mjs] timed out after ${timeoutMs} ms; killing the suite\n`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout });
    });
  });
}

const started = Date.now();
const runs = [];
let expected;
/** With --requirements: scenarios the suite ran but does not score for the revision (extensions, pending). */
let unscored = new Set();
if (opts.requirements) {
  // The revision's frozen scenario set; the suite names each one it runs, then those it does not score.
  runs.push(await runSuite(['server', '--url', opts.url, '--requirements', opts.requirements, '-o', runDir]));
  expected = [...runs[0].stdout.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]);
  const notScored = runs[0].stdout.split(/^Not scored for .*$/m)[1] ?? '';
  unscored = new Set([...notScored.matchAll(/^\s+[✓✗] (\S+) \(/gm)].map((m) => m[1]));
} else if (opts.scenario?.length) {
  expected = opts.scenario;
  for (const name of expected) {
    runs.push(await runSuite(['server', '--url', opts.url, '--scenario', name, '-o', runDir]));
  }
} else {
  // `list --server` names every server scenario (pending ones included), so a scenario the
  // suite never got to (crash, timeout) is reported as failed rather than silently missing.
  const listed = await runSuite(['list', '--server']);
  const all = [...listed.stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]);
  runs.push(await runSuite(['server', '--url', opts.url, '--suite', opts.suite, '-o', runDir]));
  const attempted = [...runs[0].stdout.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]);
  expected = opts.suite === 'all' ? all : attempted;
}
await new Promise((r) => log.end(r));

const resultDirs = readdirSync(runDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const scenarios = {};
for (const name of expected) {
  const pattern = new RegExp(`^server-${escape(name)}-\\d{4}-\\d{2}-\\d{2}T[\\d-]+Z$`);
  const dir = resultDirs.find((d) => pattern.test(d));
  let checks;
  // A scenario that crashed may leave its directory without checks.json: that is a failure too.
  if (dir && existsSync(join(runDir, dir, 'checks.json'))) {
    checks = JSON.parse(readFileSync(join(runDir, dir, 'checks.json'), 'utf8'));
  } else {
    checks = [
      {
        id: 'no-result',
        status: 'FAILURE',
        errorMessage: `the suite wrote no result for ${name}; see ${join(runDir, 'suite.log')}`,
      },
    ];
  }
  const count = (status) => checks.filter((c) => c.status === status).length;
  const brief = (c) => ({ id: c.id, message: c.errorMessage ?? c.description ?? '' });
  scenarios[name] = {
    passed: count('FAILURE') === 0,
    scored: !unscored.has(name),
    checks: { success: count('SUCCESS'), failure: count('FAILURE'), warning: count('WARNING'), info: count('INFO') },
    failures: checks.filter((c) => c.status === 'FAILURE').map(brief),
    warnings: checks.filter((c) => c.status === 'WARNING').map(brief),
    result_dir: dir ? join(runDir, dir) : null,
  };
}

const values = Object.values(scenarios);
const summary = {
  version: SUMMARY_VERSION,
  suite: `${pkg.name}@${pkg.version}`,
  node: nodeVersion,
  url: opts.url,
  output_dir: runDir,
  duration_ms: Date.now() - started,
  suite_exit_codes: runs.map((r) => r.code ?? r.signal),
  total: values.length,
  passed: values.filter((s) => s.passed).length,
  failed: values.filter((s) => !s.passed).length,
  warnings: values.reduce((n, s) => n + s.checks.warning, 0),
  requirements: opts.requirements ?? null,
  scored: { total: values.filter((s) => s.scored).length, passed: values.filter((s) => s.scored && s.passed).length },
  scenarios,
};

const json = JSON.stringify(summary, null, 2);
if (opts.summary) {
  mkdirSync(dirname(resolve(opts.summary)), { recursive: true });
  writeFileSync(opts.summary, json + '\n');
}
writeFileSync(join(runDir, 'summary.json'), json + '\n');
process.stdout.write(json + '\n');
process.exitCode = summary.failed === 0 ? 0 : 1;
