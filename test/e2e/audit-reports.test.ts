// `warden audit report` on records written by real Warden processes: the report marks
// monitor-mode and would-deny calls.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CLI, EXAMPLES, ROOT, eventually, nodeServer, startWarden, textOf } from '../helpers/warden.js';

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface ReportJson {
  calls: { name: string; would_deny: boolean; decision: Record<string, unknown> }[];
  totals: Record<string, number>;
}

describe('warden audit report on a monitor-mode session', () => {
  test('marks the calls the shipped policy would have denied, with the rules that would have denied them', async () => {
    // The example CI server behind the shipped policy in monitor mode: deploying before the tests
    // and the scan breaks production_deployment's step order, yet the call runs.
    const w = await startWarden({
      mcpServers: { ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG') },
      policy: { bundle: join(ROOT, 'policy'), mode: 'monitor' },
    });
    try {
      const args = { service: 'api', version: '2' };
      const deployed = await w.client.callTool({ name: 'deploy_to_production', arguments: args });
      expect(deployed.isError).toBeFalsy();
      expect(textOf(deployed)).toMatch(/^Deployed api@2 /);
      await w.client.callTool({ name: 'run_tests', arguments: { service: 'api' } });
    } finally {
      await w.close();
    }
    const session = String((w.decisions()[0]!['custom'] as { session_id: string }).session_id);
    const store = `sqlite:${join(w.dir, 'audit.db')}`;
    const exported = (): string => cli(['audit', 'export', '--store', store, '--session', session]).stdout;
    await eventually(() => exported().includes('session.closed'), 10_000);

    const text = cli(['audit', 'report', '--store', store, '--session', session]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const step = (tool: string): string =>
      `${tool} must succeed for service=api before deploy_to_production (workflow production_deployment)`;
    const [deploy, tests] = text.stdout.split(/\n\n(?= {2}#\d)/).slice(1);
    expect(deploy).toMatch(/^ {2}#1 ci\/deploy_to_production {2}call \S+ {2}\[seq \d+-\d+\]\n/);
    expect(deploy).toMatch(/\n {5}decided {4}\S+ \S+ {2}ALLOW \(monitor, not enforced, would deny\) {2}decision /);
    expect(deploy).toContain(`\n                would deny: workflow.step_order: ${step('run_tests')}\n`);
    expect(deploy).toContain(`\n                would deny: workflow.step_order: ${step('security_scan')}\n`);
    expect(tests).toMatch(/^ {2}#2 ci\/run_tests .*\n.*\n {5}decided {4}\S+ \S+ {2}ALLOW \(monitor\) {2}decision /);
    const last = '2 calls: 2 allowed, 0 denied; 2 succeeded, 0 failed; 1 would have been denied (not enforced)\n';
    expect(text.stdout.endsWith(`  ${last}`)).toBe(true);

    const json = cli(['audit', 'report', '--store', store, '--session', session, '--format', 'json']);
    const report = JSON.parse(json.stdout) as ReportJson;
    const decisions = report.calls.map((c) => {
      const { allow, policy_allow: policyAllow, mode } = c.decision;
      return [c.name, c.would_deny, allow, policyAllow, mode];
    });
    expect(decisions).toEqual([
      ['deploy_to_production', true, true, false, 'monitor'],
      ['run_tests', false, true, true, 'monitor'],
    ]);
    const rule = { rule: 'workflow.step_order', workflow: 'production_deployment' };
    expect(report.calls[0]!.decision['monitored']).toEqual([
      expect.objectContaining({ ...rule, message: step('run_tests') }),
      expect.objectContaining({ ...rule, message: step('security_scan') }),
    ]);
    expect(report.totals).toEqual({ calls: 2, allowed: 2, denied: 0, succeeded: 2, failed: 0, would_deny: 1 });
  });
});
