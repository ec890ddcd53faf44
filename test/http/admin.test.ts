import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { openAuditStore } from '../../src/audit/index.js';
import { fill } from '../audit/helpers/fixtures.js';
import { eventually, tempDir, textOf } from '../helpers/warden.js';
import { startHttpWarden, type InProcessWarden } from '../helpers/http.js';
import { admin, agent, approvalConfig, followEvents, shippedConfig, type Person } from './admin-helpers.js';

// The admin API over real HTTP on 127.0.0.1 (docs/admin-api.md), with bearer tokens: alice is an
// agent's user, bob an approver, carol an admin who is not an approver, erin an approver who is
// also the requester of her own calls, root an admin and release manager.

type Pending = {
  id: string;
  call: { name: string; arguments: Record<string, unknown> };
  principal: { sub: string };
  approvers: string[];
  may_approve: string | null;
};

async function waitPending(w: InProcessWarden, who: Person, count = 1): Promise<Pending[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await admin<{ pending: Pending[] }>(w.url, '/admin/approvals', who);
    if (res.status === 200 && res.body.pending.length >= count) return res.body.pending;
    if (Date.now() > deadline) throw new Error(`no pending approval in time: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('admin API: approvals through the admin channel', () => {
  let w: InProcessWarden;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    w = await startHttpWarden({ ...approvalConfig(), instance: 'warden-a1' });
  });
  afterEach(async () => {
    await Promise.allSettled(closers.splice(0).map((c) => c()));
  });
  afterAll(async () => {
    await w?.close();
  });

  test('a client without elicitation waits for an approver; approved through the API, the policy decides again and the call completes', async () => {
    const a = await agent(w.url, 'alice');
    closers.push(a.close);
    const call = a.client.callTool({ name: 'echo', arguments: { message: 'approve-me now' } });
    const [pending] = await waitPending(w, 'bob');
    expect(pending).toMatchObject({
      call: { name: 'echo', arguments: { message: 'approve-me now' } },
      principal: { sub: 'alice' },
      approvers: ['approver'],
      may_approve: null,
    });

    const answer = await admin(w.url, `/admin/approvals/${pending!.id}`, 'bob', {
      method: 'POST',
      body: { approve: true, comment: 'CHG-7' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      id: pending!.id,
      result: { outcome: 'approved', granted: true, by: 'bob', via: 'admin', comment: 'CHG-7' },
    });

    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('approve-me now');
    expect(w.executed().map((c) => c.arguments['message'])).toEqual(['approve-me now']);

    // Re-evaluation: the second decision saw the approval in input.approvals and dropped the obligation.
    const decisions = await eventually(() => (w.decisions().length >= 2 ? w.decisions() : undefined));
    expect(decisions[0]!['result']).toMatchObject({
      allow: true,
      obligations: { approval: { required: true, approvers: ['approver'] } },
    });
    const again = decisions[1]!['input'] as { call: { id: string }; approvals: unknown[] };
    expect(again.call.id).toBe(pending!.id);
    expect(again.approvals).toEqual([
      {
        tool: 'echo',
        by: 'bob',
        at: expect.any(String),
        comment: 'CHG-7',
        call_id: pending!.id,
        arguments_digest: expect.stringMatching(/^hmac-sha256:/),
        principal: 'alice',
      },
    ]);
    expect(decisions[1]!['result']).toMatchObject({ allow: true, obligations: {} });
    expect((await admin(w.url, '/admin/approvals', 'bob')).body).toEqual({ pending: [] });

    // The decision list shows it once, held then allowed, with both decision ids.
    const list = await admin<{ decisions: Record<string, unknown>[] }>(w.url, '/admin/decisions?tool=echo', 'carol');
    expect(list.body.decisions[0]).toMatchObject({
      call_id: pending!.id,
      outcome: 'success',
      held: true,
      allow: true,
      approval: { outcome: 'approved', by: 'bob', via: 'admin', comment: 'CHG-7' },
    });
    expect(list.body.decisions[0]!['decision_ids']).toHaveLength(2);
  });

  test('refused for an admin who is not an approver (403, the broker says why); then denied by an approver', async () => {
    const a = await agent(w.url, 'alice');
    closers.push(a.close);
    const call = a.client.callTool({ name: 'echo', arguments: { message: 'approve-me maybe' } });
    const [pending] = await waitPending(w, 'carol');
    expect(pending!.may_approve).toBe('carol may not approve echo: it needs one of the roles approver');

    const refused = await admin(w.url, `/admin/approvals/${pending!.id}`, 'carol', {
      method: 'POST',
      body: { approve: true },
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      error: 'approval_forbidden',
      error_description: 'carol may not approve echo: it needs one of the roles approver',
    });

    const denied = await admin(w.url, `/admin/approvals/${pending!.id}`, 'bob', {
      method: 'POST',
      body: { approve: false, comment: 'not today' },
    });
    expect(denied.status).toBe(200);
    const result = await call;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /approval required: bob denied the approval for echo: not today \[warden\.approval_required\]/,
    );
    expect(w.executed().filter((c) => c.arguments['message'] === 'approve-me maybe')).toEqual([]);

    const again = await admin(w.url, `/admin/approvals/${pending!.id}`, 'bob', {
      method: 'POST',
      body: { approve: true },
    });
    expect(again.status).toBe(404);
    expect(again.body['error']).toBe('approval_not_found');
  });

  test('self-approval is refused: erin is an approver but requested the call herself', async () => {
    const e = await agent(w.url, 'erin');
    closers.push(e.close);
    const call = e.client.callTool({ name: 'echo', arguments: { message: 'approve-me myself' } });
    const [pending] = await waitPending(w, 'erin');
    expect(pending!.may_approve).toBe(
      'erin requested echo and may not approve it too (self-approval is refused unless the policy allows it)',
    );
    const refused = await admin(w.url, `/admin/approvals/${pending!.id}`, 'erin', {
      method: 'POST',
      body: { approve: true },
    });
    expect(refused.status).toBe(403);
    expect(refused.body['error_description']).toMatch(/^erin requested echo and may not approve it too/);
    expect(
      (await admin(w.url, `/admin/approvals/${pending!.id}`, 'bob', { method: 'POST', body: { approve: true } }))
        .status,
    ).toBe(200);
    expect(textOf(await call)).toBe('approve-me myself');
  });

  const APPROVE = { method: 'POST', body: { approve: true } };
  test("self-approval is refused in the client too: erin's client could elicit but is not asked", async () => {
    const e = await agent(w.url, 'erin', { elicitation: {} });
    closers.push(e.close);
    const asked: string[] = [];
    e.client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params.message);
      return { action: 'accept' };
    });
    const call = e.client.callTool({ name: 'echo', arguments: { message: 'approve-me in my client' } });
    const [pending] = await waitPending(w, 'bob');
    expect(pending).toMatchObject({ principal: { sub: 'erin' }, may_approve: null });
    const [own] = (await admin<{ pending: Pending[] }>(w.url, '/admin/approvals', 'erin')).body.pending;
    expect(own!.may_approve).toMatch(/^erin requested echo and may not approve it too/);
    await new Promise((r) => setTimeout(r, 300));
    expect(asked).toEqual([]);
    const approved = await admin(w.url, `/admin/approvals/${pending!.id}`, 'bob', APPROVE);
    expect(approved.body).toMatchObject({ result: { by: 'bob', via: 'admin' } });
    expect(textOf(await call)).toBe('approve-me in my client');
    expect(asked).toEqual([]);
  });

  test.each([
    ['no body', undefined, 400, /"approve": true\|false/],
    ['approve is not a boolean', { approve: 'yes' }, 400, /"approve": true\|false/],
    ['a comment that is not a string', { approve: true, comment: 7 }, 400, /comment must be a string/],
  ])('400 for %s', async (_name, body, status, message) => {
    const res = await admin(w.url, '/admin/approvals/whatever', 'bob', {
      method: 'POST',
      ...(body !== undefined ? { body } : {}),
    });
    expect(res.status).toBe(status);
    expect(res.body['error_description']).toMatch(message);
  });

  test('authentication and roles: 401 without a token; approvers see only approvals, admins everything', async () => {
    const anonymous = await admin(w.url, '/admin/sessions', null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata=/);
    const approver = await admin(w.url, '/admin/sessions', 'bob');
    expect(approver.status).toBe(403);
    expect(approver.body['error_description']).toMatch(/bob needs the role admin/);
    for (const path of [
      '/admin/sessions',
      '/admin/decisions',
      '/admin/policy',
      '/admin/compliance',
      '/admin/audit/verify',
      '/admin/audit/report',
    ]) {
      expect((await admin(w.url, path, 'carol')).status, path).toBe(200);
    }
    expect((await admin(w.url, '/admin/whoami', 'bob')).body).toEqual({
      sub: 'bob',
      roles: ['approver', 'release-manager'],
      admin: false,
      auth: 'bearer',
      instance: 'warden-a1',
    });
    expect((await admin(w.url, '/admin/nope', 'carol')).status).toBe(404);
    // A policy without data.mcp.workflow.status: said so, not failed.
    const policy = await admin(w.url, '/admin/policy', 'carol');
    expect(policy.body).toMatchObject({
      entrypoint: 'mcp/decision',
      workflow_status: false,
      mode: 'enforce',
      active: { revision: expect.stringMatching(/^sha256:/) },
      instance: { id: 'warden-a1', pid: process.pid },
    });
  });

  test('SSE: an admin sees decisions, approvals and completions live; an approver sees only the approvals', async () => {
    const adminStream = await followEvents(w.url, 'carol');
    const approverStream = await followEvents(w.url, 'bob');
    try {
      expect(adminStream.status).toBe(200);
      const a = await agent(w.url, 'alice');
      closers.push(a.close);
      await a.client.callTool({ name: 'echo', arguments: { message: 'plain' } });
      const call = a.client.callTool({ name: 'echo', arguments: { message: 'approve-me live' } });
      const pendingEvent = await eventually(
        () => approverStream.events.find((e) => e.type === 'approval.pending'),
        10_000,
      );
      const id = (pendingEvent.data['approval'] as { id: string }).id;
      expect(
        (await admin(w.url, `/admin/approvals/${id}`, 'bob', { method: 'POST', body: { approve: true } })).status,
      ).toBe(200);
      await call;
      const types = await eventually(() => {
        const t = adminStream.events.map((e) => e.type);
        return t.filter((x) => x === 'completion').length >= 2 ? t : undefined;
      }, 10_000);
      expect(types[0]).toBe('ready');
      expect(types).toEqual(
        expect.arrayContaining(['session.opened', 'decision', 'completion', 'approval.pending', 'approval.resolved']),
      );
      const decisions = adminStream.events.filter((e) => e.type === 'decision').map((e) => e.data);
      expect(decisions[0]).toMatchObject({
        call: { name: 'echo' },
        allow: true,
        revision: expect.stringMatching(/^sha256:/),
      });
      // Held: the first decision waits (approval_required), the second, after approval, allows.
      expect(decisions.slice(1).map((d) => d['allow'])).toEqual([false, true]);
      expect(decisions[1]!['decision_id']).toBe(id);
      const resolved = adminStream.events.find((e) => e.type === 'approval.resolved')!.data;
      expect(resolved).toMatchObject({ approval: { id }, result: { granted: true, by: 'bob' } });
      expect(adminStream.events.at(-1)!.data).toMatchObject({ outcome: 'success', call: { name: 'echo' } });
      expect(approverStream.events.map((e) => e.type)).toEqual(['ready', 'approval.pending', 'approval.resolved']);
      // Ids increase, so a reconnecting client resumes with Last-Event-ID.
      const ids = adminStream.events.slice(1).map((e) => e.id!);
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      const replay = await fetch(`${w.url}/admin/events`, {
        headers: { Authorization: 'Bearer carol-token-0123456789', 'Last-Event-ID': String(ids[ids.length - 3]) },
      });
      const reader = replay.body!.getReader();
      let text = '';
      while ((text.match(/\nevent: /g) ?? []).length < 2 && !text.includes('event: completion'))
        text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      expect(text).toContain(`id: ${ids[ids.length - 2]}\n`);
    } finally {
      adminStream.close();
      approverStream.close();
    }
  });

  test('the live session shows that its policy has no workflow status', async () => {
    const a = await agent(w.url, 'alice');
    closers.push(a.close);
    await a.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    const live = await admin<{ sessions: Record<string, unknown>[]; workflow_status: boolean }>(
      w.url,
      '/admin/sessions?live=true',
      'carol',
    );
    expect(live.body.workflow_status).toBe(false);
    const mine = live.body.sessions.find(
      (s) => (s['principal'] as { sub: string }).sub === 'alice' && s['calls'] === 1,
    )!;
    expect(mine).toMatchObject({ live: true, client: { name: 'warden-http-e2e' }, allowed: 1, denied: 0 });
    expect(mine['workflows']).toEqual({
      available: false,
      revision: expect.any(String),
      reason: expect.stringMatching(/does not define data\.mcp\.workflow\.status/),
    });
  });
});

describe('admin API: timeout', () => {
  test('nobody answers: the held call is denied at the timeout and leaves the pending list', async () => {
    const w = await startHttpWarden(approvalConfig({ timeoutMs: 1200, progressIntervalMs: 300 }));
    try {
      const a = await agent(w.url, 'alice');
      try {
        const progress: number[] = [];
        const call = a.client.callTool({ name: 'echo', arguments: { message: 'approve-me later' } }, undefined, {
          onprogress: (p) => void progress.push(p.progress),
        });
        expect(await waitPending(w, 'bob')).toHaveLength(1);
        const result = await call;
        expect(result.isError).toBe(true);
        expect(textOf(result)).toMatch(/approval for echo was not given within 1 s, so the call is denied/);
        expect(progress.length).toBeGreaterThanOrEqual(2);
        expect((await admin(w.url, '/admin/approvals', 'bob')).body).toEqual({ pending: [] });
        const list = await admin<{ decisions: Record<string, unknown>[] }>(w.url, '/admin/decisions', 'carol');
        expect(list.body.decisions[0]).toMatchObject({
          outcome: 'denied',
          allow: false,
          violation: false,
          approval: { outcome: 'timed_out' },
          reasons: [{ rule: 'warden.approval_required', message: 'approval timed out' }],
        });
        const compliance = await admin<Record<string, { [k: string]: number }>>(w.url, '/admin/compliance', 'carol');
        expect(compliance.body['approvals']).toMatchObject({ requested: 1, approved: 0, timed_out: 1 });
      } finally {
        await a.close();
      }
    } finally {
      await w.close();
    }
  });
});

// Compliance on a known set of sessions, with the shipped policy (production_deployment: per
// service, run_tests and security_scan succeed, then a release manager approves the deploy).
describe('admin API: workflow status and compliance from the shipped policy', () => {
  let w: InProcessWarden;
  beforeAll(async () => {
    w = await startHttpWarden(shippedConfig());
  });
  afterAll(async () => {
    await w?.close();
  });

  test('workflow steps per live session, compliance numbers, reports and verification', async () => {
    // S1 deploys first: a violation. S2 follows the workflow, approved through the API: compliant.
    // S3 only runs the tests and leaves: incomplete. S4 stays open mid-way: in progress.
    const s1 = await agent(w.url, 'alice');
    const denied = await s1.client.callTool({
      name: 'deploy_to_production',
      arguments: { service: 'api', version: '1' },
    });
    expect(textOf(denied)).toMatch(/\[workflow\.step_order\]/);
    await s1.close();

    const s2 = await agent(w.url, 'alice');
    await s2.client.callTool({ name: 'run_tests', arguments: { service: 'api' } });
    await s2.client.callTool({ name: 'security_scan', arguments: { service: 'api' } });
    // Before the deploy: its step is pending (approval), the others done.
    const before = await admin<{
      sessions: {
        session_id: string;
        workflows: {
          available: boolean;
          workflows: Record<
            string,
            {
              active: boolean;
              complete: boolean;
              subjects: { label: string; steps: { tool: string; state: string; approval: boolean }[] }[];
            }
          >;
        };
      }[];
    }>(w.url, '/admin/sessions?live=true', 'root');
    expect(before.body.sessions).toHaveLength(1);
    const wf = before.body.sessions[0]!.workflows;
    expect(wf.available).toBe(true);
    expect(wf.workflows['production_deployment']).toMatchObject({ active: true, complete: false });
    expect(wf.workflows['production_deployment']!.subjects).toEqual([
      {
        subject: { service: 'api' },
        label: 'service=api',
        complete: false,
        steps: [
          expect.objectContaining({ tool: 'run_tests', state: 'done' }),
          expect.objectContaining({ tool: 'security_scan', state: 'done' }),
          expect.objectContaining({ tool: 'deploy_to_production', state: 'pending', approval: true }),
        ],
      },
    ]);
    expect(wf.workflows['customer_onboarding']!.active).toBe(false);

    const deploy = s2.client.callTool({ name: 'deploy_to_production', arguments: { service: 'api', version: '1' } });
    const [pending] = await waitPending(w, 'root');
    expect(
      (await admin(w.url, `/admin/approvals/${pending!.id}`, 'root', { method: 'POST', body: { approve: true } }))
        .status,
    ).toBe(200);
    expect((await deploy).isError).toBeFalsy();
    const s2id = (
      await admin<{
        sessions: { session_id: string; workflows: { workflows: Record<string, { complete: boolean }> } }[];
      }>(w.url, '/admin/sessions?live=true', 'root')
    ).body.sessions[0]!;
    expect(s2id.workflows.workflows['production_deployment']!.complete).toBe(true);
    await s2.close();

    const s3 = await agent(w.url, 'alice');
    await s3.client.callTool({ name: 'run_tests', arguments: { service: 'web' } });
    await s3.close();

    const s4 = await agent(w.url, 'alice');
    try {
      await s4.client.callTool({ name: 'run_tests', arguments: { service: 'db' } });

      const c = await admin<Record<string, unknown>>(w.url, '/admin/compliance', 'root');
      expect(c.status).toBe(200);
      expect(c.body).toMatchObject({
        basis: 'workflows',
        score: 1 / 3,
        sessions: { total: 4, judged: 3, compliant: 1, violating: 1, incomplete: 1, in_progress: 1, ungoverned: 0 },
        calls: { calls: 6, allowed: 5, denied: 1, held: 0, violations: 1, would_deny: 0, policy_errors: 0 },
        violations_by_rule: [{ key: 'workflow.step_order', count: 1 }],
        violations_by_workflow: [{ key: 'production_deployment', count: 1 }],
        would_deny_by_rule: [],
        approvals: { requested: 1, approved: 1, declined: 0, timed_out: 0, pending: 0, latency_ms: { count: 1 } },
        workflows: [
          {
            workflow: 'production_deployment',
            sessions_started: 4,
            completed: 1,
            completed_clean: 1,
            in_progress: 1,
            sessions_with_violations: 1,
            violations: 1,
            violations_by_rule: [{ key: 'workflow.step_order', count: 1 }],
            score: 1 / 3,
          },
        ],
      });
      const revisions = c.body['revisions'] as {
        calls: number;
        denied: number;
        violations: number;
        violation_rate: number;
      }[];
      expect(revisions).toHaveLength(1);
      expect(revisions[0]).toMatchObject({ calls: 6, denied: 1, violations: 1, violation_rate: 1 / 6 });
      const overTime = c.body['over_time'] as {
        calls: number;
        violations: number;
        sessions: number;
        compliant: number;
      }[];
      expect(overTime.reduce((t, b) => t + b.calls, 0)).toBe(6);
      expect(overTime.reduce((t, b) => t + b.violations, 0)).toBe(1);
      expect(overTime.reduce((t, b) => t + b.compliant, 0)).toBe(1);
      const states = (c.body['session_states'] as { state: string }[]).map((s) => s.state).sort();
      expect(states).toEqual(['compliant', 'in_progress', 'incomplete', 'violating']);

      // A range with nothing in it, and a bad one.
      const empty = await admin<Record<string, unknown>>(
        w.url,
        `/admin/compliance?from=${new Date(Date.now() + 60_000).toISOString()}&to=${new Date(Date.now() + 120_000).toISOString()}&bucket=1m`,
        'root',
      );
      expect(empty.body).toMatchObject({ score: null, sessions: { total: 0 }, calls: { calls: 0 } });
      expect((await admin(w.url, '/admin/compliance?bucket=3m', 'root')).status).toBe(400);
      expect((await admin(w.url, '/admin/compliance?from=yesterday', 'root')).status).toBe(400);

      // Decisions: filters and paging.
      type List = {
        decisions: { call_id: string; name: string; outcome: string; session_id: string; seq: number }[];
        next_before: number | null;
      };
      const all = (await admin<List>(w.url, '/admin/decisions', 'root')).body.decisions;
      expect(all.map((d) => d.name)).toEqual([
        'run_tests',
        'run_tests',
        'deploy_to_production',
        'security_scan',
        'run_tests',
        'deploy_to_production',
      ]);
      expect(
        (await admin<List>(w.url, '/admin/decisions?allow=false', 'root')).body.decisions.map((d) => d.outcome),
      ).toEqual(['denied']);
      expect(
        (await admin<List>(w.url, '/admin/decisions?rule=workflow.step_order', 'root')).body.decisions,
      ).toHaveLength(1);
      expect(
        (await admin<List>(w.url, '/admin/decisions?workflow=production_deployment', 'root')).body.decisions,
      ).toHaveLength(1);
      expect((await admin<List>(w.url, '/admin/decisions?tool=run_tests', 'root')).body.decisions).toHaveLength(3);
      const page1 = (await admin<List>(w.url, '/admin/decisions?limit=4', 'root')).body;
      expect(page1.decisions).toHaveLength(4);
      const page2 = (await admin<List>(w.url, `/admin/decisions?limit=4&before=${page1.next_before}`, 'root')).body;
      expect(page2.decisions.map((d) => d.call_id)).toEqual(all.slice(4).map((d) => d.call_id));
      expect(page2.next_before).toBeNull();

      // The violating session's trace, its reports and the chain's verification.
      const s1id = all[all.length - 1]!.session_id;
      const trace = await admin<Record<string, unknown>>(w.url, `/admin/sessions/${s1id}`, 'root');
      expect(trace.body).toMatchObject({
        session: { live: false, calls: 1, denied: 1, violations: 1, principal: { sub: 'alice' } },
        report: { session_id: s1id, totals: { calls: 1, denied: 1 } },
      });
      expect(
        (trace.body['workflows'] as { workflows: Record<string, { active: boolean; complete: boolean }> }).workflows[
          'production_deployment'
        ],
      ).toMatchObject({ active: true, complete: false });
      expect((await admin(w.url, '/admin/sessions/no-such-session', 'root')).status).toBe(404);

      const report = await admin<Record<string, unknown>>(w.url, `/admin/audit/report?session=${s1id}`, 'root');
      expect(report.body).toMatchObject({ session: s1id, verification: { ok: true }, totals: { calls: 1, denied: 1 } });
      expect(report.headers.get('x-warden-chain')).toMatch(/^ok; \d+ records$/);
      const csv = await admin(w.url, `/admin/audit/report?session=${s1id}&format=csv`, 'root');
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(csv.text.split('\r\n')[0]).toBe('seq,at,type,session_id,call_id,data,prev_hash,hash');
      expect(csv.text).toContain(',call.decided,');
      const text = await admin(w.url, `/admin/audit/report?session=${s1id}&format=text`, 'root');
      expect(text.text).toMatch(/DENY/);
      const range = await admin<{ sessions: unknown[]; totals: { calls: number } }>(
        w.url,
        `/admin/audit/report?from=1h`,
        'root',
      );
      expect(range.body.sessions).toHaveLength(4);
      expect(range.body.totals.calls).toBe(6);
      const verify = await admin<Record<string, unknown>>(w.url, '/admin/audit/verify', 'root');
      expect(verify.body).toMatchObject({ ok: true, first_seq: 1, head: { seq: expect.any(Number) } });
      expect((await admin(w.url, '/admin/audit/report?format=xml', 'root')).status).toBe(400);

      const policy = await admin<Record<string, unknown>>(w.url, '/admin/policy', 'root');
      expect(policy.body).toMatchObject({ workflow_status: true, last_error: null, active: { reason: 'start' } });
    } finally {
      await s4.close();
    }
  });
});

describe('admin API: verification after retention', () => {
  test('the chain verifies from seq 1 with the archives retention wrote (a moved base needs them)', async () => {
    const dir = tempDir('admin-retention');
    const store = `sqlite:${join(dir, 'audit.db')}`;
    const old = await openAuditStore(store);
    await fill(old, 6); // dated January 2025: older than maxAgeDays
    await old.close();
    const retention = { maxAgeDays: 30, archiveDir: join(dir, 'archive') };
    const w = await startHttpWarden({ ...approvalConfig(), audit: { store, retention } });
    try {
      const verify = await admin<Record<string, unknown>>(w.url, '/admin/audit/verify', 'root');
      expect(readdirSync(retention.archiveDir)).toEqual(['audit-1-6.jsonl']);
      expect(verify.body).toMatchObject({ ok: true, first_seq: 1, last_seq: 6, count: 6 });
    } finally {
      await w.close();
    }
  });
});
