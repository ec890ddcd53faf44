import { describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, ROOT, readJsonl, tempDir } from '../helpers/warden.js';

// `make demo` runs scripts/demo.mjs: a scripted session through the real proxy that checks its own
// outcomes and exits non-zero when one differs. Its records go to a temp dir (WARDEN_DATA_DIR), not data/.
describe('make demo (scripts/demo.mjs)', () => {
  test('runs the scripted session, exits 0 and prints what a person needs to follow and reuse it', async () => {
    const data = tempDir('demo');
    const { NO_COLOR: _n, FORCE_COLOR: _f, ...env } = process.env;
    const run = await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/demo.mjs')], {
      cwd: ROOT, env: { ...env, WARDEN_DATA_DIR: data }, timeout: 30_000,
    }).catch((err: { code?: number; stdout?: string; stderr?: string }) => err);
    const stdout = run.stdout ?? '';
    expect((run as { code?: number }).code ?? 0, `demo failed:\n${stdout}\n${run.stderr ?? ''}`).toBe(0);
    expect(stdout).not.toMatch(/\x1b\[/); // stdout is a pipe here: no colour

    const lines = stdout.split('\n').map((l) => l.trim());
    for (const expected of [
      '1. Customer onboarding', '2. Financial processing', '3. Production deployment', '4. Dangerous combinations',
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
    // The deploy ends at the approval gate, and the output says that approval is how it proceeds.
    expect(stdout).toMatch(/✘ deploy_to_production {2}service=billing-api version=2\.4\.0\n\s+denied: approval required by one of: release-manager .*\[warden\.approval_required\]\n\s+→ .*approval by a release manager is how it proceeds.*later release/);
    expect(stdout).toContain(`"args": [${JSON.stringify(CLI)}, "serve", "--config", ${JSON.stringify(join(ROOT, 'examples/warden.yaml'))}]`);
    expect(stdout).toMatch(/Demo OK: \d+ calls, every outcome as expected/);

    // The records it points at exist, and hold this session's decisions.
    expect(existsSync(join(data, 'audit.db'))).toBe(true);
    const decisions = readJsonl(join(data, 'decisions.jsonl'));
    expect(decisions.length).toBe(Number(/Demo OK: (\d+) calls/.exec(stdout)![1]));
  });
});
