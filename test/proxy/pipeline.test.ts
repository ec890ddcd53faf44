// The call pipeline is core: no I/O of its own, so it is tested here with in-memory ports (a real
// compiled policy, a real Session), and end to end elsewhere.
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { join } from 'node:path';
import { createLogger } from '../../src/common/index.js';
import { PolicyEngine } from '../../src/policy/index.js';
import { compileDirectory } from '../../src/bundles/index.js';
import type { ApprovalRequest, ApprovalResult } from '../../src/approval/index.js';
import { openAuditStore } from '../../src/audit/index.js';
import { MemoryBackend } from '../../src/audit/memory-backend.js';
import { storeFromBackend } from '../../src/audit/open-store.js';
import { CallPipeline } from '../../src/proxy/index.js';
import { HistoryService } from '../../src/reports/index.js';
import { Session } from '../../src/session/index.js';
import { POLICIES, ROOT } from '../helpers/warden.js';

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await PolicyEngine.load(await compileDirectory(join(POLICIES, 'core'), 'mcp/decision'), 'mcp/decision');
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

function pipeline(audit: (event: { type: string }) => Promise<unknown>, onFailure: 'deny' | 'allow'): CallPipeline {
  let n = 0;
  return new CallPipeline({
    policy: { evaluate: async (input, now) => engine.evaluate(input, now), entrypoint: 'mcp/decision' },
    mode: 'enforce',
    audit: { append: audit },
    auditOnFailure: onFailure,
    decisionLog: { write: () => undefined },
    labels: { id: 'test', version: '0' },
    bundleName: () => 'policy',
    logger: createLogger({ silent: true }),
    auditResultMaxChars: 1000,
    approvals: { request: async () => Promise.reject(new Error('this policy asks for no approval')) },
    newId: () => `id-${++n}`,
  });
}

const session = (): Session =>
  new Session('s1', { sub: 'alice', roles: [], claims: {} }, new Date().toISOString(), {
    historyWindow: 100,
    resultMaxChars: 100,
  });
const echo = (message: string) => ({
  kind: 'tool' as const,
  server: 'faulty',
  tool: 'echo',
  name: 'echo',
  arguments: { message },
  annotations: {},
});
const slowForward = (ms: number) => () =>
  new Promise<Record<string, unknown>>((r) => setTimeout(() => r({ content: [{ type: 'text', text: 'ok' }] }), ms));

describe('CallPipeline and a failing audit trail', () => {
  test('onFailure allow: the call is forwarded while its records fail, and no rejection goes unobserved', async () => {
    process.on('unhandledRejection', onUnhandled);
    const failing = (): Promise<unknown> =>
      new Promise((_r, reject) => setTimeout(() => reject(new Error('store down')), 1));
    const outcome = await pipeline(failing, 'allow').run(session(), echo('hi'), slowForward(30));
    expect(outcome).toMatchObject({ kind: 'completed', outcome: 'success' });
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  });

  test('onFailure deny: denied before forwarding, with the store error in the reason', async () => {
    let forwarded = false;
    const outcome = await pipeline(async () => Promise.reject(new Error('disk full')), 'deny').run(
      session(),
      echo('hi'),
      async () => {
        forwarded = true;
        return {};
      },
    );
    expect(forwarded).toBe(false);
    expect(outcome).toMatchObject({
      kind: 'denied',
      reasons: [
        { rule: 'warden.audit_unavailable', message: expect.stringMatching(/audit\.onFailure is deny: disk full/) },
      ],
    });
  });

  test('a completion that cannot be recorded withholds the result (onFailure deny)', async () => {
    const outcome = await pipeline(
      async (e) => (e.type === 'call.completed' ? Promise.reject(new Error('gone')) : undefined),
      'deny',
    ).run(session(), echo('hi'), slowForward(1));
    expect(outcome).toMatchObject({ kind: 'unrecorded', error: 'gone' });
  });

  test('records in order: received, decided, forwarded, completed; a denial: received, decided', async () => {
    const types: string[] = [];
    const p = pipeline(async (e) => void types.push(e.type), 'deny');
    const s = session();
    await p.run(s, echo('hi'), slowForward(1));
    await p.run(s, echo('forbidden'), slowForward(1));
    expect(types).toEqual([
      'call.received',
      'call.decided',
      'call.forwarded',
      'call.completed',
      'call.received',
      'call.decided',
    ]);
    expect(s.summary()['echo']).toMatchObject({ calls: 2, successes: 1, denied: 1 });
  });

  test('a call held for approval whose records fail is denied without asking anyone (onFailure deny)', async () => {
    const approvalEngine = await PolicyEngine.load(
      await compileDirectory(join(POLICIES, 'approval'), 'mcp/decision'),
      'mcp/decision',
    );
    let asked = 0;
    const p = new CallPipeline({
      policy: { evaluate: async (input, now) => approvalEngine.evaluate(input, now), entrypoint: 'mcp/decision' },
      mode: 'enforce',
      audit: { append: async () => Promise.reject(new Error('store down')) },
      auditOnFailure: 'deny',
      decisionLog: { write: () => undefined },
      labels: { id: 'test', version: '0' },
      bundleName: () => 'policy',
      logger: createLogger({ silent: true }),
      auditResultMaxChars: 1000,
      newId: () => 'id',
      approvals: {
        request: async () => {
          asked++;
          return { outcome: 'approved', granted: true, by: 'bob', at: new Date().toISOString(), message: 'ok' };
        },
      },
    });
    const outcome = await p.run(session(), echo('approve-me'), slowForward(1));
    expect(asked).toBe(0);
    expect(outcome).toMatchObject({ kind: 'denied', reasons: [{ rule: 'warden.audit_unavailable' }] });
  });
});

const OPTIONS = { historyWindow: 100, resultMaxChars: 100 };

describe('CallPipeline: an approval covers the one call it was given for', () => {
  let shipped: PolicyEngine;
  beforeAll(async () => {
    shipped = await PolicyEngine.load(await compileDirectory(join(ROOT, 'policy'), 'mcp/decision'), 'mcp/decision');
  });

  /**
   * The shipped policy, with the history it declares read from an in-memory trail's read model (as
   * Warden wires it); `answer` stands in for the approver, and sees every request.
   */
  async function gated(answer: (request: ApprovalRequest) => Promise<ApprovalResult>): Promise<CallPipeline> {
    let n = 0;
    const store = await openAuditStore('memory:');
    const policy = {
      revision: 'shipped',
      hasEntrypoint: (name: string) => shipped.hasEntrypoint(name),
      evaluateEntrypoint: (name: string, input: unknown) => Promise.resolve(shipped.evaluateEntrypoint(name, input)),
    };
    const history = new HistoryService({ policy, store, resultMaxChars: 1000 });
    store.onAppended((record) => history.apply(record));
    return new CallPipeline({
      policy: { evaluate: (input, now) => shipped.evaluate(input, now), entrypoint: 'mcp/decision' },
      mode: 'enforce',
      audit: { append: (event) => store.append(event) },
      history,
      auditOnFailure: 'deny',
      decisionLog: { write: () => undefined },
      labels: { id: 'test', version: '0' },
      bundleName: () => 'policy',
      logger: createLogger({ silent: true }),
      auditResultMaxChars: 1000,
      newId: () => `call-${++n}`,
      approvals: { request: answer },
    });
  }
  const alice = { sub: 'alice', roles: ['developer'], claims: {} };
  const manager = (): Session => new Session('s1', alice, new Date().toISOString(), OPTIONS);
  const ci = (tool: string, service: string) => ({
    ...echo(''),
    server: 'ci',
    tool,
    name: tool,
    arguments: { service },
  });
  const result = (r: Record<string, unknown>, ms = 0) =>
    new Promise<Record<string, unknown>>((done) => setTimeout(() => done(r), ms));
  const ok =
    (ms = 0) =>
    () =>
      result({ structuredContent: { ok: true }, content: [] }, ms);
  const failing = () => result({ isError: true, content: [{ type: 'text', text: '3 tests failed' }] });
  const answered = (outcome: 'approved' | 'declined'): ApprovalResult => ({
    outcome,
    granted: outcome === 'approved',
    by: 'bob',
    via: 'admin',
    at: new Date().toISOString(),
    message: `bob: ${outcome}`,
  });
  const approve = (): ApprovalResult => answered('approved');
  const decline = (): ApprovalResult => answered('declined');

  async function green(p: CallPipeline, s: Session, service: string): Promise<void> {
    expect(await p.run(s, ci('run_tests', service), ok())).toMatchObject({ kind: 'completed', outcome: 'success' });
    expect(await p.run(s, ci('security_scan', service), ok())).toMatchObject({ kind: 'completed', outcome: 'success' });
  }

  test('a deploy decided while an approved one still runs downstream is held for its own approval', async () => {
    const asked: string[] = [];
    const answers = [approve(), decline()];
    const p = await gated(async (r) => {
      asked.push(String(r.call.arguments['service']));
      return answers.shift()!;
    });
    const s = manager();
    await green(p, s, 'svc-x');
    await green(p, s, 'svc-y');
    let forwardedX = false;
    const x = p.run(s, ci('deploy_to_production', 'svc-x'), () => ((forwardedX = true), ok(400)()));
    await vi.waitFor(() => expect(forwardedX).toBe(true));
    let forwardedY = false;
    const y = await p.run(s, ci('deploy_to_production', 'svc-y'), () => ((forwardedY = true), ok()()));
    expect(asked).toEqual(['svc-x', 'svc-y']);
    expect(y).toMatchObject({ kind: 'denied', reasons: [{ rule: 'warden.approval_required' }] });
    expect(forwardedY).toBe(false);
    expect(await x).toMatchObject({ kind: 'completed', outcome: 'success' });
  });

  test('an approval whose call is denied when decided again leaves no spare for the next call', async () => {
    const asked: string[] = [];
    const s = manager();
    let p: CallPipeline;
    const answers: (() => Promise<ApprovalResult>)[] = [
      // While the deploy waits for approval, its tests fail again in the same session: once
      // approved, the policy's second decision denies it (workflow.step_order).
      async () => {
        expect(await p.run(s, ci('run_tests', 'api'), failing)).toMatchObject({ kind: 'completed', outcome: 'error' });
        return approve();
      },
      async () => decline(),
    ];
    p = await gated(async (r) => {
      asked.push(r.call.name);
      return answers.shift()!();
    });
    await green(p, s, 'api');
    const first = await p.run(s, ci('deploy_to_production', 'api'), ok());
    expect(first).toMatchObject({ kind: 'denied', reasons: [{ rule: 'workflow.step_order' }] });
    expect(await p.run(s, ci('run_tests', 'api'), ok())).toMatchObject({ kind: 'completed', outcome: 'success' });

    // The approval given for the denied deploy lapsed with it: the next deploy is asked about.
    let forwarded = false;
    const second = await p.run(s, ci('deploy_to_production', 'api'), () => ((forwarded = true), ok()()));
    expect(asked).toEqual(['deploy_to_production', 'deploy_to_production']);
    expect(second).toMatchObject({ kind: 'denied', reasons: [{ rule: 'warden.approval_required' }] });
    expect(forwarded).toBe(false);
    expect(s.buildInput(ci('deploy_to_production', 'api'), Date.now(), 'call-99').approvals).toEqual([]);
  });
});

describe('CallPipeline: the commits of a call', () => {
  /** A real memory trail that counts its commits (each one a transaction, one fsync on SQLite). */
  function countingStore(fail: () => boolean = () => false) {
    const backend = new MemoryBackend();
    const commit = backend.commit.bind(backend);
    const commits: string[][] = [];
    backend.commit = (build) =>
      fail()
        ? Promise.reject(new Error('disk full'))
        : commit((head) => {
            const batch = build(head);
            commits.push(batch.rows.map((r) => r.type));
            return batch;
          });
    return { store: storeFromBackend(backend), commits };
  }
  function wired(store: ReturnType<typeof storeFromBackend>, onFailure: 'deny' | 'allow' = 'deny'): CallPipeline {
    let n = 0;
    return new CallPipeline({
      policy: { evaluate: async (input, now) => engine.evaluate(input, now), entrypoint: 'mcp/decision' },
      mode: 'enforce',
      audit: { append: (e) => store.append(e), appendAll: (events) => store.appendAll(events) },
      auditOnFailure: onFailure,
      decisionLog: { write: () => undefined },
      labels: { id: 'test', version: '0' },
      bundleName: () => 'policy',
      logger: createLogger({ silent: true }),
      auditResultMaxChars: 1000,
      approvals: { request: async () => Promise.reject(new Error('this policy asks for no approval')) },
      newId: () => `id-${++n}`,
    });
  }

  test('an allowed call: received, decided and forwarded durable in one commit before it leaves, completed in a second', async () => {
    const { store, commits } = countingStore();
    let seenAtForward: string[] = [];
    const outcome = await wired(store).run(session(), echo('hi'), async () => {
      seenAtForward = (await store.read({})).map((r) => r.type);
      return { content: [{ type: 'text', text: 'ok' }] };
    });
    expect(outcome).toMatchObject({ kind: 'completed', outcome: 'success' });
    expect(seenAtForward).toEqual(['call.received', 'call.decided', 'call.forwarded']);
    expect(commits).toEqual([['call.received', 'call.decided', 'call.forwarded'], ['call.completed']]);
    const records = await store.read({});
    expect(new Set(records.map((r) => r.data['call_id']))).toEqual(new Set(['id-1']));
    expect(records[2]!.data).toEqual({ call_id: 'id-1', server: 'faulty' });
  });

  test('a denied call: received and decided in one commit, nothing forwarded', async () => {
    const { store, commits } = countingStore();
    const outcome = await wired(store).run(session(), echo('forbidden'), async () => {
      throw new Error('a denied call is never forwarded');
    });
    expect(outcome).toMatchObject({ kind: 'denied' });
    expect(commits).toEqual([['call.received', 'call.decided']]);
  });

  test('calls in flight together share commits, each call still in order', async () => {
    const { store, commits } = countingStore();
    const p = wired(store);
    const s = session();
    await Promise.all(Array.from({ length: 8 }, (_, i) => p.run(s, echo(`m${i}`), slowForward(1))));
    const records = await store.read({});
    expect(records).toHaveLength(32);
    expect(commits.length).toBeLessThan(16);
    for (const id of new Set(records.map((r) => r.data['call_id']))) {
      expect(records.filter((r) => r.data['call_id'] === id).map((r) => r.type)).toEqual([
        'call.received',
        'call.decided',
        'call.forwarded',
        'call.completed',
      ]);
    }
  });

  test('when that commit fails and onFailure is allow, the call goes on and its forwarded record is retried', async () => {
    let attempts = 0;
    const { store, commits } = countingStore(() => attempts++ === 0);
    const outcome = await wired(store, 'allow').run(session(), echo('hi'), slowForward(1));
    expect(outcome).toMatchObject({ kind: 'completed', outcome: 'success' });
    expect(commits.flat()).toEqual(['call.forwarded', 'call.completed']);
  });
});
