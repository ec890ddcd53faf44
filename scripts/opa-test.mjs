#!/usr/bin/env node
// Runs the Rego tests and gates on line coverage, for `make test-policy` and CI.
//
//   node scripts/opa-test.mjs [--coverage-min 90] [DIR...]     (default DIRs: policy policy-tests)
//
// 1. `opa test -v DIR...`: prints opa's usual per-test result, then a closing
//    "N passed, N failed" line that CI and the test counter read. Any failure or error exits 1.
// 2. `opa test --coverage --format=json DIR...`: prints the line coverage of the policy itself
//    (test packages and fixtures excluded, so tests cannot pad the number) and exits 1 below
//    --coverage-min, listing the worst files with their uncovered lines.
//
// opa is $WARDEN_OPA, else .tools/bin/opa (what `make tools` installs), else opa on PATH.
// Plain Node ESM without dependencies, so it runs before `npm ci`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node scripts/opa-test.mjs [--coverage-min PERCENT] [DIR...]';

function parseArgs(argv) {
  const options = { coverageMin: 90, dirs: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg === '--coverage-min' || arg.startsWith('--coverage-min=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[(i += 1)];
      options.coverageMin = Number(value);
      if (value === undefined || value === '' || !Number.isFinite(options.coverageMin)) {
        fail(`--coverage-min needs a number between 0 and 100, got ${JSON.stringify(value)}\n${USAGE}`);
      }
    } else if (arg.startsWith('-')) {
      fail(`unknown option ${arg}\n${USAGE}`);
    } else {
      options.dirs.push(arg);
    }
  }
  if (options.dirs.length === 0) options.dirs = ['policy', 'policy-tests'];
  for (const dir of options.dirs) {
    if (!existsSync(dir)) fail(`no such directory: ${dir} (run from the repository root, or pass the policy directories)`);
  }
  return options;
}

function fail(message) {
  console.error(`opa-test: ${message}`);
  process.exit(1);
}

function findOpa() {
  if (process.env.WARDEN_OPA) return process.env.WARDEN_OPA;
  const local = join(ROOT, '.tools', 'bin', 'opa');
  return existsSync(local) ? local : 'opa';
}

function run(opa, args) {
  const result = spawnSync(opa, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.error) {
    fail(`cannot run ${opa}: ${result.error.message}. Run \`make tools\`, or set WARDEN_OPA to an opa binary.`);
  }
  return result;
}

// opa ends `opa test` with "PASS: n/total" and, when some did not pass, "FAIL: n/total",
// "ERROR: n/total" (errors are failures too; skipped tests are neither).
function countResults(output) {
  const count = (label) => {
    const match = output.match(new RegExp(`^${label}: (\\d+)/(\\d+)$`, 'm'));
    return match ? Number(match[1]) : 0;
  };
  return { passed: count('PASS'), failed: count('FAIL') + count('ERROR') };
}

// A file counts toward coverage unless it is test code: *_test.rego, or a package ending in
// _test (shared fixtures live in such packages too).
function isTestFile(path) {
  if (path.endsWith('_test.rego')) return true;
  try {
    return /^package\s+[\w.]+_test\s*$/m.test(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
}

// Turns opa's covered / not_covered ranges into "12, 18-23".
function describeRanges(ranges = []) {
  const rows = new Set();
  for (const { start, end } of ranges) for (let row = start.row; row <= end.row; row += 1) rows.add(row);
  const sorted = [...rows].sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < sorted.length; i += 1) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j += 1;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(', ');
}

function main() {
  const { coverageMin, dirs } = parseArgs(process.argv.slice(2));
  const opa = findOpa();

  // --- 1. tests ---
  const tests = run(opa, ['test', '-v', ...dirs]);
  process.stdout.write(tests.stdout);
  process.stderr.write(tests.stderr);
  const { passed, failed } = countResults(tests.stdout);
  console.log(`${passed} passed, ${failed} failed`);
  if (tests.status !== 0 || failed > 0) {
    fail(`opa test failed (exit ${tests.status}); see above. Coverage is not measured until the tests pass.`);
  }
  if (passed === 0) fail(`no Rego tests found in ${dirs.join(' ')}`);

  // --- 2. coverage ---
  const coverage = run(opa, ['test', '--coverage', '--format=json', ...dirs]);
  let report;
  try {
    report = JSON.parse(coverage.stdout);
  } catch {
    process.stderr.write(coverage.stderr);
    fail(`opa test --coverage did not print a JSON report (exit ${coverage.status})`);
  }
  const files = Object.entries(report.files ?? {})
    .filter(([path]) => !isTestFile(path))
    .map(([path, file]) => ({
      path,
      covered: file.covered_lines ?? 0,
      missed: file.not_covered_lines ?? 0,
      percent: file.coverage ?? 100,
      uncovered: describeRanges(file.not_covered),
    }));
  const covered = files.reduce((sum, file) => sum + file.covered, 0);
  const total = covered + files.reduce((sum, file) => sum + file.missed, 0);
  const percent = total === 0 ? 0 : (100 * covered) / total;
  const overall = typeof report.coverage === 'number' ? `; ${report.coverage.toFixed(1)}% including tests` : '';
  console.log(
    `coverage: ${percent.toFixed(1)}% of policy lines (${covered}/${total} lines in ${files.length} files${overall}), minimum ${coverageMin}%`,
  );
  if (total === 0) fail('no policy lines were measured: are the policy directories right?');
  if (percent < coverageMin) {
    console.error(`opa-test: coverage ${percent.toFixed(1)}% is below the minimum ${coverageMin}%. Least covered files:`);
    for (const file of files.filter((f) => f.missed > 0).sort((a, b) => a.percent - b.percent).slice(0, 5)) {
      console.error(`  ${file.percent.toFixed(1).padStart(5)}%  ${file.path}  (uncovered lines: ${file.uncovered || 'none'})`);
    }
    process.exit(1);
  }
}

main();
