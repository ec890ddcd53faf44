import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { ROOT, startWarden, type RunningWarden } from '../helpers/warden.js';
import {
  exampleServers,
  expectAllowed,
  expectDenied,
  expectRan,
  decisionById,
  lastDecision,
} from '../fixtures/workflows/calls.js';

// The brief's customer onboarding and financial workflows, through the real proxy and the SHIPPED
// policy (policy/), against the example servers. Each scenario runs out of order first (denied,
// never executed), then in order (allowed, executed). One Warden (one session) serves the file;
// every scenario uses its own customer / payment ids, so the scenarios do not open gates for
// each other.
let w: RunningWarden;

beforeAll(async () => {
  w = await startWarden({ mcpServers: exampleServers(['crm', 'payments']), policy: { bundle: join(ROOT, 'policy') } });
});
afterAll(async () => {
  await w?.close();
});

describe('customer onboarding: validate → create → back up → welcome, per customer_id', () => {
  const A = { customer_id: 'cus_a' };
  const B = { customer_id: 'cus_b' };

  test('out of order: every later step is denied, naming the workflow, the step and what is missing', async () => {
    const create = await expectDenied(
      w,
      'create_account',
      { ...A, plan: 'pro' },
      'validate_customer_data must succeed for customer_id=cus_a before create_account (workflow customer_onboarding)',
    );
    expect(create.reasons).toEqual([
      {
        rule: 'workflow.step_order',
        workflow: 'customer_onboarding',
        step: 'create_account',
        message: expect.stringContaining('validate_customer_data'),
      },
    ]);

    // Every earlier step is required, so both missing steps are named.
    const backup = await expectDenied(
      w,
      'backup_customer_record',
      A,
      'validate_customer_data must succeed for customer_id=cus_a',
      'create_account must succeed for customer_id=cus_a before backup_customer_record',
    );
    expect(backup.reasons.map((r) => r.rule)).toEqual(['workflow.step_order', 'workflow.step_order']);
    await expectDenied(
      w,
      'send_welcome_email',
      A,
      'backup_customer_record must succeed for customer_id=cus_a before send_welcome_email',
    );
    await expectDenied(
      w,
      'send_customer_email',
      { ...A, subject: 'Hello', body: 'Welcome aboard' },
      'validate_customer_data must succeed for customer_id=cus_a before send_customer_email (workflow customer_onboarding)',
    );

    // The denial is in the decision log with the policy's own result.
    const logged = await decisionById(w, create.decisionId);
    expect(logged.result).toMatchObject({
      allow: false,
      reasons: [{ rule: 'workflow.step_order', workflow: 'customer_onboarding', step: 'create_account' }],
    });
    expect(logged.custom).toMatchObject({ allow: false, mode: 'enforce' });
  });

  test('a call without the correlated argument is denied, not matched against any customer', async () => {
    await expectDenied(
      w,
      'create_account',
      {},
      'create_account needs argument customer_id',
      '[workflow.correlation_missing]',
    );
  });

  test('invalid customer data: validate_customer_data runs and fails, so create_account stays closed', async () => {
    const bad = { customer_id: 'cus_bad', name: '', email: 'not-an-address' };
    const validation = await expectRan(w, 'validate_customer_data', bad);
    expect(validation.isError).toBe(true);
    await expectDenied(
      w,
      'create_account',
      { customer_id: 'cus_bad' },
      'validate_customer_data must succeed for customer_id=cus_bad before create_account; its last run failed',
    );
  });

  test('in order: customer A goes through every step, each executed', async () => {
    await expectAllowed(w, 'validate_customer_data', { ...A, name: 'Ada Lovelace', email: 'ada@example.com' });
    // Skipping a step is still denied once the first is done.
    await expectDenied(
      w,
      'backup_customer_record',
      A,
      'create_account must succeed for customer_id=cus_a before backup_customer_record',
    );
    const account = await expectAllowed(w, 'create_account', { ...A, plan: 'pro' });
    expect(account.structuredContent).toMatchObject({ customer_id: 'cus_a', plan: 'pro' });
    await expectAllowed(w, 'backup_customer_record', A);
    await expectAllowed(w, 'send_welcome_email', A);
    await expectAllowed(w, 'send_customer_email', { ...A, subject: 'Your plan', body: 'You are on pro.' });
    expect(
      w
        .executed()
        .filter((c) => c.server === 'crm' && c.arguments['customer_id'] === 'cus_a')
        .map((c) => c.tool),
    ).toEqual([
      'validate_customer_data',
      'create_account',
      'backup_customer_record',
      'send_welcome_email',
      'send_customer_email',
    ]);
  });

  test('correlation: validating customer A does not open create_account or send_customer_email for B', async () => {
    await expectDenied(
      w,
      'create_account',
      B,
      'validate_customer_data must succeed for customer_id=cus_b before create_account',
    );
    await expectDenied(
      w,
      'send_customer_email',
      { ...B, subject: 'Hi', body: 'x' },
      'validate_customer_data must succeed for customer_id=cus_b before send_customer_email',
    );
    await expectAllowed(w, 'validate_customer_data', { ...B, name: 'Bob', email: 'bob@example.com' });
    // send_customer_email needs only validation; the rest of B's onboarding still needs its account.
    await expectAllowed(w, 'send_customer_email', { ...B, subject: 'Hi', body: 'x' });
    await expectDenied(
      w,
      'send_welcome_email',
      B,
      'create_account must succeed for customer_id=cus_b',
      'backup_customer_record must succeed for customer_id=cus_b',
    );
    await expectAllowed(w, 'create_account', B);
    expect(
      w
        .executed()
        .filter((c) => c.tool === 'create_account')
        .map((c) => c.arguments['customer_id']),
    ).toEqual(['cus_a', 'cus_b']);
  });
});

describe('financial processing: fraud_check → payment_processing for the same payment, audited', () => {
  test('out of order: payment_processing before any fraud check is denied, and still carries the audit obligation', async () => {
    const p = { payment_id: 'pay_1', amount: 120 };
    const denied = await expectDenied(
      w,
      'payment_processing',
      p,
      'fraud_check must succeed for payment_id=pay_1, amount=120 before payment_processing (workflow financial_processing)',
    );
    expect(denied.reasons).toEqual([
      expect.objectContaining({
        rule: 'workflow.step_order',
        workflow: 'financial_processing',
        step: 'payment_processing',
      }),
    ]);
    const logged = await decisionById(w, denied.decisionId);
    expect(logged.result.obligations).toEqual({ audit: { required: true } });
  });

  test('in order: an approving fraud check of the same payment opens payment_processing; every financial decision requires audit', async () => {
    const p = { payment_id: 'pay_1', amount: 120 };
    const check = await expectAllowed(w, 'fraud_check', p);
    expect(check.structuredContent).toMatchObject({ payment_id: 'pay_1', decision: 'approve' });
    // Same payment id, other amount: a check of 120 does not clear a capture of 12000.
    await expectDenied(
      w,
      'payment_processing',
      { payment_id: 'pay_1', amount: 12000 },
      'fraud_check must succeed for payment_id=pay_1, amount=12000',
    );
    // Another payment is not cleared by pay_1's check.
    await expectDenied(
      w,
      'payment_processing',
      { payment_id: 'pay_2', amount: 120 },
      'fraud_check must succeed for payment_id=pay_2, amount=120',
    );
    const captured = await expectAllowed(w, 'payment_processing', p);
    expect(captured.structuredContent).toMatchObject({ payment_id: 'pay_1', status: 'captured' });

    for (const name of ['fraud_check', 'payment_processing']) {
      const logged = await lastDecision(w, name, p);
      expect(logged.result).toMatchObject({ allow: true, obligations: { audit: { required: true } } });
      expect(logged.custom.allow).toBe(true);
    }
  });

  test('a high-risk check blocks the payment (risk_score and decision both named)', async () => {
    const big = { payment_id: 'pay_3', amount: 25000 };
    const check = await expectAllowed(w, 'fraud_check', big);
    expect(check.structuredContent).toMatchObject({ risk_score: 0.9, decision: 'reject' });
    const denied = await expectDenied(
      w,
      'payment_processing',
      big,
      'fraud_check for payment_id=pay_3, amount=25000 returned risk_score 0.9 (blocked when risk_score >= 0.8)',
      'returned decision reject',
    );
    expect(new Set(denied.reasons.map((r) => r.rule))).toEqual(new Set(['workflow.result_rejected']));

    // A card from a high-risk country, small amount: rejected on the card alone.
    const risky = { payment_id: 'pay_4', amount: 40 };
    await expectAllowed(w, 'fraud_check', { ...risky, card_country: 'XX' });
    await expectDenied(w, 'payment_processing', risky, 'returned risk_score 0.95');
  });

  test('a failed fraud check blocks the payment, even after an earlier approving one', async () => {
    const p = { payment_id: 'pay_5', amount: 60 };
    await expectAllowed(w, 'fraud_check', p);
    // The check itself fails (the server rejects the card country): its latest run is an error.
    const failed = await expectRan(w, 'fraud_check', { ...p, card_country: 'XXX' });
    expect(failed.isError).toBe(true);
    await expectDenied(
      w,
      'payment_processing',
      p,
      'fraud_check must succeed for payment_id=pay_5, amount=60 before payment_processing; its last run failed',
    );
    await expectAllowed(w, 'fraud_check', p);
    await expectAllowed(w, 'payment_processing', p);
  });

  test('refund_payment has no gate but is a financial tool: allowed, executed, audited', async () => {
    const r = { payment_id: 'pay_1', amount: 20 };
    await expectAllowed(w, 'refund_payment', r);
    expect((await lastDecision(w, 'refund_payment', r)).result.obligations).toEqual({ audit: { required: true } });
    // Non-financial tools carry no audit obligation.
    expect((await lastDecision(w, 'create_account', { customer_id: 'cus_b' })).result.obligations).toEqual({});
  });
});
