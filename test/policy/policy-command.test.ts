import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';
import { PolicyEngine } from '../../src/policy/index.js';
import { readBundleFile } from '../../src/bundles/index.js';
import { FIXTURES, POLICIES, ROOT, tempDir } from '../helpers/warden.js';

async function warden(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('warden policy test|lint', () => {
  test("policy test prints opa's results, the counts, the coverage line, and fails below the minimum", async () => {
    const dirs = ['policy', 'policy-tests'].map((d) =>
      relative(process.cwd(), join(FIXTURES, 'rego-test/uncovered', d)),
    );
    const { code, out, err } = await warden('policy', 'test', '--coverage-min', '90', ...dirs);
    expect(code).toBe(1);
    expect(out).toMatch(
      /^PASS: 2\/2\n2 passed, 0 failed\ncoverage: 40\.0% of policy lines \(2\/5 lines in 1 files; 50\.0% including tests\), minimum 90%\n$/m,
    );
    expect(err).toBe(
      `coverage 40.0% is below the minimum 90%. Least covered files:\n   40.0%  ${dirs[0]}/mcp/limits/limits.rego  (uncovered lines: 9-11)\n`,
    );
  });

  test('policy lint runs opa check --strict, then the conventions, and exits 1 on a problem', async () => {
    const root = relative(process.cwd(), join(FIXTURES, 'rego-lint/test-outside-test-package/policy'));
    const { code, out, err } = await warden('policy', 'lint', root);
    expect(code).toBe(1);
    expect(out).toBe(`opa check --strict: ok (${root})\nconventions: 1 files, 1 problem\n`);
    expect(err).toBe(
      `${root}/mcp/deploy/deploy.rego:6:1: test-outside-test-package: test rule test_allow_is_false in package mcp.deploy: tests belong in mcp.deploy_test\n`,
    );
  });
});

describe('warden policy build', () => {
  test.each([
    [
      'the shipped policy: the decision, the workflow status view, the history it reads, who sees what, the result policy, the definition check',
      [join(ROOT, 'policy')],
      ['mcp/decision', 'mcp/workflow/status', 'mcp/history/reads', 'mcp/visible', 'mcp/result', 'mcp/definition'],
    ],
    ['a policy with a decision-log mask rule', [join(POLICIES, 'masked')], ['mcp/decision', 'system/log/mask']],
    ['-e names the entrypoints exactly', [join(ROOT, 'policy'), '-e', 'mcp/decision'], ['mcp/decision']],
  ])('%s', async (_name, args, entrypoints) => {
    const out = join(tempDir('build'), 'bundle.tar.gz');
    const built = await warden('policy', 'build', ...args, '-o', out);
    expect(built.code, built.err).toBe(0);
    expect(built.out).toContain(`entrypoints ${entrypoints.join(', ')}`);
    const bundle = await readBundleFile(out);
    const engine = await PolicyEngine.load(bundle, 'mcp/decision');
    for (const e of entrypoints) expect(engine.hasEntrypoint(e)).toBe(true);
    expect(((bundle.manifest['wasm'] as { entrypoint: string }[]) ?? []).map((w) => w.entrypoint).sort()).toEqual(
      [...entrypoints].sort(),
    );
  });
});

describe('warden policy eval', () => {
  // As `warden serve` evaluates: in the policy worker, within the budget (issue 11, break 9).
  test('over --timeout-ms it prints the fail-closed deny and exits 1; a quick one prints the decision', async () => {
    const dir = tempDir('eval');
    const input = (args: Record<string, unknown>): string => {
      const file = join(dir, `input-${Object.keys(args).join('-') || 'plain'}.json`);
      const call = { kind: 'tool', server: 's', tool: 'echo', name: 'echo', arguments: args, annotations: {} };
      writeFileSync(file, JSON.stringify({ version: 1, call }));
      return file;
    };
    const bundle = join(POLICIES, 'budget');
    const stalled = await warden('policy', 'eval', '-b', bundle, '-i', input({ spin: 100_000 }), '--timeout-ms', '300');
    expect(stalled.code).toBe(1);
    const decision = JSON.parse(stalled.out) as { allow: boolean; reasons: { rule: string; message: string }[] };
    expect(decision.allow).toBe(false);
    const reason = { rule: 'warden.policy_timeout', message: expect.stringContaining('within 300 ms') };
    expect(decision.reasons).toEqual([reason]);

    const quick = await warden('policy', 'eval', '-b', bundle, '-i', input({ message: 'forbidden' }), '--explain');
    expect(quick.code).toBe(0);
    const verdict = { allow: false, reasons: [{ rule: 'budget.no_forbidden_echo' }] };
    expect(JSON.parse(quick.out)).toMatchObject({ verdict });

    const bad = await warden('policy', 'eval', '-b', bundle, '-i', input({}), '--timeout-ms', '0');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('needs a whole number from 1 to 600000');
  });
});
