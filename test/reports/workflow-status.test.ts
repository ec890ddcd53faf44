import { describe, expect, test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { policyRuntimeForSource } from '../../src/bundles/index.js';
import { definedOptionalEntrypoints, type PolicyRuntime } from '../../src/policy/index.js';
import { Session } from '../../src/session/index.js';
import {
  AuditView,
  evaluateWorkflowStatus,
  inputFromRecords,
  WORKFLOW_STATUS_ENTRYPOINT,
} from '../../src/reports/index.js';
import { POLICIES, ROOT, tempDir } from '../helpers/warden.js';
import { callCompleted, callDecided, callReceived, type AuditEvent } from '../../src/audit/index.js';
import { received } from '../audit/helpers/fixtures.js';
import { at, call, opened, reason, stored } from './helpers.js';

/** One allowed call, named `name` by the client and `prefix_<name>` by its server, on a clock 7 ms behind. */
function callEvents(session: string, id: string, s: number): AuditEvent[] {
  const nowMs = Date.parse(at(s)) - 7;
  const decision = { call_id: id, decision_id: id, allow: true, policy_allow: true, reasons: [], monitored: [] };
  const completed = { call_id: id, outcome: 'success' as const, duration_ms: 3, result_digest: 'sha256:0', result: {} };
  return [
    callReceived(session, { ...received(id, id, {}, nowMs), tool: `prefix_${id}` }, at(s)),
    callDecided(session, { ...decision, obligations: {}, revision: 'r', mode: 'enforce', now_ms: nowMs }, at(s + 0.01)),
    callCompleted(session, completed, at(s + 1)),
  ];
}

const SESSION = { historyWindow: 100, resultMaxChars: 512 };
const CALL = { kind: 'tool' as const, server: 'ci', annotations: {} };

async function runtime(dir: string): Promise<PolicyRuntime> {
  const r = policyRuntimeForSource(dir, 'mcp/decision');
  await r.start();
  return r;
}

describe('the workflow status entrypoint (a second Wasm entrypoint beside mcp/decision)', () => {
  test('the shipped policy compiles it; its answer for a live session comes from the policy', async () => {
    const policy = await runtime(join(ROOT, 'policy'));
    try {
      expect(policy.hasEntrypoint(WORKFLOW_STATUS_ENTRYPOINT)).toBe(true);
      const session = new Session('s-1', { sub: 'alice', roles: [], claims: {} }, new Date().toISOString(), SESSION);
      const now = Date.now();
      session.record(
        { ...CALL, tool: 'run_tests', name: 'run_tests', arguments: { service: 'api' } },
        'allow',
        'success',
        { content: [] },
        now,
        5,
      );
      const neutral = session.buildInput({ ...CALL, tool: '', name: '', arguments: {} }, now);
      const status = await evaluateWorkflowStatus(policy, neutral);
      expect(status.available).toBe(true);
      if (!status.available) return;
      expect(status.revision).toBe(policy.revision);
      expect(status.workflows['production_deployment']!.subjects[0]!.steps.map((s) => `${s.tool}:${s.state}`)).toEqual([
        'run_tests:done',
        'security_scan:pending',
        'deploy_to_production:blocked',
      ]);
      // The decision entrypoint is untouched.
      const name = 'deploy_to_production';
      const deploy = { ...CALL, tool: name, name, arguments: { service: 'api' } };
      expect((await policy.evaluate(session.buildInput(deploy, now))).decision.allow).toBe(false);
    } finally {
      policy.stop();
    }
  });

  test('a policy without it builds as before and says it has no workflow status', async () => {
    const policy = await runtime(join(POLICIES, 'allow-all'));
    try {
      expect(policy.hasEntrypoint(WORKFLOW_STATUS_ENTRYPOINT)).toBe(false);
      const status = await evaluateWorkflowStatus(policy, {} as never);
      expect(status).toEqual({
        available: false,
        revision: policy.revision,
        reason: expect.stringMatching(
          /^the active policy \(revision sha256:\w+\) does not define data\.mcp\.workflow\.status/,
        ),
      });
    } finally {
      policy.stop();
    }
  });

  test('a textual false positive (the rule head inside a raw string) falls back to the decision alone', async () => {
    const dir = tempDir('status-fp');
    mkdirSync(join(dir, 'mcp/workflow'), { recursive: true });
    writeFileSync(
      join(dir, 'mcp/decision.rego'),
      'package mcp\n\ndecision := {"allow": true, "reasons": [], "monitored": [], "obligations": {}}\n',
    );
    writeFileSync(
      join(dir, 'mcp/workflow/notes.rego'),
      'package mcp.workflow\n\nnote := `\nstatus := "not a rule"\n`\n',
    );
    expect(
      definedOptionalEntrypoints(
        new Map([['mcp/workflow/notes.rego', Buffer.from('package mcp.workflow\n\nnote := `\nstatus := 1\n`\n')]]),
      ),
    ).toEqual([WORKFLOW_STATUS_ENTRYPOINT]);
    const policy = await runtime(dir);
    try {
      expect(policy.hasEntrypoint(WORKFLOW_STATUS_ENTRYPOINT)).toBe(false);
      const missing = await policy.evaluateEntrypoint(WORKFLOW_STATUS_ENTRYPOINT, {});
      expect(missing).toMatchObject({ ok: false, code: 'policy_entrypoint_missing' });
    } finally {
      policy.stop();
    }
  });

  test('a recorded session is rebuilt with the core Session (outcomes, approvals, order)', async () => {
    const view = new AuditView({ read: async () => [] });
    const S = 's-9';
    const api = { service: 'api' };
    const log = 'x'.repeat(1000);
    const passed = { content: [], structuredContent: { passed: 3 } };
    const approved = { answer: 'approved' as const, after: 2 };
    const records = await stored([
      opened(S, 0, 'alice', ['dev']),
      ...call({ session: S, id: 'c1', name: 'run_tests', s: 1, args: { ...api, log }, result: passed }),
      ...call({ session: S, id: 'c2', name: 'deploy', s: 5, args: api, approval: approved, outcome: 'error' }),
      ...call({ session: S, id: 'c3', name: 'x', s: 20, decision: { allow: false, reasons: [reason('workflow.a')] } }),
      // Still running, and still held: neither is in the history yet.
      ...call({ session: S, id: 'c4', name: 'slow', s: 30, outcome: null }),
      ...call({ session: S, id: 'c5', name: 'deploy', s: 31, approval: {} }),
    ]);
    for (const r of records) view.fold(r);
    const input = inputFromRecords(view.session(S)!, SESSION, Date.parse(at(60)));
    expect(input.principal).toEqual({ sub: 'alice', roles: ['dev'], claims: {} });
    expect(input.session).toEqual({ id: S, client: { name: 'test-client', version: '1' }, started_at: at(0) });
    expect(input.history.map((h) => [h.name, h.decision, h.outcome, h.arguments, h.at, h.duration_ms])).toEqual([
      // The index keeps only small arguments; times are the pipeline's (now_ms), durations as recorded.
      ['run_tests', 'allow', 'success', { service: 'api' }, at(1), 900],
      ['deploy', 'allow', 'error', { service: 'api' }, at(5), 900],
      ['x', 'deny', 'denied', {}, at(20), 100],
    ]);
    expect(input.history[0]!.result).toEqual({ passed: 3 });
    expect(input.summary['deploy']).toMatchObject({ calls: 1, failures: 1, last_outcome: 'error' });
    // The approval of c2, which ran: bound to it, and listed as an earlier call's.
    expect(input.approvals).toEqual([
      {
        tool: 'deploy',
        by: 'bob',
        at: at(7.1),
        call_id: 'c2',
        arguments_digest: expect.any(String),
        principal: 'alice',
      },
    ]);
  });

  test('history is rebuilt in the order calls ended, on the pipeline clock, as the live session had it', async () => {
    // Two calls in flight at once: the second ends first. The pipeline's clock (now_ms) is a few
    // ms before the records' times, and the server's tool name differs from the client's.
    const S = 's-8';
    const slow = callEvents(S, 'slow', 0).map((e) => (e.type === 'call.completed' ? { ...e, at: at(5) } : e));
    const quick = callEvents(S, 'quick', 1);
    const [slowIn, slowDecided, ...slowEnd] = slow;
    const [quickIn, quickDecided, ...quickEnd] = quick;
    const interleaved = [slowIn!, quickIn!, slowDecided!, quickDecided!, ...quickEnd, ...slowEnd];
    const records = await stored([opened(S, 0), ...interleaved]);
    const view = new AuditView({ read: async () => [] });
    for (const r of records) view.fold(r);
    const input = inputFromRecords(view.session(S)!, SESSION, Date.parse(at(60)));
    const clock = (s: number): string => new Date(Date.parse(at(s)) - 7).toISOString();
    expect(input.history.map((h) => [h.name, h.tool, h.at])).toEqual([
      ['quick', 'prefix_quick', clock(1)],
      ['slow', 'prefix_slow', clock(0)],
    ]);
  });
});
