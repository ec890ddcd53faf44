import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT, tempDir, startWarden, type RunningWarden } from '../helpers/warden.js';
import { exampleServers, expectAllowed, expectDenied, lastDecision, runs } from '../fixtures/workflows/calls.js';

// Workflows added purely as data: the shipped policy/ is copied into a temp dir and YAML templates
// from test/fixtures/workflows/ are dropped into its workflows/ folder. No Rego changes. Then the
// real proxy enforces them: an enforced template (refunds), a monitor-mode one (webhook_rollout)
// and a broken one (newsletter, a typo), next to the shipped workflows.
const TEMPLATES = join(FIXTURES, 'workflows/templates');
const BROKEN = join(FIXTURES, 'workflows/broken');
let w: RunningWarden;

beforeAll(async () => {
  const bundle = join(tempDir('workflows-data'), 'policy');
  cpSync(join(ROOT, 'policy'), bundle, { recursive: true });
  for (const dir of [TEMPLATES, BROKEN]) {
    for (const file of readdirSync(dir)) cpSync(join(dir, file), join(bundle, 'workflows', file));
  }
  w = await startWarden({ mcpServers: exampleServers(['crm', 'payments', 'ci', 'ops']), policy: { bundle } });
});
afterAll(async () => {
  await w?.close();
});

describe('a workflow template added as data is enforced (fixtures/workflows/templates/refunds.yaml)', () => {
  test('out of order: refund_payment before the payment was captured is denied by the new workflow', async () => {
    // Under the shipped policy alone refund_payment has no gate (workflows.test.ts); now it has.
    const denied = await expectDenied(
      w,
      'refund_payment',
      { payment_id: 'pay_9', amount: 30 },
      'payment_processing must succeed for payment_id=pay_9 before refund_payment (workflow refunds)',
    );
    expect(denied.reasons).toEqual([
      expect.objectContaining({ rule: 'workflow.step_order', workflow: 'refunds', step: 'refund_payment' }),
    ]);
    // The shipped financial workflow still applies to the same tool: its audit obligation stays.
    expect((await lastDecision(w, 'refund_payment', { payment_id: 'pay_9' })).result.obligations).toEqual({
      audit: { required: true },
    });
  });

  test('in order: the shipped gate and the new one compose; fraud_check → payment_processing → refund_payment', async () => {
    const p = { payment_id: 'pay_9', amount: 30 };
    // payment_processing is a step of both workflows: financial_processing still gates it.
    await expectDenied(
      w,
      'payment_processing',
      p,
      'fraud_check must succeed for payment_id=pay_9, amount=30 before payment_processing (workflow financial_processing)',
    );
    await expectAllowed(w, 'fraud_check', p);
    await expectAllowed(w, 'payment_processing', p);
    const refund = await expectAllowed(w, 'refund_payment', { payment_id: 'pay_9', amount: 10 });
    expect(refund.structuredContent).toMatchObject({ payment_id: 'pay_9', status: 'refunded' });
    // Correlated on payment_id: pay_9's capture does not open a refund of pay_10.
    await expectDenied(
      w,
      'refund_payment',
      { payment_id: 'pay_10', amount: 10 },
      'payment_processing must succeed for payment_id=pay_10 before refund_payment',
    );
  });
});

describe('monitor mode: a would-deny is logged and the call goes through', () => {
  test('fixture rule with mode: monitor (webhook_rollout): http_post before security_scan is allowed, executed and logged as would-deny', async () => {
    const post = { url: 'https://hooks.example.com/deploys', body: 'deployed' };
    const result = await expectAllowed(w, 'http_post', post);
    expect(result.structuredContent).toMatchObject({ simulated: true });
    expect(runs(w, 'http_post', post)).toBe(1);

    const logged = await lastDecision(w, 'http_post', post);
    const wouldDeny = {
      rule: 'workflow.step_order',
      workflow: 'webhook_rollout',
      step: 'http_post',
      message: 'security_scan must succeed before http_post (workflow webhook_rollout)',
    };
    expect(logged.result).toEqual({ allow: true, reasons: [], monitored: [wouldDeny], obligations: {} });
    expect(logged.custom).toMatchObject({ allow: true, mode: 'enforce', would_deny: [wouldDeny] });
    expect(logged.custom.reasons).toBeUndefined();
    expect(w.stderr()).toContain('monitor: would deny');

    // In order, nothing would be denied.
    await expectAllowed(w, 'run_tests', { service: 'hooks' });
    await expectAllowed(w, 'security_scan', { service: 'hooks' });
    await expectAllowed(w, 'http_post', { ...post, body: 'again' });
    const clean = await lastDecision(w, 'http_post', { body: 'again' });
    expect(clean.result.monitored).toEqual([]);
    expect(clean.custom.would_deny).toBeUndefined();
  });

  test('shipped monitor rule: the 11th payment_processing in a minute is logged as a would-deny rate limit, and captured', async () => {
    let n = runs(w, 'payment_processing', {});
    for (; n < 10; n++) {
      const p = { payment_id: `pay_r${n}`, amount: 5 };
      await expectAllowed(w, 'fraud_check', p);
      await expectAllowed(w, 'payment_processing', p);
    }
    expect((await lastDecision(w, 'payment_processing', { payment_id: 'pay_r9' })).custom.would_deny).toBeUndefined();
    const p = { payment_id: 'pay_r10', amount: 5 };
    await expectAllowed(w, 'fraud_check', p);
    await expectAllowed(w, 'payment_processing', p);
    const logged = await lastDecision(w, 'payment_processing', p);
    expect(logged.result.allow).toBe(true);
    expect(logged.result.monitored).toEqual([
      expect.objectContaining({
        rule: 'workflow.rate_limit',
        workflow: 'financial_processing',
        step: 'payment_processing',
      }),
    ]);
    expect(logged.custom).toMatchObject({
      allow: true,
      would_deny: [expect.objectContaining({ rule: 'workflow.rate_limit' })],
    });
  });
});

describe('a broken template fails closed for its own tools only (fixtures/workflows/broken/newsletter.yaml)', () => {
  test('its tools are denied with the validation error; other tools keep working', async () => {
    const c = { customer_id: 'cus_n' };
    await expectDenied(
      w,
      'send_welcome_email',
      c,
      'workflow newsletter is invalid (steps[0]: must must be one of run, succeed, got suceed)',
      '[workflow.invalid_template]',
    );
    await expectAllowed(w, 'validate_customer_data', { ...c, name: 'Nia', email: 'nia@example.com' });
    await expectAllowed(w, 'create_account', c);
    // backup_customer_record is also in customer_onboarding, whose gate is now open, but the broken
    // newsletter workflow names it too: it stays blocked until the template is fixed.
    await expectDenied(w, 'backup_customer_record', c, 'workflow newsletter is invalid');
  });
});
