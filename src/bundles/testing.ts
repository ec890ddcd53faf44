import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PolicyError } from '../common/index.js';
import { runOpa } from './toolchain.js';

/** Where Warden's Rego lives by default: the policy and its tests (`policy-tests/` mirrors `policy/`). */
export const DEFAULT_POLICY_DIRS: readonly string[] = ['policy', 'policy-tests'];

/** The line-coverage minimum `make test-policy` and `warden policy test` enforce unless told otherwise. */
export const DEFAULT_COVERAGE_MIN = 90;

export interface PolicyTestOptions {
  /** Directories with policies and their tests; default {@link DEFAULT_POLICY_DIRS}. */
  dirs?: readonly string[];
  /** Fail below this percentage of policy lines covered; 0 skips measuring coverage. Default 90. */
  coverageMin?: number;
  /**
   * Only tests whose name matches this regex (opa's `--run`). Coverage is still measured over the
   * whole suite, so a filtered run is not failed for the lines the other tests cover.
   */
  run?: string;
  /** Directory opa runs in; `dirs` and the file paths in the report are relative to it. Default: the process's. */
  cwd?: string;
  /** The opa binary; default {@link findOpa}. */
  opa?: string;
}

/** Line coverage of one policy file. */
export interface FileCoverage {
  /** As opa reports it: relative to `cwd` when `dirs` are. */
  path: string;
  percent: number;
  covered: number;
  missed: number;
  /** Uncovered lines as ranges, `"12, 18-23"`; empty when all are covered. */
  uncovered: string;
}

/** Line coverage of the policy itself: test files (see {@link isTestFile}) are left out. */
export interface PolicyCoverage {
  percent: number;
  covered: number;
  total: number;
  minimum: number;
  /** opa's own figure, which counts the test files too; null when opa gave none. */
  includingTests: number | null;
  files: FileCoverage[];
}

export interface PolicyTestResult {
  passed: number;
  /** Failed plus errored tests. */
  failed: number;
  /** `opa test -v`'s stdout: a result line per test, then opa's summary. */
  output: string;
  /** What opa printed on stderr. */
  stderr: string;
  /** `opa test -v`'s exit status. */
  exitCode: number;
  /** Null when not measured: the tests did not pass, or `coverageMin` is 0. */
  coverage: PolicyCoverage | null;
  ok: boolean;
  /** Why `ok` is false, one message each (the coverage one lists the least covered files on the following lines). */
  problems: string[];
}

/**
 * Runs the Rego tests with `opa test -v`, then (once they pass) measures the line coverage of the
 * policy with `opa test --coverage` and gates it on `coverageMin`. Test files do not count toward
 * coverage, so tests cannot pad the number.
 *
 * @throws PolicyError when a directory does not exist or `coverageMin` is not a percentage;
 *   ToolchainError when opa cannot be found or started.
 * @example
 * ```ts
 * const result = await runPolicyTests({ dirs: ['policy', 'policy-tests'], coverageMin: 90 });
 * report(`${result.passed} passed, ${result.failed} failed`);
 * if (result.coverage) report(formatCoverage(result.coverage));
 * if (!result.ok) report(result.problems.join('\n'));
 * ```
 */
export async function runPolicyTests(options: PolicyTestOptions = {}): Promise<PolicyTestResult> {
  const dirs = options.dirs && options.dirs.length > 0 ? [...options.dirs] : [...DEFAULT_POLICY_DIRS];
  const coverageMin = options.coverageMin ?? DEFAULT_COVERAGE_MIN;
  const cwd = options.cwd ?? process.cwd();
  if (!Number.isFinite(coverageMin) || coverageMin < 0 || coverageMin > 100) {
    throw new PolicyError(
      'policy_coverage_min_invalid',
      `coverageMin needs a number between 0 and 100, got ${String(coverageMin)}. Fix: pass a percentage (0 skips measuring coverage).`,
    );
  }
  for (const dir of dirs) {
    if (!existsSync(resolve(cwd, dir))) {
      throw new PolicyError(
        'policy_dir_missing',
        `no such directory: ${dir} (run from the repository root, or pass the policy directories)`,
      );
    }
  }
  const opaOptions = { cwd, ...(options.opa ? { opa: options.opa } : {}) };

  // --- 1. tests ---
  const tests = await runOpa(['test', '-v', ...(options.run ? ['--run', options.run] : []), ...dirs], opaOptions);
  const { passed, failed } = countResults(tests.stdout);
  const result: PolicyTestResult = {
    passed,
    failed,
    output: tests.stdout,
    stderr: tests.stderr,
    exitCode: tests.code,
    coverage: null,
    ok: false,
    problems: [],
  };
  if (tests.code !== 0 || failed > 0) {
    result.problems.push(
      `opa test failed (exit ${tests.code}); see above. Coverage is not measured until the tests pass.`,
    );
    return result;
  }
  if (passed === 0) {
    result.problems.push(
      `no Rego tests found in ${dirs.join(' ')}${options.run ? ` matching --run ${options.run}` : ''}`,
    );
    return result;
  }
  if (coverageMin === 0) {
    result.ok = true;
    return result;
  }

  // --- 2. coverage ---
  const run = await runOpa(['test', '--coverage', '--format=json', ...dirs], opaOptions);
  let report: CoverageReport;
  try {
    report = JSON.parse(run.stdout) as CoverageReport;
  } catch {
    const detail = run.stderr.trim();
    result.problems.push(
      `opa test --coverage did not print a JSON report (exit ${run.code})${detail ? `:\n${detail}` : ''}`,
    );
    return result;
  }
  const coverage = measureCoverage(report, coverageMin, (path) => isTestFile(resolve(cwd, path)));
  result.coverage = coverage;
  if (coverage.total === 0) {
    result.problems.push('no policy lines were measured: are the policy directories right?');
  } else if (coverage.percent < coverageMin) {
    const worst = coverage.files
      .filter((f) => f.missed > 0)
      .sort((a, b) => a.percent - b.percent)
      .slice(0, 5)
      .map((f) => `  ${f.percent.toFixed(1).padStart(5)}%  ${f.path}  (uncovered lines: ${f.uncovered || 'none'})`);
    result.problems.push(
      [
        `coverage ${coverage.percent.toFixed(1)}% is below the minimum ${coverageMin}%. Least covered files:`,
        ...worst,
      ].join('\n'),
    );
  }
  result.ok = result.problems.length === 0;
  return result;
}

/**
 * The coverage line CI and the docs read.
 *
 * @example
 * ```ts
 * formatCoverage(result.coverage);
 * // 'coverage: 98.6% of policy lines (489/496 lines in 6 files; 99.5% including tests), minimum 90%'
 * ```
 */
export function formatCoverage(coverage: PolicyCoverage): string {
  const overall = coverage.includingTests === null ? '' : `; ${coverage.includingTests.toFixed(1)}% including tests`;
  return `coverage: ${coverage.percent.toFixed(1)}% of policy lines (${coverage.covered}/${coverage.total} lines in ${coverage.files.length} files${overall}), minimum ${coverage.minimum}%`;
}

/**
 * Whether a Rego file is test code, which does not count toward coverage: `*_test.rego`, or a
 * package ending in `_test` (shared fixtures live in such packages too). Unreadable files are not.
 *
 * @example
 * ```ts
 * isTestFile('policy-tests/fixtures/inputs.rego'); // true: it declares `package fixtures_test`
 * ```
 */
export function isTestFile(path: string): boolean {
  if (path.endsWith('_test.rego')) return true;
  try {
    return /^package\s+[\w.]+_test\s*$/m.test(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
}

interface CoverageRange {
  start: { row: number };
  end: { row: number };
}

interface CoverageReport {
  coverage?: number;
  files?: Record<
    string,
    { covered_lines?: number; not_covered_lines?: number; coverage?: number; not_covered?: CoverageRange[] }
  >;
}

function measureCoverage(report: CoverageReport, minimum: number, isTest: (path: string) => boolean): PolicyCoverage {
  const files = Object.entries(report.files ?? {})
    .filter(([path]) => !isTest(path))
    .map(([path, file]) => ({
      path,
      covered: file.covered_lines ?? 0,
      missed: file.not_covered_lines ?? 0,
      percent: file.coverage ?? 100,
      uncovered: describeRanges(file.not_covered),
    }));
  const covered = files.reduce((sum, file) => sum + file.covered, 0);
  const total = covered + files.reduce((sum, file) => sum + file.missed, 0);
  return {
    percent: total === 0 ? 0 : (100 * covered) / total,
    covered,
    total,
    minimum,
    includingTests: typeof report.coverage === 'number' ? report.coverage : null,
    files,
  };
}

// opa ends `opa test` with "PASS: n/total" and, when some did not pass, "FAIL: n/total",
// "ERROR: n/total" (errors are failures too; skipped tests are neither).
function countResults(output: string): { passed: number; failed: number } {
  const count = (label: string): number => {
    const match = output.match(new RegExp(`^${label}: (\\d+)/(\\d+)$`, 'm'));
    return match ? Number(match[1]) : 0;
  };
  return { passed: count('PASS'), failed: count('FAIL') + count('ERROR') };
}

// Turns opa's not_covered ranges (which overlap: a rule and its body) into "12, 18-23".
function describeRanges(ranges: CoverageRange[] = []): string {
  const rows = new Set<number>();
  for (const { start, end } of ranges) for (let row = start.row; row <= end.row; row += 1) rows.add(row);
  const sorted = [...rows].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i += 1) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j += 1;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(', ');
}
