import { afterEach, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  POLICIES,
  SERVERS,
  eventually,
  nodeServer,
  startWarden,
  textOf,
  type RunningWarden,
} from '../helpers/warden.js';
import { openAuditStore } from '../../src/audit/index.js';

let w: RunningWarden | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const config = (roles: string[], approval: Record<string, unknown> = {}): Record<string, unknown> => ({
  mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
  policy: { bundle: join(POLICIES, 'approval') },
  identity: { sub: 'alice', roles },
  approval: { timeoutMs: 5000, ...approval },
});

async function withElicitation(
  roles: string[],
  answer: (message: string) => Promise<{ action: string; content?: Record<string, unknown> }>,
  approval: Record<string, unknown> = {},
): Promise<{ asked: string[] }> {
  const asked: string[] = [];
  w = await startWarden(config(roles, approval), { capabilities: { elicitation: {} } });
  w.client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return (await answer(request.params.message)) as never;
  });
  return { asked };
}

const echoed = (): unknown[] =>
  w!
    .executed()
    .filter((c) => c.tool === 'echo')
    .map((c) => c.arguments['message']);

async function auditTypes(): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const store = await openAuditStore(`sqlite:${join(w!.dir, 'audit.db')}`, { readOnly: true } as never);
  try {
    return (await store.read({})).map((r) => ({ type: r.type, data: r.data }));
  } finally {
    await store.close();
  }
}

// The fixture policy lets a principal with the role self-approver approve their own call; without
// it, Warden refuses the requester's own answer on every channel (see 'self-approval' below).
const SOLO = ['approver', 'self-approver'];

describe('approval gate through elicitation', () => {
  test('accept: the approval is recorded, the policy decides again with it, and the call goes through', async () => {
    const accept = async () => ({ action: 'accept', content: { comment: 'looks fine' } });
    const { asked } = await withElicitation(SOLO, accept);
    const result = await w!.client.callTool({ name: 'echo', arguments: { message: 'approve-me please' } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('approve-me please');
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(
      /^Approve echo \(message="approve-me please"\) on faulty\? Policy: echoing this needs a second pair of eyes\./,
    );
    expect(echoed()).toEqual(['approve-me please']);

    // Two decisions: held with the obligation, then allowed with the approval in input.approvals.
    const decisions = await eventually(() => (w!.decisions().length >= 2 ? w!.decisions() : undefined));
    expect(decisions[0]!['result']).toMatchObject({
      allow: true,
      obligations: { approval: { required: true, approvers: ['approver'] } },
    });
    // The approval is bound to this call: its id, its arguments' digest, its principal.
    const again = decisions[1]!['input'] as { call: { id: string }; approvals: unknown[] };
    expect(again.call.id).toBe((decisions[0]!['input'] as { call: { id: string } }).call.id);
    expect(again.approvals).toEqual([
      {
        tool: 'echo',
        by: 'alice',
        at: expect.any(String),
        comment: 'looks fine',
        call_id: again.call.id,
        arguments_digest: expect.stringMatching(/^hmac-sha256:/),
        principal: 'alice',
      },
    ]);
    expect(decisions[1]!['result']).toMatchObject({ allow: true, obligations: {} });

    const events = await auditTypes();
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'call.received',
        'call.decided',
        'approval.requested',
        'approval.granted',
        'call.forwarded',
        'call.completed',
      ]),
    );
    expect(events.find((e) => e.type === 'approval.granted')!.data).toMatchObject({
      by: 'alice',
      via: 'elicitation',
      comment: 'looks fine',
    });
    expect(events.filter((e) => e.type === 'call.decided').map((e) => e.data['held'] === true)).toEqual([true, false]);

    // The approval covered one run: the next one asks again.
    await w!.client.callTool({ name: 'echo', arguments: { message: 'approve-me again' } });
    expect(asked).toHaveLength(2);
  });

  test.each([
    ['decline', { action: 'decline' }, /alice declined the approval request for echo/],
    ['cancel', { action: 'cancel' }, /alice dismissed the approval request for echo/],
  ])('%s: denied, never forwarded', async (_name, answer, message) => {
    await withElicitation(SOLO, async () => answer);
    const result = await w!.client.callTool({ name: 'echo', arguments: { message: 'approve-me' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(message);
    expect(textOf(result)).toContain('[warden.approval_required]');
    expect(echoed()).toEqual([]);
    expect((await auditTypes()).map((e) => e.type)).toContain('approval.denied');
  });

  test('calls that need no approval are never held', async () => {
    const { asked } = await withElicitation(SOLO, async () => ({ action: 'decline' }));
    expect(textOf(await w!.client.callTool({ name: 'echo', arguments: { message: 'plain' } }))).toBe('plain');
    expect(asked).toEqual([]);
  });

  test('timeout: denied, and progress keeps the held request alive meanwhile', async () => {
    const progress: string[] = [];
    await withElicitation(SOLO, () => new Promise(() => undefined), { timeoutMs: 1200, progressIntervalMs: 200 });
    const result = await w!.client.callTool({ name: 'echo', arguments: { message: 'approve-me' } }, undefined, {
      onprogress: (p) => void progress.push(p.message ?? ''),
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/approval for echo was not given within 1 s, so the call is denied/);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[0]).toBe('waiting for approval');
    expect(echoed()).toEqual([]);
    expect((await auditTypes()).map((e) => e.type)).toContain('approval.timed_out');
  });
});

describe('approval gate without a way to ask', () => {
  test('a client without elicitation gets a fail-closed denial that says how approval is obtained', async () => {
    w = await startWarden(config(['approver']));
    const result = await w.client.callTool({ name: 'echo', arguments: { message: 'approve-me' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /echo needs approval \(by one of: approver\) \(echoing this needs a second pair of eyes\), and nobody can be asked: this client cannot answer approval requests \(no elicitation capability\)/,
    );
    expect(textOf(result)).toMatch(/Fix: run Warden with --http and approve the call in the dashboard/);
    expect(echoed()).toEqual([]);
  });

  test('a principal without an approver role is not asked', async () => {
    const { asked } = await withElicitation(['developer'], async () => ({ action: 'accept' }));
    const result = await w!.client.callTool({ name: 'echo', arguments: { message: 'approve-me' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/the session's principal alice is not an approver/);
    expect(asked).toEqual([]);
    expect(echoed()).toEqual([]);
  });
});

describe('self-approval through elicitation (issue 11, break 3)', () => {
  test('an approver is not asked in their own client unless the policy allows it; denied, naming who may', async () => {
    // alice holds the approver role, and her client would accept at once, without a human.
    const { asked } = await withElicitation(['approver'], async () => ({ action: 'accept' }));
    const result = await w!.client.callTool({ name: 'echo', arguments: { message: 'approve-me myself' } });
    expect(asked).toEqual([]);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(
      'approval required: echo needs approval (by one of: approver) (echoing this needs a second pair of eyes), ' +
        "and nobody can be asked: the session's principal alice may not approve their own call (self-approval is " +
        'refused unless the policy allows it) and no admin API is running. Fix: run Warden with --http and approve ' +
        'the call in the dashboard (or POST /admin/approvals/<id>) as a principal with one of the roles approver ' +
        'other than alice. [warden.approval_required]',
    );
    expect(echoed()).toEqual([]);
    const events = await auditTypes();
    expect(events.map((e) => e.type)).not.toContain('approval.granted');
    expect(events.find((e) => e.type === 'approval.denied')!.data).toMatchObject({ outcome: 'unavailable', by: null });
    // The decision carried no permission for self-approval.
    expect(w!.decisions()[0]!['result']).toMatchObject({ obligations: { approval: { allow_self_approval: false } } });
  });
});
