// computeCompliance (docs/compliance.md) on trails built with the typed constructors: each table row
// is a set of sessions, the policy's workflow status for each, and the figures they must give.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { AuditEvent } from '../../src/audit/index.js';
import { policyRuntimeForSource } from '../../src/bundles/index.js';
import {
  AuditFold,
  complianceReport,
  complianceWindow,
  computeCompliance,
  evaluateWorkflowStatus,
  inputFromRecords,
  type ComplianceReport,
  type SessionRow,
  type WorkflowStatus,
} from '../../src/reports/index.js';
import { ROOT } from '../helpers/warden.js';
import { T0, at, call, closed, opened, reason, stored, type CallSpec } from './helpers.js';

const HOUR = 3_600_000;
const FIVE_MIN = 300_000;
const TOO_MANY = 'too many buckets: pick a larger bucket or a shorter range';
const WF = 'production_deployment';

/** The policy's answer for a session that started (or not) and completed (or not) the workflow. */
function workflow(active: boolean, complete: boolean): WorkflowStatus {
  const state = { valid: true, errors: [], active, complete, subjects: [], restrictions: [] };
  return { available: true, revision: 'rev-1', workflows: { [WF]: state } };
}
const NO_STATUS: WorkflowStatus = {
  available: false,
  revision: 'rev-1',
  reason: 'the active policy does not define data.mcp.workflow.status',
};

const POLICY_ERROR = { code: 'policy_eval_error', message: 'division by zero' };
const failed = { decision: { allow: false, reasons: [reason('warden.policy_error')], error: POLICY_ERROR } };
const stepOrder = reason('workflow.step_order', { workflow: WF, step: 'deploy_to_production' });
const denied = (...reasons: ReturnType<typeof reason>[]): { decision: { allow: false; reasons: typeof reasons } } => ({
  decision: { allow: false, reasons },
});
const deploy = (id: string, s: number, spec: Partial<CallSpec> = {}): AuditEvent[] =>
  call({ session: 's1', id, name: 'deploy_to_production', s, ...spec });
const echo = (session: string, id: string, s: number, spec: Partial<CallSpec> = {}): AuditEvent[] =>
  call({ session, id, name: 'echo', s, ...spec });

async function sessionsOf(events: AuditEvent[]): Promise<SessionRow[]> {
  const fold = new AuditFold();
  for (const r of await stored(events)) fold.add(r);
  return [...fold.sessions()];
}

interface Row {
  events: AuditEvent[];
  /** The workflow status per session id (default: started and unfinished). */
  status?: Record<string, WorkflowStatus>;
  live?: string[];
  expected: Record<string, unknown>;
}

describe('computeCompliance', () => {
  test.each<[string, Row]>([
    [
      'a call denied by one of the policy’s rules makes its session violating',
      {
        events: [opened('s1', 0), ...deploy('c1', 1, denied(stepOrder)), closed('s1', 9, 1)],
        expected: {
          basis: 'workflows',
          score: 0,
          sessions: { total: 1, judged: 1, compliant: 0, violating: 1, incomplete: 0, in_progress: 0, ungoverned: 0 },
          calls: { calls: 1, allowed: 0, denied: 1, held: 0, violations: 1, would_deny: 0, policy_errors: 0 },
          violations_by_rule: [{ key: 'workflow.step_order', count: 1 }],
          violations_by_workflow: [{ key: WF, count: 1 }],
          workflows: [
            {
              workflow: WF,
              sessions_started: 1,
              completed: 0,
              completed_clean: 0,
              in_progress: 0,
              sessions_with_violations: 1,
              violations: 1,
              violations_by_rule: [{ key: 'workflow.step_order', count: 1 }],
              score: 0,
            },
          ],
          session_states: [
            { session_id: 's1', state: 'violating', principal: 'alice', violations: 1, started_at: at(0) },
          ],
        },
      },
    ],
    [
      'every workflow it started is complete: compliant',
      {
        events: [opened('s1', 0), ...echo('s1', 'c1', 1), closed('s1', 9, 1)],
        status: { s1: workflow(true, true) },
        expected: {
          score: 1,
          sessions: { total: 1, judged: 1, compliant: 1 },
          workflows: [{ workflow: WF, sessions_started: 1, completed: 1, completed_clean: 1, score: 1 }],
        },
      },
    ],
    [
      'closed with a workflow unfinished: incomplete, counted against',
      {
        events: [opened('s1', 0), ...echo('s1', 'c1', 1), closed('s1', 9, 1)],
        expected: {
          score: 0,
          sessions: { judged: 1, incomplete: 1, in_progress: 0 },
          workflows: [{ sessions_started: 1, in_progress: 0, score: 0 }],
        },
      },
    ],
    [
      'still open with a workflow unfinished: in progress, not scored yet',
      {
        events: [opened('s1', 0), ...echo('s1', 'c1', 1)],
        live: ['s1'],
        expected: {
          score: null,
          sessions: { total: 1, judged: 0, in_progress: 1 },
          workflows: [{ sessions_started: 1, in_progress: 1, score: null }],
        },
      },
    ],
    [
      'no workflow started: ungoverned, not scored',
      {
        events: [opened('s1', 0), ...echo('s1', 'c1', 1)],
        status: { s1: workflow(false, false) },
        expected: { score: null, sessions: { total: 1, judged: 0, ungoverned: 1 }, workflows: [] },
      },
    ],
    [
      'Warden’s own denials are not violations: a refused approval, a policy failure',
      {
        events: [
          opened('s1', 0),
          ...deploy('c1', 1, { approval: { answer: 'timed_out', after: 30 } }),
          ...echo('s1', 'c2', 40, failed),
        ],
        expected: {
          calls: { calls: 2, allowed: 0, denied: 2, violations: 0, policy_errors: 1 },
          violations_by_rule: [],
          approvals: { requested: 1, approved: 0, timed_out: 1, pending: 0, latency_ms: { count: 0, p50: null } },
          sessions: { incomplete: 1, violating: 0 },
        },
      },
    ],
    [
      'monitor mode: would-deny calls are counted by rule, and are not violations',
      {
        events: [
          opened('s1', 0),
          ...deploy('c1', 1, { decision: { mode: 'monitor', policy_allow: false, monitored: [stepOrder, stepOrder] } }),
          ...echo('s1', 'c2', 2),
        ],
        expected: {
          calls: { calls: 2, allowed: 2, denied: 0, violations: 0, would_deny: 1 },
          would_deny_by_rule: [{ key: 'workflow.step_order', count: 1 }],
          violations_by_rule: [],
        },
      },
    ],
    [
      'approvals: outcomes and the latency of a person’s answer (nearest rank)',
      {
        events: [
          opened('s1', 0, 'alice', ['developer']),
          ...deploy('c1', 1, { approval: { answer: 'approved', after: 2 } }),
          ...deploy('c2', 10, { approval: { answer: 'declined', after: 4 } }),
          ...deploy('c3', 20, { approval: {} }),
        ],
        live: ['s1'],
        expected: {
          calls: { calls: 3, allowed: 1, denied: 1, held: 1 },
          approvals: {
            requested: 3,
            approved: 1,
            declined: 1,
            pending: 1,
            latency_ms: { count: 2, p50: 2000, p95: 4000, max: 4000, mean: 3000 },
          },
        },
      },
    ],
    [
      'without the workflow status entrypoint: scored on violations only, and said so',
      {
        events: [
          ...[opened('s1', 0), ...echo('s1', 'c1', 1)],
          opened('s2', 5),
          ...[opened('s3', 6), ...echo('s3', 'c2', 7, denied(reason('echo.no')))],
        ],
        status: { s1: NO_STATUS, s2: NO_STATUS, s3: NO_STATUS },
        expected: {
          basis: 'violations',
          basis_note: NO_STATUS.reason,
          score: 0.5,
          sessions: { total: 3, judged: 2, compliant: 1, violating: 1, ungoverned: 1 },
        },
      },
    ],
  ])('%s', async (_name, row) => {
    const sessions = await sessionsOf(row.events);
    const report = computeCompliance(sessions, {
      fromMs: T0,
      toMs: T0 + HOUR,
      bucketMs: HOUR,
      live: new Set(row.live ?? []),
      status: (s) => row.status?.[s.session_id] ?? workflow(true, false),
    });
    expect(report).toMatchObject({ version: 1, range: { from: at(0), to: at(3600), bucket_ms: HOUR } });
    expect(report).toMatchObject(row.expected);
    // One bucket spans the range: it holds every call and session.
    expect(report.over_time).toHaveLength(1);
    const { calls, sessions: counted } = report;
    expect(report.over_time[0]).toMatchObject({ start: at(0), calls: calls.calls, sessions: counted.total });
    expect(report.over_time[0]!.compliant).toBe(counted.compliant);
  });

  test('the range: calls count when received, sessions when opened; every bucket of it is present', async () => {
    // s1 opens before the range, calls inside it; s2 opens inside, calls after it ends.
    const sessions = await sessionsOf([
      opened('s1', 0),
      ...echo('s1', 'c1', 700, denied(reason('echo.no'))),
      opened('s2', 1300),
      ...echo('s2', 'c2', 2000),
    ]);
    const window = { fromMs: T0 + 600_000, toMs: T0 + 1_800_000, bucketMs: 600_000 };
    const report = computeCompliance(sessions, { ...window, live: new Set(), status: () => workflow(true, true) });
    expect(report.calls).toMatchObject({ calls: 1, violations: 1 });
    expect(report.sessions).toMatchObject({ total: 1, compliant: 1 });
    expect(report.over_time.map((b) => [b.start, b.calls, b.violations, b.sessions])).toEqual([
      [at(600), 1, 1, 0],
      [at(1200), 0, 0, 1],
    ]);
    // The violating session opened before the range, so it is not judged here, but its violation counts.
    expect(report.score).toBe(1);
    expect(report.revisions).toEqual([
      expect.objectContaining({ revision: 'rev-1', calls: 1, violations: 1, violation_rate: 1, first_at: at(700) }),
    ]);
  });

  test('with the shipped policy judging sessions rebuilt from their records', async () => {
    const policy = policyRuntimeForSource(join(ROOT, 'policy'), 'mcp/decision');
    await policy.start();
    try {
      const args = { service: 'api' };
      const step = (session: string, id: string, name: string, s: number, spec: Partial<CallSpec> = {}): AuditEvent[] =>
        call({ session, id, name, s, args, ...spec });
      const sessions = await sessionsOf([
        opened('done', 0),
        ...step('done', 'a1', 'run_tests', 1),
        ...step('done', 'a2', 'security_scan', 2),
        ...step('done', 'a3', 'deploy_to_production', 3, { approval: { answer: 'approved' } }),
        closed('done', 9, 3),
        opened('half', 10),
        ...step('half', 'b1', 'run_tests', 11),
        closed('half', 19, 1),
      ]);
      const options = { historyWindow: 100, resultMaxChars: 512 };
      // The policy answers from its worker: complianceReport asks it first, then scores.
      const report: ComplianceReport = await complianceReport(
        sessions,
        { from: at(0), to: at(3600), bucket: '1h' },
        {
          live: new Set(),
          status: (s) => evaluateWorkflowStatus(policy, inputFromRecords(s, options, T0 + 60_000)),
        },
      );
      expect(report).toMatchObject({
        basis: 'workflows',
        score: 0.5,
        sessions: { total: 2, judged: 2, compliant: 1, incomplete: 1 },
        workflows: [{ workflow: WF, sessions_started: 2, completed: 1, completed_clean: 1, score: 0.5 }],
      });
    } finally {
      policy.stop();
    }
  });
});

describe('complianceWindow: the range both the admin API and the CLI resolve', () => {
  test.each([
    [
      'defaults: from the oldest session (an hour back at least) to now',
      {},
      { fromMs: T0 - HOUR + 1, toMs: T0 + 1, bucketMs: FIVE_MIN },
    ],
    [
      'an explicit range and bucket',
      { from: at(0), to: at(7200), bucket: '1h' },
      { fromMs: T0, toMs: T0 + 2 * HOUR, bucketMs: HOUR },
    ],
  ])('%s', async (_name, query, expected) => {
    const sessions = await sessionsOf([opened('s1', -600)]);
    expect(complianceWindow(query, sessions, T0)).toEqual(expected);
  });

  test.each([
    ['from after to', { from: at(10), to: at(0) }, 'from must be before to'],
    ['an unknown bucket', { bucket: '3m' }, 'bucket must be one of 1m, 5m, 15m, 1h, 6h, 1d, 7d'],
    ['too many buckets', { from: at(0), to: at(3 * 86_400), bucket: '1m' }, TOO_MANY],
  ])('%s is a compliance_range_invalid error', async (_name, query, message) => {
    const report = complianceReport([], query, { live: new Set(), status: () => NO_STATUS, nowMs: T0 });
    await expect(report).rejects.toMatchObject({
      code: 'compliance_range_invalid',
      message: expect.stringContaining(message),
    });
  });
});
