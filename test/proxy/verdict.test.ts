import { describe, expect, test } from 'vitest';
import { denialText, settleVerdict } from '../../src/proxy/index.js';
import type { Evaluation } from '../../src/policy/index.js';

const evaluation = (decision: Partial<Evaluation['decision']>): Evaluation => ({
  decision: { allow: true, reasons: [], monitored: [], obligations: {}, ...decision },
  revision: 'r1',
  bundle: 'policy',
  result: {},
  evalNs: 1,
});
const deny = { allow: false, reasons: [{ rule: 'deploy.tests_first', message: 'run tests first' }] };

describe('settleVerdict', () => {
  test.each([
    ['allow, enforce', evaluation({}), 'enforce', { allow: true, reasons: [], wouldDeny: [] }],
    ['deny, enforce', evaluation(deny), 'enforce', { allow: false, reasons: deny.reasons, wouldDeny: [] }],
    [
      'deny, monitor: allowed, kept as would-deny',
      evaluation(deny),
      'monitor',
      { allow: true, reasons: [], wouldDeny: deny.reasons },
    ],
    [
      'per-rule monitor reasons never deny',
      evaluation({ monitored: [{ rule: 'x.new', message: 'new rule' }] }),
      'enforce',
      { allow: true, reasons: [], wouldDeny: [{ rule: 'x.new', message: 'new rule' }] },
    ],
  ] as const)('%s', (_n, e, mode, expected) => {
    expect(settleVerdict(e, mode, 'hint')).toMatchObject(expected);
  });

  test('an unmet approval obligation denies with a reason naming approvers and how to get approval', () => {
    const v = settleVerdict(
      evaluation({
        obligations: { approval: { required: true, reason: 'production deploy', approvers: ['release-manager'] } },
      }),
      'enforce',
      'Ask an approver.',
    );
    expect(v.allow).toBe(false);
    expect(v.approvalRequired).toBe(true);
    expect(v.reasons[0]).toEqual({
      rule: 'warden.approval_required',
      message: 'approval required by one of: release-manager (production deploy). Ask an approver.',
    });
  });

  test('the audit obligation is surfaced', () => {
    expect(settleVerdict(evaluation({ obligations: { audit: { required: true } } }), 'enforce', '').auditRequired).toBe(
      true,
    );
  });

  test('denial text lists every reason with its rule id', () => {
    expect(
      denialText('deploy', [
        { rule: 'a.b', message: 'first' },
        { rule: 'c.d', message: 'second' },
      ]),
    ).toBe('Warden denied the call to deploy:\n- first [a.b]\n- second [c.d]');
  });
});
