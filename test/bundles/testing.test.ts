import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatCoverage, isTestFile, runPolicyTests } from '../../src/bundles/index.js';
import { FIXTURES } from '../helpers/warden.js';

// test/fixtures/rego-test/uncovered: two passing tests that never reach the 3 lines of
// `too_big` (2 of 5 policy lines covered = 40%), plus a helper package `fixtures_test` in a file
// not named *_test.rego, with uncovered lines of its own: opa's overall figure, counting the
// test files, is 50%. test/fixtures/rego-test/failing: one passing and one failing test.
const COVERAGE = join(FIXTURES, 'rego-test/uncovered');
const FAILING = join(FIXTURES, 'rego-test/failing');
const DIRS = ['policy', 'policy-tests'];

describe('runPolicyTests', () => {
  test('coverage below the minimum fails, with the exact percent and the uncovered lines', async () => {
    const result = await runPolicyTests({ dirs: DIRS, coverageMin: 90, cwd: COVERAGE });
    expect(result).toMatchObject({ passed: 2, failed: 0, exitCode: 0, ok: false });
    expect(result.output).toMatch(/^PASS: 2\/2$/m);
    expect(result.coverage).toEqual({
      percent: 40,
      covered: 2,
      total: 5,
      minimum: 90,
      includingTests: 50,
      files: [{ path: 'policy/mcp/limits/limits.rego', percent: 40, covered: 2, missed: 3, uncovered: '9-11' }],
    });
    expect(formatCoverage(result.coverage!)).toBe(
      'coverage: 40.0% of policy lines (2/5 lines in 1 files; 50.0% including tests), minimum 90%',
    );
    expect(result.problems).toEqual([
      'coverage 40.0% is below the minimum 90%. Least covered files:\n   40.0%  policy/mcp/limits/limits.rego  (uncovered lines: 9-11)',
    ]);
  });

  test('coverage at the minimum passes', async () => {
    const result = await runPolicyTests({ dirs: DIRS, coverageMin: 40, cwd: COVERAGE });
    expect(result).toMatchObject({ ok: true, problems: [], coverage: { percent: 40 } });
  });

  test('test files do not count toward coverage: neither *_test.rego nor a _test package in another file', async () => {
    const { coverage } = await runPolicyTests({ dirs: DIRS, coverageMin: 1, cwd: COVERAGE });
    expect(coverage!.files.map((f) => f.path)).toEqual(['policy/mcp/limits/limits.rego']);
    expect(isTestFile(join(COVERAGE, 'policy-tests/mcp/limits/limits_test.rego'))).toBe(true);
    expect(isTestFile(join(COVERAGE, 'policy-tests/fixtures/payments.rego'))).toBe(true);
    expect(isTestFile(join(COVERAGE, 'policy/mcp/limits/limits.rego'))).toBe(false);
  });

  test('a failing test fails the run before coverage is measured', async () => {
    const result = await runPolicyTests({ dirs: DIRS, coverageMin: 0, cwd: FAILING });
    expect(result).toMatchObject({ passed: 1, failed: 1, exitCode: 2, ok: false, coverage: null });
    expect(result.output).toContain('data.mcp.limits_test.test_large_amount_is_allowed: FAIL');
    expect(result.problems).toEqual([
      'opa test failed (exit 2); see above. Coverage is not measured until the tests pass.',
    ]);
  });

  test('--run selects tests; 0 as the minimum skips coverage; selecting none fails', async () => {
    expect(await runPolicyTests({ dirs: DIRS, coverageMin: 0, run: 'small', cwd: COVERAGE })).toMatchObject({
      passed: 1,
      failed: 0,
      ok: true,
      coverage: null,
    });
    expect(await runPolicyTests({ dirs: DIRS, coverageMin: 0, run: 'nothing_matches', cwd: COVERAGE })).toMatchObject({
      passed: 0,
      ok: false,
      problems: ['no Rego tests found in policy policy-tests matching --run nothing_matches'],
    });
  });

  test.each([
    ['a missing directory', { dirs: ['no-such-dir'] }, 'policy_dir_missing'],
    ['a minimum over 100', { coverageMin: 101 }, 'policy_coverage_min_invalid'],
    ['a minimum that is not a number', { coverageMin: Number.NaN }, 'policy_coverage_min_invalid'],
  ])('%s is a usage error', async (_name, options, code) => {
    await expect(runPolicyTests({ dirs: DIRS, cwd: COVERAGE, ...options })).rejects.toMatchObject({ code });
  });
});
