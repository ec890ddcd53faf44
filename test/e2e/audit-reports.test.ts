// `warden audit report` and `warden audit compliance` on records written by real Warden processes:
// the report marks monitor-mode and would-deny calls, and the CLI's compliance figures are the
// admin API's for the same range.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CLI, EXAMPLES, ROOT, eventually, nodeServer, startWarden, textOf } from '../helpers/warden.js';
import { spawnHttpWarden } from '../helpers/http.js';
import { admin, agent, shippedConfig } from '../http/admin-helpers.js';

/** Waits until the async `check` gives a truthy value, failing after `ms`. */
async function waitFor<T>(check: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

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
      // policy/access.yaml keeps deploy_to_production to developers and release managers.
      identity: { roles: ['developer'] },
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

describe('warden audit compliance', () => {
  test('--json equals GET /admin/compliance for the same range, on a trail a running Warden writes', async () => {
    const started = new Date(Date.now() - 60_000).toISOString();
    const w = await spawnHttpWarden(shippedConfig());
    const pending = async (): Promise<{ id: string } | undefined> =>
      (await admin<{ pending: { id: string }[] }>(w.url, '/admin/approvals', 'root')).body.pending[0];
    const closedSessions = async (): Promise<number> => {
      const res = await admin<{ sessions: { closed_at: string | null }[] }>(w.url, '/admin/sessions', 'root');
      return res.body.sessions.filter((s) => s.closed_at).length;
    };
    try {
      // As in the admin API test: S1 violates the workflow, S2 follows it (approved through the API),
      // S3 leaves it unfinished, S4 is still open mid-way.
      const s1 = await agent(w.url, 'alice');
      await s1.client.callTool({ name: 'deploy_to_production', arguments: { service: 'api', version: '1' } });
      await s1.close();
      const s2 = await agent(w.url, 'alice');
      await s2.client.callTool({ name: 'run_tests', arguments: { service: 'api' } });
      await s2.client.callTool({ name: 'security_scan', arguments: { service: 'api' } });
      const deploy = s2.client.callTool({ name: 'deploy_to_production', arguments: { service: 'api', version: '1' } });
      const held = await waitFor(pending);
      const approve = { method: 'POST', body: { approve: true } };
      expect((await admin(w.url, `/admin/approvals/${held.id}`, 'root', approve)).status).toBe(200);
      expect((await deploy).isError).toBeFalsy();
      await s2.close();
      const s3 = await agent(w.url, 'alice');
      await s3.client.callTool({ name: 'run_tests', arguments: { service: 'web' } });
      await s3.close();
      const s4 = await agent(w.url, 'alice');
      try {
        await s4.client.callTool({ name: 'run_tests', arguments: { service: 'db' } });
        // The closed sessions' session.closed records are in the trail before either side reads it.
        await waitFor(async () => (await closedSessions()) === 3);

        const until = new Date(Date.now() + 60_000).toISOString();
        const range = ['--since', started, '--until', until, '--bucket', '1m'];
        const query = `from=${started}&to=${until}&bucket=1m`;
        const api = await admin<Record<string, unknown>>(w.url, `/admin/compliance?${query}`, 'root');
        expect(api.status).toBe(200);
        const run = cli(['audit', 'compliance', '--config', w.configPath, ...range, '--json']);
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        const fromCli = JSON.parse(run.stdout) as Record<string, unknown>;
        expect(fromCli).toEqual(api.body);
        // Not two empty reports: the figures of the admin API test.
        expect(fromCli).toMatchObject({
          basis: 'workflows',
          score: 1 / 3,
          sessions: { total: 4, judged: 3, compliant: 1, violating: 1, incomplete: 1, in_progress: 1, ungoverned: 0 },
          calls: { calls: 6, allowed: 5, denied: 1, violations: 1 },
          approvals: { requested: 1, approved: 1 },
        });

        const text = cli(['audit', 'compliance', '--config', w.configPath, ...range]);
        expect(text.stdout).toContain(`compliance ${started} .. ${until} (bucket 1m), basis workflows\n`);
        expect(text.stdout).toContain('  score      33.3% (1 compliant of 3 judged)\n');
        expect(text.stdout).toContain('  violations by rule      workflow.step_order 1\n');
        expect(text.stdout).toMatch(/\n {2}production_deployment {5}4 {8}1 {10}1 {6}1 {12}1 {16}33\.3%\n/);
        expect(cli(['audit', 'compliance', '--config', w.configPath, '--bucket', '3m']).code).not.toBe(0);
        const backwards = cli(['audit', 'compliance', '--config', w.configPath, '--since', until, '--until', started]);
        expect(backwards.code).toBe(2);
        expect(backwards.stderr).toBe('warden: from must be before to\n');
      } finally {
        await s4.close();
      }
    } finally {
      await w.stop();
    }
  });
});
