import { describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, ROOT, WARDEN_NODE, readJsonl, tempDir, wardenNodeEnv } from '../helpers/warden.js';

// `make demo` runs scripts/demo.mjs: a scripted session through the real proxy that checks its own
// outcomes and exits non-zero when one differs, then the dashboard on the same records. Its records
// go to a temp dir (WARDEN_DATA_DIR), not data/; the dashboard takes any free port here.
describe('make demo (scripts/demo.mjs)', () => {
  test('runs the scripted session, exits 0 and prints what a person needs to follow and reuse it', async () => {
    const data = tempDir('demo');
    const { NO_COLOR: _n, FORCE_COLOR: _f, ...env } = process.env;
    // The script runs Warden with its own Node (process.execPath): under WARDEN_NODE, so does Warden.
    const run = await promisify(execFile)(WARDEN_NODE, [join(ROOT, 'scripts/demo.mjs')], {
      cwd: ROOT,
      env: { ...env, ...wardenNodeEnv(), WARDEN_DATA_DIR: data, WARDEN_DEMO_PORT: '0' },
      timeout: 90_000,
    }).catch((err: { code?: number; stdout?: string; stderr?: string }) => err);
    const stdout = run.stdout ?? '';
    expect((run as { code?: number }).code ?? 0, `demo failed:\n${stdout}\n${run.stderr ?? ''}`).toBe(0);
    expect(stdout).not.toMatch(/\x1b\[/); // stdout is a pipe here: no colour

    const lines = stdout.split('\n').map((l) => l.trim());
    for (const expected of [
      '1. Customer onboarding',
      '2. Financial processing',
      '3. Production deployment',
      '4. Dangerous combinations',
      '✘ create_account  customer_id=cus_ada plan=pro',
      'denied: validate_customer_data must succeed for customer_id=cus_ada before create_account (workflow customer_onboarding) [workflow.step_order]',
      '✔ create_account  customer_id=cus_ada plan=pro',
      '✘ payment_processing  payment_id=pay_1002 amount=25000',
      '✘ delete_database  database=orders_staging',
      '✔ delete_database  database=orders_staging',
      'MCP Inspector:',
      'npx @modelcontextprotocol/inspector node dist/cli/main.js serve --config examples/warden.yaml',
      `decision log  ${join(data, 'decisions.jsonl')}   (one JSON line per decision, OPA decision-log format)`,
    ]) {
      expect(lines, `missing line: ${expected}`).toContain(expected);
    }
    // The deploy is held: a declined approval denies it, an accepted one lets it through.
    expect(stdout).toMatch(
      /\? Warden asks the person at the client: Approve deploy_to_production \(service="billing-api", version="2\.4\.0"\) on ci\? Policy: production deploy needs a release manager\./,
    );
    expect(stdout).toMatch(
      /the person answers: decline\n\s+✘ deploy_to_production {2}service=billing-api version=2\.4\.0\n\s+denied: approval required: .*declined the approval request .*\[warden\.approval_required\]/,
    );
    expect(stdout).toMatch(
      /the person answers: accept \("change ticket CHG-1042"\)\n\s+✔ deploy_to_production {2}service=billing-api version=2\.4\.0/,
    );
    expect(stdout).toContain(
      `"args": [${JSON.stringify(CLI)}, "serve", "--config", ${JSON.stringify(join(ROOT, 'examples/warden.yaml'))}]`,
    );
    expect(stdout).toMatch(/Demo OK: \d+ calls, every outcome as expected/);
    // The dashboard ran on the same records, answered, and stopped (stdout is not a terminal).
    expect(stdout).toMatch(/^ {2}Dashboard: http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(stdout).toMatch(
      /compliance score 0% over 1 session\(s\), 13 violation\(s\); hash chain verified \(\d+ records\)/,
    );
    expect(stdout).toContain('the dashboard stops now');
    // The same Warden through a client pinned to 2026-07-28: its own history scope, decided alike.
    expect(stdout).toMatch(
      /MCP 2026-07-28\n.*no initialize, no session id\n {4}✘ deploy_to_production .*\n {8}denied: run_tests must succeed/,
    );
    expect(stdout).toMatch(
      /\n {4}✔ run_tests {2}service=billing-api\n {8}All \d+ .*tests passed for billing-api\.\n\nTry it/,
    );

    // The records it points at exist, and hold this session's decisions.
    expect(existsSync(join(data, 'audit.db'))).toBe(true);
    const decisions = readJsonl(join(data, 'decisions.jsonl')).filter((d) => d['path'] === 'mcp/decision');
    // One decision per call, plus the re-evaluation after the one approval granted (results are judged apart).
    expect(decisions.length).toBe(Number(/Demo OK: (\d+) calls/.exec(stdout)![1]) + 1);
    const reEvaluated = decisions.find((d) => (d['input'] as { approvals: unknown[] }).approvals.length > 0)!;
    expect(reEvaluated['input']).toMatchObject({
      call: { name: 'deploy_to_production' },
      approvals: [{ tool: 'deploy_to_production', comment: 'change ticket CHG-1042' }],
    });
    expect(reEvaluated['result']).toMatchObject({ allow: true, obligations: {} });
  }, 120_000);
});
