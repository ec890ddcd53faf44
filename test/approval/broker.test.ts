// The approval component on its own: who may answer a held call, on which channel, and what the
// broker does when the requester's own client is the only one that could answer.
import { describe, expect, test } from 'vitest';
import { ApprovalBroker, mayApprove } from '../../src/approval/index.js';
import type { ApprovalChannel, ApprovalRequest, ApprovalVia } from '../../src/approval/index.js';

const request = (fields: Partial<ApprovalRequest> = {}): ApprovalRequest => ({
  id: 'call-1',
  session_id: 's-1',
  principal: { sub: 'alice', roles: ['release-manager'] },
  call: { server: 'ci', name: 'deploy', arguments: { service: 'api' } },
  reason: 'production deploy',
  approvers: ['release-manager'],
  allow_self_approval: false,
  ...fields,
});

type Who = { sub: string; roles: string[] };
const alice: Who = { sub: 'alice', roles: ['release-manager'] };
const bob: Who = { sub: 'bob', roles: ['release-manager'] };
const carol: Who = { sub: 'carol', roles: ['admin'] };
const developer: Who = { sub: 'alice', roles: ['developer'] };
const REFUSED = '(self-approval is refused unless the policy allows it)';
const SELF_IN_CLIENT = `alice requested deploy and may not approve it in their own client ${REFUSED}`;
const SELF_TOO = `alice requested deploy and may not approve it too ${REFUSED}`;
const SELF_OK = { allow_self_approval: true };
const NEEDS_MANAGER = 'it needs one of the roles release-manager';
const NEEDS_ADMIN = 'bob may not approve deploy: it needs one of the roles admin';

describe('mayApprove: the same rules on every channel', () => {
  test.each<[string, Partial<ApprovalRequest>, Who, ApprovalVia, string | null]>([
    ['the requester, in their own client', {}, alice, 'elicitation', SELF_IN_CLIENT],
    ['the requester, in the dashboard', {}, alice, 'admin', SELF_TOO],
    ['the requester as a fresh copy of the principal, in the client', {}, { ...alice }, 'elicitation', SELF_IN_CLIENT],
    ['the requester, self-approval allowed, in the client', SELF_OK, alice, 'elicitation', null],
    ['the requester, self-approval allowed, in the dashboard', SELF_OK, alice, 'admin', null],
    ['another approver, in the dashboard', {}, bob, 'admin', null],
    // An elicitation answer is the requester's, whoever the caller says answered.
    ['another approver named on the elicitation channel', {}, bob, 'elicitation', SELF_IN_CLIENT],
    ['someone without an approver role', {}, carol, 'admin', `carol may not approve deploy: ${NEEDS_MANAGER}`],
    [
      'a requester without an approver role, in the client',
      { principal: developer },
      developer,
      'elicitation',
      `alice may not approve deploy: ${NEEDS_MANAGER}`,
    ],
    ['no approvers named: an admin may', { approvers: [] }, carol, 'admin', null],
    ['no approvers named: a release manager may not', { approvers: [] }, bob, 'admin', NEEDS_ADMIN],
  ])('%s', (_name, fields, who, via, expected) => {
    expect(mayApprove(request(fields), who, via)).toBe(expected);
  });
});

describe('ApprovalBroker: the requester is asked only when they may approve their own call', () => {
  const elicitingClient = (asked: string[]): ApprovalChannel => ({
    elicit: async (message) => {
      asked.push(message);
      return { action: 'accept' };
    },
  });

  test('no self-approval, no admin API: denied at once, naming who may approve; the client is not asked', async () => {
    const asked: string[] = [];
    const broker = new ApprovalBroker({ timeoutMs: 5000, adminChannel: () => false });
    const result = await broker.request(request(), elicitingClient(asked));
    expect(asked).toEqual([]);
    expect(result).toMatchObject({ outcome: 'unavailable', granted: false });
    expect(result.message).toBe(
      'deploy needs approval (by one of: release-manager) (production deploy), and nobody can be asked: ' +
        `the session's principal alice may not approve their own call ${REFUSED} and no admin API is running. ` +
        'Fix: run Warden with --http and approve the call in the dashboard (or POST /admin/approvals/<id>) ' +
        'as a principal with one of the roles release-manager other than alice.',
    );
  });

  test('no self-approval, admin API running: waits for another approver; the client is not asked', async () => {
    const asked: string[] = [];
    const broker = new ApprovalBroker({ timeoutMs: 5000, adminChannel: () => true });
    const pending = broker.request(request(), elicitingClient(asked));
    expect(broker.list().map((p) => p.id)).toEqual(['call-1']);
    expect(() => broker.decide('call-1', alice, true)).toThrow(SELF_TOO);
    expect(broker.decide('call-1', bob, true)).toMatchObject({ granted: true, by: 'bob', via: 'admin' });
    expect(await pending).toMatchObject({ outcome: 'approved', by: 'bob', via: 'admin' });
    expect(asked).toEqual([]);
  });

  test('self-approval allowed: the client is asked, and its answer approves', async () => {
    const asked: string[] = [];
    const broker = new ApprovalBroker({ timeoutMs: 5000, adminChannel: () => false });
    const result = await broker.request(request(SELF_OK), elicitingClient(asked));
    expect(asked).toEqual([
      'Approve deploy (service="api") on ci? Policy: production deploy. Accept to approve, decline to deny.',
    ]);
    expect(result).toMatchObject({ outcome: 'approved', granted: true, by: 'alice', via: 'elicitation' });
  });

  test('a client without elicitation and no admin API: the denial says so, and whom to ask', async () => {
    const broker = new ApprovalBroker({ timeoutMs: 5000, adminChannel: () => false });
    const result = await broker.request(request(SELF_OK), {});
    expect(result.message).toContain('this client cannot answer approval requests (no elicitation capability)');
    expect(result.message).toMatch(/roles release-manager, or use a client that supports elicitation\.$/);
  });
});
