// The session report (`warden audit report`, GET /admin/audit/report) over trails built with the
// typed constructors: what each kind of call looks like, in JSON and as text.
import { describe, expect, test } from 'vitest';
import type { AuditRecord } from '../../src/audit/index.js';
import {
  buildSessionReport,
  buildSessionReports,
  formatSessionReport,
  type CallTrace,
} from '../../src/reports/index.js';
import { at, call, closed, opened, reason, stored, type CallSpec } from './helpers.js';

const S = 's-1';
type Spec = Omit<CallSpec, 'session' | 'id' | 'name' | 's'>;
const like = <T>(value: T): never => expect.objectContaining(value) as never;
const totals = (allowed: number, denied: number, succeeded: number, wouldDeny = 0): Record<string, number> => ({
  calls: 1,
  allowed,
  denied,
  succeeded,
  failed: 0,
  would_deny: wouldDeny,
});

const stepOrder = reason('workflow.step_order', { workflow: 'production_deployment' });
const policyError = { code: 'policy_eval_error', message: 'division by zero' };

// The held call's text: first decision, the approval asked and given, the second decision.
const HELD_TEXT = new RegExp(
  [
    /HOLD \(enforce\) {2}decision c1/,
    / {16}reason: warden\.approval_required: .*/,
    / {5}approval {3}\S+ \S+ {2}requested from release-manager/,
    / {5}approval {3}\S+ \S+ {2}granted by bob/,
    / {5}decided {4}\S+ \S+ {2}ALLOW \(enforce\) {2}decision c1-2/,
    / {5}forwarded/,
  ]
    .map((r) => r.source)
    .join('\n'),
);

describe('buildSessionReport and formatSessionReport, call by call', () => {
  // [case, the call, what its trace says, lines of the text report, totals]
  test.each<[string, Spec, Partial<CallTrace>, RegExp[], Record<string, number>]>([
    [
      'allowed and completed',
      { args: { service: 'api' } },
      { tool: 'deploy', arguments: { service: 'api' }, would_deny: false, completed: like({ outcome: 'success' }) },
      [
        /received {3}2026-01-05 09:00:01\.000 {2}arguments \{"service":"api"\}/,
        /decided {4}\S+ \S+ {2}ALLOW \(enforce\) {2}decision c1$/m,
        /completed {2}\S+ \S+ {2}success {2}900 ms$/m,
      ],
      totals(1, 0, 1),
    ],
    [
      'denied by a rule',
      { decision: { allow: false, reasons: [reason('deploy.tests_first')] } },
      { decision: like({ allow: false, policy_allow: false }), completed: null, would_deny: false },
      [/DENY \(enforce\) {2}decision c1$/m, /reason: deploy\.tests_first: deploy\.tests_first says no$/m],
      totals(0, 1, 0),
    ],
    [
      'monitor mode: the policy denied, the call ran (would deny)',
      { decision: { mode: 'monitor', policy_allow: false, monitored: [stepOrder] } },
      {
        would_deny: true,
        decision: like({ allow: true, policy_allow: false, mode: 'monitor', monitored: [stepOrder] }),
      },
      [
        /ALLOW \(monitor, not enforced, would deny\) {2}decision c1$/m,
        /would deny: workflow\.step_order: workflow\.step_order says no$/m,
        /1 would have been denied \(not enforced\)$/m,
      ],
      totals(1, 0, 1, 1),
    ],
    [
      'enforce mode with a rule in monitor mode',
      { decision: { monitored: [reason('deploy.friday_freeze')] } },
      { would_deny: true },
      [/ALLOW \(enforce, would deny\)/, /would deny: deploy\.friday_freeze/],
      totals(1, 0, 1, 1),
    ],
    [
      'held, approved by bob, allowed by the second decision',
      { approval: { answer: 'approved' } },
      {
        decisions: [like({ held: true, allow: false }), like({ allow: true, decision_id: 'c1-2' })] as never,
        approvals: [
          { type: 'requested', at: at(1.1), by: null, comment: null, approvers: ['release-manager'], reason: null },
          { type: 'granted', at: at(2.1), by: 'bob', comment: null, outcome: 'approved', via: 'admin' },
        ],
      },
      [HELD_TEXT],
      totals(1, 0, 1),
    ],
    [
      'held, nobody answered in time',
      { approval: { answer: 'timed_out', after: 30 } },
      { approvals: [like({ type: 'requested' }), like({ type: 'timed_out', by: null })] as never, completed: null },
      [/HOLD \(enforce\)/, /approval {3}\S+ \S+ {2}timed_out$/m],
      totals(0, 1, 0),
    ],
    [
      'the policy failed (fail closed)',
      { decision: { allow: false, reasons: [reason('warden.policy_error')], error: policyError } },
      { decision: like({ error: policyError }) },
      [/DENY \(enforce, policy error\)/, /policy error: policy_eval_error: division by zero$/m],
      totals(0, 1, 0),
    ],
  ])('%s', async (_name, spec, trace, lines, expectedTotals) => {
    const deploy = call({ session: S, id: 'c1', name: 'deploy', s: 1, ...spec });
    const records = await stored([opened(S, 0), ...deploy, closed(S, 60, 1)]);
    const report = buildSessionReport(S, records);
    const principal = { sub: 'alice', roles: [], claims: {} };
    expect(report.opened).toEqual({ at: at(0), client: { name: 'test-client', version: '1' }, principal });
    expect(report.closed).toEqual({ at: at(60), data: { calls: 1 } });
    expect(report.calls).toHaveLength(1);
    expect(report.calls[0]).toMatchObject({ call_id: 'c1', name: 'deploy', received_at: at(1), ...trace });
    expect(report.totals).toEqual(expectedTotals);
    const text = formatSessionReport(report);
    expect(text).toMatch(/^session s-1\n {2}opened {2}2026-01-05 09:00:00\.000 {2}client \{"name":"test-client",/);
    expect(text).toMatch(/#1 ci\/deploy {2}call c1 {2}\[seq 2-\d+\]/);
    for (const line of lines) expect(text).toMatch(line);
    expect(text).toMatch(/closed {2}2026-01-05 09:01:00\.000\n/);
  });

  test('records of other sessions are left out; records the model cannot read are listed as stored', async () => {
    const records = await stored([
      opened(S, 0),
      ...call({ session: S, id: 'c1', name: 'a', s: 1 }),
      ...call({ session: 's-2', id: 'c2', name: 'b', s: 2 }),
    ]);
    const data = { call_id: 'c1', verdict: 'fine' };
    const future: AuditRecord = {
      seq: 99,
      at: at(5),
      type: 'call.inspected',
      session_id: S,
      data,
      prev_hash: '',
      hash: '',
    };
    const report = buildSessionReport(S, [...records, future]);
    expect(report.calls.map((c) => c.call_id)).toEqual(['c1']);
    expect(report.other).toEqual([future]);
    expect(formatSessionReport(report)).toMatch(/call\.inspected {2}\{"call_id":"c1","verdict":"fine"\} {2}\[seq 99\]/);
    expect(buildSessionReports([...records, future]).map((r) => [r.session_id, r.calls.length])).toEqual([
      [S, 1],
      ['s-2', 1],
    ]);
  });

  test('an unknown session is an error that says how to list sessions', () => {
    const unknown = (): string => formatSessionReport(buildSessionReport('nope', []));
    expect(unknown).toThrow('no audit records for session "nope"; list sessions with "warden audit export"');
  });
});
