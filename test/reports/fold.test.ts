// The one fold of audit records into calls and sessions, on trails written by real Warden processes
// (test/fixtures/audit/) and on trails built with the typed constructors.
import { describe, expect, test } from 'vitest';
import { callForwarded, callReceived, type AuditEvent, type AuditRecord } from '../../src/audit/index.js';
import { AuditFold, summarize, type CallRow, type FoldOptions, type FoldStep } from '../../src/reports/index.js';
import { received } from '../audit/helpers/fixtures.js';
import { at, call, fixtureTrail, opened, reason, stored, type CallSpec } from './helpers.js';

// The demo's session (scripts/demo.mjs), call by call, as its own output reports them: denied calls
// are ✘ lines, tool errors are the invalid customer and the failing tests it provokes.
const DEMO_CALLS = [
  'create_account:denied',
  'send_welcome_email:denied',
  'send_customer_email:denied',
  'validate_customer_data:success',
  'create_account:success',
  'backup_customer_record:success',
  'send_welcome_email:success',
  'send_customer_email:success',
  'create_account:denied',
  'validate_customer_data:error',
  'create_account:denied',
  'payment_processing:denied',
  'fraud_check:success',
  'payment_processing:success',
  'fraud_check:success',
  'payment_processing:denied',
  'deploy_to_production:denied',
  'security_scan:denied',
  'run_tests:success',
  'security_scan:success',
  'deploy_to_production:denied',
  'deploy_to_production:success',
  'run_tests:error',
  'deploy_to_production:denied',
  'delete_database:denied',
  'backup_database:success',
  'delete_database:success',
  'send_email:success',
  'read_secret:success',
  'send_email:denied',
  'http_post:denied',
];

const truncated = (c: CallRow): boolean => (c.result as { truncated?: boolean } | undefined)?.truncated === true;

function foldAll(records: AuditRecord[], options?: FoldOptions): { fold: AuditFold; steps: FoldStep[] } {
  const fold = new AuditFold(options);
  const steps = records.flatMap((r) => fold.add(r));
  return { fold, steps };
}

describe('trails written by real Warden processes fold to the calls they recorded', () => {
  test.each([
    ['today (trail-2026-12.jsonl)', 'trail-2026-12.jsonl', 2],
    ['an older Warden (trail-2026-11.jsonl, 4c08e55)', 'trail-2026-11.jsonl', 1],
  ])('%s', (_name, file, sessions) => {
    const { fold } = foldAll(fixtureTrail(file));
    const [demo, monitor] = [...fold.sessions()];
    expect([...fold.sessions()]).toHaveLength(sessions);
    expect(demo!.client).toEqual({ name: 'warden-demo', version: '1.0.0' });
    expect(demo!.closed_at).not.toBeNull();
    expect(demo!.calls.map((c) => `${c.name}:${summarize(c).outcome}`)).toEqual(DEMO_CALLS);
    // Every call ended, and its settlement (what replay and workflow status rebuild) agrees with the index.
    for (const c of demo!.calls) expect(c.settled?.outcome, c.name).toBe(summarize(c).outcome);
    // The held deploys: one declined through elicitation, one approved with a comment, then allowed.
    const held = demo!.calls.filter((c) => c.approval);
    expect(held.map((c) => [c.approval!.outcome, c.approval!.via, c.approval!.comment, c.decisions.length])).toEqual([
      ['declined', 'elicitation', null, 1],
      ['approved', 'elicitation', 'change ticket CHG-1042', 2],
    ]);
    if (!monitor) return;
    // The monitor-mode session: every call allowed; the deploy and the email after a secret would have been denied.
    expect(monitor.principal).toMatchObject({ sub: 'dana' });
    const judged = monitor.calls.map((c) => {
      const s = summarize(c);
      return [c.name, s.outcome, c.decisions[0]!.policy_allow, s.monitored.map((r) => r.rule)];
    });
    expect(judged).toEqual([
      ['deploy_to_production', 'success', false, ['workflow.step_order', 'workflow.step_order']],
      ['run_tests', 'error', true, []],
      ['read_secret', 'success', true, []],
      ['send_email', 'success', false, ['workflow.forbidden_sequence']],
      ['run_tests', 'success', true, []],
    ]);
    // audit.resultMaxChars 200 cut the results in the trail; the index keeps only whole ones.
    expect(monitor.calls.filter(truncated)).toHaveLength(5);
    const index = foldAll(fixtureTrail(file), { maxResultChars: 4096 }).fold;
    expect([...index.calls()].filter(truncated)).toEqual([]);
  });
});

describe('the steps a call goes through (what replay and workflow status rebuild history from)', () => {
  const S = 's-1';
  const settles = ['call.received', 'call.decided', 'call.settled'];
  const approved = ['call.received', 'call.decided', 'call.approved', 'call.decided', 'call.settled'];
  const stillAsks = {
    allow: false,
    policy_allow: true,
    held: true as const,
    reasons: [reason('warden.approval_required')],
  };
  const wouldDeny = { mode: 'monitor' as const, policy_allow: false, monitored: [reason('deploy.tests_first')] };
  const denied = { allow: false, reasons: [reason('deploy.tests_first')] };
  const askedAgain = { approval: { answer: 'approved' as const, second: stillAsks } };

  // [case, the call, its steps, how it settled: decision/outcome/duration_ms]
  test.each<[string, Omit<CallSpec, 'session' | 'id' | 'name' | 's'>, string[], string | null]>([
    ['allowed and completed', {}, settles, 'allow/success/900'],
    ['allowed, the tool failed', { outcome: 'error' }, settles, 'allow/error/900'],
    ['allowed, still running', { outcome: null }, ['call.received', 'call.decided'], null],
    ['denied by the policy', { decision: denied }, settles, 'deny/denied/100'],
    ['monitor mode: the policy denies, the call runs', { decision: wouldDeny }, settles, 'allow/success/900'],
    ['held, approved, allowed', { approval: { answer: 'approved' } }, approved, 'allow/success/900'],
    ['held, declined', { approval: { answer: 'declined' } }, settles, 'deny/denied/1100'],
    ['held, timed out', { approval: { answer: 'timed_out', after: 5 } }, settles, 'deny/denied/5100'],
    ['held, nobody answered yet', { approval: {} }, ['call.received', 'call.decided'], null],
    // The pipeline asks once: a second decision that still wants approval denies (approval_insufficient).
    ['held, approved, the policy asks again', askedAgain, approved, 'deny/denied/1200'],
  ])('%s', async (_name, spec, kinds, settlement) => {
    const records = await stored([opened(S, 0), ...call({ session: S, id: 'c1', name: 'deploy', s: 1, ...spec })]);
    const { fold, steps } = foldAll(records);
    expect(steps.map((s) => s.kind)).toEqual(['session.opened', ...kinds]);
    const settled = fold.call('c1')!.settled;
    expect(settled && `${settled.decision}/${settled.outcome}/${settled.duration_ms}`).toBe(settlement);
  });

  test('records after a call settled change its row but give no more steps', async () => {
    const denied = call({ session: S, id: 'c1', name: 'x', s: 1, decision: { allow: false } });
    const records = await stored([...denied, callForwarded(S, { call_id: 'c1', server: 'ci' }, at(9))]);
    const { fold, steps } = foldAll(records);
    expect(steps.map((s) => s.kind)).toEqual(['call.received', 'call.decided', 'call.settled']);
    expect(fold.call('c1')!.forwarded_at).toBe(at(9));
  });

  test('a call whose call.received is gone (archived) still folds, marked as such', async () => {
    const [, ...rest] = call({ session: S, id: 'c1', name: 'x', s: 1 });
    const { fold } = foldAll(await stored(rest));
    expect(fold.call('c1')).toMatchObject({ received_at: null, name: '', settled: { outcome: 'success' } });
    expect(fold.session(S)).toMatchObject({ opened_at: null, principal: null, first_at: at(1.1) });
  });
});

describe('fold options', () => {
  const events = (n: number): AuditEvent[] =>
    Array.from({ length: n }, (_, i) => call({ session: `s${i % 2}`, id: `c${i}`, name: 'x', s: i })).flat();

  test('maxCalls keeps the newest calls; maxSessions drops the oldest session with its calls', async () => {
    const records = await stored(events(6));
    expect([...foldAll(records, { maxCalls: 3 }).fold.calls()].map((c) => c.call_id)).toEqual(['c3', 'c4', 'c5']);
    const bySession = foldAll(records, { maxSessions: 1 }).fold;
    expect([...bySession.sessions()].map((s) => s.session_id)).toEqual(['s1']);
    expect([...bySession.calls()].every((c) => c.session_id === 's1')).toBe(true);
  });

  test('maxArgumentChars and maxResultChars keep only small values', async () => {
    const args = { short: 'a', long: 'x'.repeat(300) };
    const result = { big: 'y'.repeat(5000) };
    const records = await stored(call({ session: 's', id: 'c1', name: 'x', s: 0, args, result }));
    expect(foldAll(records).fold.call('c1')).toMatchObject({ arguments: args, result });
    const small = foldAll(records, { maxArgumentChars: 256, maxResultChars: 4096 }).fold.call('c1')!;
    expect(small.arguments).toEqual({ short: 'a' });
    expect(small.result).toBeUndefined();
  });

  test('forgetSettled keeps only calls in flight', async () => {
    const records = await stored([...events(3), callReceived('s0', received('open', 'x', {}, 0), at(9))]);
    const { fold, steps } = foldAll(records, { forgetSettled: true });
    expect(steps.filter((s) => s.kind === 'call.settled')).toHaveLength(3);
    expect([...fold.calls()].map((c) => c.call_id)).toEqual(['open']);
    expect(fold.session('s0')!.calls.map((c) => c.call_id)).toEqual(['open']);
  });
});
