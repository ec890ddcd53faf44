import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatLintProblem, lintPolicies, type LintProblem } from '../../src/bundles/index.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/warden.js';

// Each tree under test/fixtures/rego-lint/ breaks exactly one convention (and passes
// `opa check --strict`), except `clean`, which breaks none. Problems name file:line:col.
const LINT = join(FIXTURES, 'rego-lint');

const cases: Record<string, { roots: string[]; problems: Omit<LintProblem, 'rule'>[] }> = {
  'directory-package-mismatch': {
    roots: ['policy', 'policy-tests'],
    problems: [
      {
        file: 'policy-tests/mcp/deploy/deploy_test.rego',
        row: 2,
        col: 1,
        message: 'package mcp.deploy is under the test root policy-tests: name it mcp.deploy_test',
      },
      {
        file: 'policy/mcp/deploy/deploy.rego',
        row: 2,
        col: 1,
        message: 'package mcp.release must live in policy/mcp/release/, not in policy/mcp/deploy',
      },
    ],
  },
  'test-outside-test-package': {
    roots: ['policy'],
    problems: [
      {
        file: 'policy/mcp/deploy/deploy.rego',
        row: 6,
        col: 1,
        message: 'test rule test_allow_is_false in package mcp.deploy: tests belong in mcp.deploy_test',
      },
    ],
  },
  'prefer-snake-case': {
    roots: ['policy'],
    problems: [
      { file: 'policy/mcp/deploy/deploy.rego', row: 4, col: 1, message: 'rule isAdmin is not snake_case' },
      { file: 'policy/mcp/deploy/deploy.rego', row: 5, col: 2, message: 'variable userName is not snake_case' },
    ],
  },
  'workflow-file-key': {
    roots: ['policy'],
    problems: [
      {
        file: 'policy/workflows/release.yaml',
        row: 2,
        col: 1,
        message: 'declare exactly one top-level key, release (the file name); found: deploy',
      },
    ],
  },
};

describe('lintPolicies: our stand-in for the Regal rules', () => {
  test.each(Object.keys(cases))('%s fires, with file:line:col', async (rule) => {
    const { roots, problems } = cases[rule]!;
    const report = await lintPolicies(roots, { cwd: join(LINT, rule) });
    expect(report.problems).toEqual(problems.map((p) => ({ ...p, rule })));
  });

  test('the clean tree has no problems, and every file is counted (Rego and workflow templates)', async () => {
    expect(await lintPolicies(['policy', 'policy-tests'], { cwd: join(LINT, 'clean') })).toEqual({
      files: 4,
      problems: [],
    });
  });

  test('the shipped policy follows the conventions', async () => {
    expect((await lintPolicies(['policy/', 'policy-tests'], { cwd: ROOT })).problems).toEqual([]);
  });

  test('roots resolve against the working directory; problems print as file:line:col: rule: message', async () => {
    const { problems } = await lintPolicies(['test/fixtures/rego-lint/prefer-snake-case/policy'], { cwd: ROOT });
    expect(problems.map(formatLintProblem)).toEqual([
      'test/fixtures/rego-lint/prefer-snake-case/policy/mcp/deploy/deploy.rego:4:1: prefer-snake-case: rule isAdmin is not snake_case',
      'test/fixtures/rego-lint/prefer-snake-case/policy/mcp/deploy/deploy.rego:5:2: prefer-snake-case: variable userName is not snake_case',
    ]);
  });

  test('a file opa cannot parse is a parse-error at its location, not a crash', async () => {
    const dir = tempDir('rego-lint');
    writeFileSync(join(dir, 'broken.rego'), 'package broken\n\nallow if {\n');
    const { problems } = await lintPolicies(['.'], { cwd: dir });
    expect(problems).toEqual([
      { file: 'broken.rego', row: 4, col: 0, rule: 'parse-error', message: 'rego_parse_error: unexpected eof token' },
    ]);
  });

  test('a root that is not a directory is a usage error that says what to pass', async () => {
    await expect(lintPolicies(['no-such-root'], { cwd: LINT })).rejects.toMatchObject({
      code: 'policy_dir_missing',
      message: expect.stringContaining('no such directory: no-such-root'),
    });
  });
});
