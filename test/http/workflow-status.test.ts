import { describe, expect, test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { definedOptionalEntrypoints, PolicyRuntime } from '../../src/policy/index.js';
import { Session } from '../../src/session/index.js';
import { AuditView } from '../../src/http/audit-view.js';
import { evaluateWorkflowStatus, inputFromRecords, WORKFLOW_STATUS_ENTRYPOINT } from '../../src/http/workflow-status.js';
import { DASHBOARD_JS } from '../../src/http/dashboard/client.js';
import { POLICIES, ROOT, tempDir } from '../helpers/warden.js';
import type { AuditRecord } from '../../src/audit/index.js';

const SESSION = { historyWindow: 100, resultMaxChars: 512 };
const CALL = { kind: 'tool' as const, server: 'ci', annotations: {} };

async function runtime(dir: string): Promise<PolicyRuntime> {
  const r = PolicyRuntime.forSource(dir, 'mcp/decision');
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
      session.record({ ...CALL, tool: 'run_tests', name: 'run_tests', arguments: { service: 'api' } }, 'allow', 'success', { content: [] }, now, 5);
      const neutral = session.buildInput({ ...CALL, tool: '', name: '', arguments: {} }, now);
      const status = await evaluateWorkflowStatus(policy, neutral);
      expect(status.available).toBe(true);
      if (!status.available) return;
      expect(status.revision).toBe(policy.revision);
      expect(status.workflows['production_deployment']!.subjects[0]!.steps.map((s) => `${s.tool}:${s.state}`)).toEqual(['run_tests:done', 'security_scan:pending', 'deploy_to_production:blocked']);
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
      expect(status).toEqual({ available: false, revision: policy.revision, reason: expect.stringMatching(/^the active policy \(revision sha256:\w+\) does not define data\.mcp\.workflow\.status/) });
    } finally {
      policy.stop();
    }
  });

  test('a textual false positive (the rule head inside a raw string) falls back to the decision alone', async () => {
    const dir = tempDir('status-fp');
    mkdirSync(join(dir, 'mcp/workflow'), { recursive: true });
    writeFileSync(join(dir, 'mcp/decision.rego'), 'package mcp\n\ndecision := {"allow": true, "reasons": [], "monitored": [], "obligations": {}}\n');
    writeFileSync(join(dir, 'mcp/workflow/notes.rego'), 'package mcp.workflow\n\nnote := `\nstatus := "not a rule"\n`\n');
    expect(definedOptionalEntrypoints(new Map([['mcp/workflow/notes.rego', Buffer.from('package mcp.workflow\n\nnote := `\nstatus := 1\n`\n')]]))).toEqual([WORKFLOW_STATUS_ENTRYPOINT]);
    const policy = await runtime(dir);
    try {
      expect(policy.hasEntrypoint(WORKFLOW_STATUS_ENTRYPOINT)).toBe(false);
      const missing = await policy.evaluateEntrypoint(WORKFLOW_STATUS_ENTRYPOINT, {});
      expect(missing).toMatchObject({ ok: false, code: 'policy_entrypoint_missing' });
    } finally {
      policy.stop();
    }
  });

  test('a recorded session is rebuilt from its audit records with the core Session (outcomes, approvals)', () => {
    const view = new AuditView({ read: async () => [] });
    let seq = 0;
    const at = (s: number): string => new Date(Date.UTC(2026, 10, 25, 10, 0, s)).toISOString();
    const rec = (type: AuditRecord['type'], data: Record<string, unknown>): AuditRecord => ({ seq: ++seq, at: at(seq), type, session_id: 's-9', data, prev_hash: '', hash: '' });
    for (const r of [
      rec('session.opened', { client: { name: 'c', version: '1' }, principal: { sub: 'alice', roles: ['dev'], claims: {} } }),
      rec('call.received', { call_id: 'c1', kind: 'tool', server: 'ci', tool: 'run_tests', name: 'run_tests', arguments: { service: 'api', log: 'x'.repeat(1000) } }),
      rec('call.decided', { call_id: 'c1', decision_id: 'c1', allow: true, reasons: [], monitored: [], revision: 'r1', mode: 'enforce' }),
      rec('call.completed', { call_id: 'c1', outcome: 'success', duration_ms: 7, result: { content: [], structuredContent: { passed: 3 } } }),
      rec('call.received', { call_id: 'c2', kind: 'tool', server: 'ci', tool: 'deploy', name: 'deploy', arguments: { service: 'api' } }),
      rec('call.decided', { call_id: 'c2', decision_id: 'c2', allow: false, reasons: [{ rule: 'warden.approval_required', message: 'held' }], monitored: [], revision: 'r1', mode: 'enforce', held: true }),
      rec('approval.requested', { call_id: 'c2', approvers: ['rm'] }),
      rec('approval.granted', { call_id: 'c2', outcome: 'approved', by: 'bob', via: 'admin', comment: 'ok' }),
      rec('call.decided', { call_id: 'c2', decision_id: 'd2', allow: true, reasons: [], monitored: [], revision: 'r1', mode: 'enforce' }),
      rec('call.completed', { call_id: 'c2', outcome: 'error', duration_ms: 9 }),
      rec('call.received', { call_id: 'c3', kind: 'tool', server: 'ci', tool: 'x', name: 'x', arguments: {} }),
      rec('call.decided', { call_id: 'c3', decision_id: 'c3', allow: false, reasons: [{ rule: 'workflow.step_order', message: 'no' }], monitored: [], revision: 'r1', mode: 'enforce' }),
    ]) view.fold(r);
    const input = inputFromRecords(view.session('s-9')!, SESSION, Date.parse(at(60)));
    expect(input.principal).toEqual({ sub: 'alice', roles: ['dev'], claims: {} });
    expect(input.history.map((h) => [h.name, h.decision, h.outcome, h.arguments])).toEqual([
      ['run_tests', 'allow', 'success', { service: 'api' }],
      ['deploy', 'allow', 'error', { service: 'api' }],
      ['x', 'deny', 'denied', {}],
    ]);
    expect(input.history[0]!.result).toEqual({ passed: 3 });
    expect(input.summary['deploy']).toMatchObject({ calls: 1, failures: 1, last_outcome: 'error' });
    // The approval of c2, which ran: bound to it, and listed as an earlier call's.
    expect(input.approvals).toEqual([
      { tool: 'deploy', by: 'bob', at: at(8), comment: 'ok', call_id: 'c2', arguments_digest: expect.any(String), principal: 'alice' },
    ]);
  });
});

describe('dashboard assets', () => {
  test('the client script is valid JavaScript with nothing fetched from elsewhere', () => {
    expect(() => new Script(DASHBOARD_JS)).not.toThrow();
    expect(DASHBOARD_JS).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});
