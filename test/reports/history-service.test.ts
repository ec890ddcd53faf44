// The read model of declared history over real parts: a real audit store, and a real policy
// runtime compiled by the opa CLI from test/fixtures/history-reads/ (declared: one read per scope;
// none: no reads). Records reach the model as the pipeline gives them (apply) or from the store.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  openAuditStore,
  sessionOpened,
  type AuditEvent,
  type AuditStore,
  type ChainStore,
} from '../../src/audit/index.js';
import { policyRuntimeForSource } from '../../src/bundles/index.js';
import type { PolicyRuntime } from '../../src/policy/index.js';
import { HistoryService, HISTORY_READS_ENTRYPOINT, type HistoryServiceOptions } from '../../src/reports/index.js';
import { Session, type HistoryEntry, type PendingCall } from '../../src/session/index.js';
import { tempDir } from '../audit/helpers/fixtures.js';
import { FIXTURES } from '../helpers/warden.js';
import { at, call, opened, reason, T0 } from './helpers.js';

const DECLARED = join(FIXTURES, 'history-reads/declared');
const NONE = join(FIXTURES, 'history-reads/none');
const TRACE_1 = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACE_2 = '0af7651916cd43dd8448eb211c80319c';
const traceparent = (id: string): string => `00-${id}-00f067aa0ba902b7-01`;
const RESULT_MAX_CHARS = 100;

const principal = (sub: string) => ({ sub, roles: [], claims: {} });
const session = (id: string, sub = 'alice'): Session =>
  new Session(id, principal(sub), at(0), { historyWindow: 10, resultMaxChars: RESULT_MAX_CHARS });

/** The call a client makes now, as the pipeline hands it to the lookup. */
function pending(name: string, args: Record<string, unknown> = {}, trace?: string): PendingCall {
  const call = { kind: 'tool' as const, server: 'ci', tool: name, name, arguments: args, annotations: {} };
  return trace ? { ...call, traceparent: traceparent(trace) } : call;
}

/** The records of one call, with the trace id `call.received` records for a traced request. */
function traced(events: AuditEvent[], trace: string): AuditEvent[] {
  return events.map((e) => (e.type === 'call.received' ? { ...e, data: { ...e.data, trace_id: trace } } : e));
}

const denied = { allow: false, policy_allow: false, reasons: [reason('deploy.tests_first')] };

/**
 * Alice in s-1 and s-2, bob in s-3. s-1 runs its tests and checks payment p1 in trace 1, is refused
 * a deploy, and checks p2 (which fails) in trace 1; s-2's tests fail; s-3's pass.
 */
const TRAIL: AuditEvent[] = [
  opened('s-1', 0),
  opened('s-2', 0),
  opened('s-3', 0, 'bob'),
  ...traced(call({ session: 's-1', id: 'c1', name: 'run_tests', s: 1 }), TRACE_1),
  ...traced(call({ session: 's-1', id: 'c2', name: 'fraud_check', s: 3, args: { payment_id: 'p1' } }), TRACE_1),
  ...call({ session: 's-1', id: 'c3', name: 'deploy', s: 5, decision: denied }),
  ...call({ session: 's-2', id: 'c4', name: 'run_tests', s: 7, outcome: 'error' }),
  ...call({ session: 's-3', id: 'c5', name: 'run_tests', s: 9 }),
  ...traced(
    call({ session: 's-1', id: 'c6', name: 'fraud_check', s: 11, args: { payment_id: 'p2' }, outcome: 'error' }),
    TRACE_1,
  ),
];

/** Appends the events to the store; those this process wrote (`service` given) are applied too. */
async function append(store: AuditStore, events: AuditEvent[], service?: HistoryService): Promise<void> {
  for (const event of events) {
    const record = await store.append(event);
    service?.apply(record);
  }
}

/** What an answer says of each entry: the call, how it ended, and the scope, session and principal. */
const brief = (found: HistoryEntry[] | undefined) =>
  found?.map((e) => [e.name, e.outcome, e.scope, e.session, e.principal].join(' '));

async function runtime(dir: string): Promise<PolicyRuntime> {
  const policy = policyRuntimeForSource(dir, 'mcp/decision');
  await policy.start();
  return policy;
}

/** A policy directory like DECLARED whose reads are `rego` (the body of package mcp.history). */
function policyDir(rego: string): { dir: string; cleanup: () => void } {
  const temp = tempDir('history-reads-');
  cpSync(DECLARED, temp.dir, { recursive: true });
  writeReads(temp.dir, rego);
  return temp;
}

function writeReads(dir: string, rego: string): void {
  mkdirSync(join(dir, 'mcp/history'), { recursive: true });
  writeFileSync(join(dir, 'mcp/history/reads.rego'), `package mcp.history\n\n${rego}\n`);
}

let declared: PolicyRuntime;
let none: PolicyRuntime;
let store: ChainStore;

beforeAll(async () => {
  [declared, none] = await Promise.all([runtime(DECLARED), runtime(NONE)]);
});
afterAll(() => {
  declared?.stop();
  none?.stop();
});
beforeEach(async () => {
  store = await openAuditStore('memory:');
});
afterEach(async () => {
  await store.close();
});

const service = (options: Partial<HistoryServiceOptions> = {}): HistoryService =>
  new HistoryService({ policy: declared, store, resultMaxChars: RESULT_MAX_CHARS, ...options });

describe('HistoryService: a policy without reads', () => {
  test('compiles without the entrypoint, and every lookup answers undefined (the session window applies)', async () => {
    expect(declared.hasEntrypoint(HISTORY_READS_ENTRYPOINT)).toBe(true);
    expect(none.hasEntrypoint(HISTORY_READS_ENTRYPOINT)).toBe(false);
    const history = service({ policy: none });
    await append(store, TRAIL, history);
    expect(await history.lookup(session('s-1'), pending('deploy'))).toBeUndefined();
    expect(await history.lookup(session('s-1'), pending('summarize'))).toBeUndefined();
  });
});

describe('HistoryService: each declared read answers from its scope', () => {
  // One service over one trail, fed as the pipeline feeds it: built first, then every record applied.
  let history: HistoryService;
  let reads = 0;
  let readsToBuild = -1;
  let shared: ChainStore;
  beforeAll(async () => {
    shared = await openAuditStore('memory:');
    const counted: Pick<AuditStore, 'read' | 'chains'> = {
      read: (query) => (reads++, shared.read(query)),
      chains: () => shared.chains(),
    };
    history = new HistoryService({ policy: declared, store: counted, resultMaxChars: RESULT_MAX_CHARS });
    expect(await history.lookup(session('s-1'), pending('deploy'))).toEqual([]);
    readsToBuild = reads;
    await append(shared, TRAIL, history);
  });
  afterAll(async () => {
    await shared.close();
  });

  test.each<[string, Session, PendingCall, string[]]>([
    [
      "a deploy sees its principal's test runs in every session, and its own session's refusals",
      session('s-1'),
      pending('deploy'),
      [
        'run_tests success principal s-1 alice',
        'deploy denied session s-1 alice',
        'run_tests error principal s-2 alice',
      ],
    ],
    [
      'a deploy in another session of alice: not the refusal in s-1',
      session('s-2'),
      pending('deploy'),
      ['run_tests success principal s-1 alice', 'run_tests error principal s-2 alice'],
    ],
    [
      "a deploy of bob: only bob's tests",
      session('s-3', 'bob'),
      pending('deploy'),
      ['run_tests success principal s-3 bob'],
    ],
    ['a new principal: nothing', session('s-9', 'carol'), pending('deploy'), []],
    [
      'a payment in the same trace, from a new session',
      session('s-9'),
      pending('pay', { payment_id: 'p1' }, TRACE_1),
      ['fraud_check success trace s-1 alice'],
    ],
    [
      'another payment in the same trace',
      session('s-9'),
      pending('pay', { payment_id: 'p2' }, TRACE_1),
      ['fraud_check error trace s-1 alice'],
    ],
    ['the payment in another trace', session('s-1'), pending('pay', { payment_id: 'p1' }, TRACE_2), []],
    ['the payment without a trace (the session is its run)', session('s-1'), pending('pay', { payment_id: 'p1' }), []],
    ['a payment without the argument it is matched on', session('s-9'), pending('pay', {}, TRACE_1), []],
    ['a call no read is for', session('s-1'), pending('run_tests'), []],
  ])('%s', async (_name, asker, call, expected) => {
    expect(brief(await history.lookup(asker, call))).toEqual(expected);
  });

  test('an entry is the call as the session recorded it, with the scope it was drawn from', async () => {
    const [tests, refused] = (await history.lookup(session('s-1'), pending('deploy')))!;
    expect(tests).toEqual({
      seq: 1,
      scope: 'principal',
      session: 's-1',
      principal: 'alice',
      kind: 'tool',
      server: 'ci',
      tool: 'run_tests',
      name: 'run_tests',
      arguments: {},
      decision: 'allow',
      outcome: 'success',
      result: { ok: true },
      at: at(1),
      at_ms: T0 + 1000,
      duration_ms: 900,
    });
    expect(refused).toMatchObject({ seq: 3, scope: 'session', decision: 'deny', result: null, duration_ms: 100 });
  });

  test("an `all` read answers with the session's own window", async () => {
    const asker = session('s-1');
    const ran = pending('run_tests', { service: 'api' });
    asker.record(ran, 'allow', 'success', { content: [{ type: 'text', text: 'ok' }] }, T0, 5);
    expect(await history.lookup(asker, pending('summarize'))).toEqual(asker.window());
    expect(brief(asker.window())).toEqual(['run_tests success session s-1 alice']);
  });

  test('records applied in trail order are folded as they come: the store is read only to build', () => {
    expect(readsToBuild).toBeGreaterThanOrEqual(0);
    expect(reads).toBe(readsToBuild);
  });
});

describe('HistoryService: records another replica appended', () => {
  test.each<[string, boolean, string[]]>([
    ['without follow: not seen until a record of this process reveals the gap', false, []],
    ['with follow: seen at the next lookup', true, ['run_tests success principal s-1 alice']],
  ])('%s', async (_name, follow, beforeGap) => {
    const history = service({ follow });
    await append(store, [opened('s-1', 0)], history);
    expect(await history.lookup(session('s-1'), pending('deploy'))).toEqual([]);
    // Another replica writes to the same store: this process never applies its records.
    await append(store, call({ session: 's-1', id: 'c1', name: 'run_tests', s: 1 }));
    expect(brief(await history.lookup(session('s-1'), pending('deploy')))).toEqual(beforeGap);
    // This process appends after it: its record's seq shows the model is behind.
    await append(store, call({ session: 's-1', id: 'c2', name: 'run_tests', s: 2, outcome: 'error' }), history);
    expect(brief(await history.lookup(session('s-1'), pending('deploy')))).toEqual([
      'run_tests success principal s-1 alice',
      'run_tests error principal s-1 alice',
    ]);
  });
});

describe('HistoryService: built from the trail', () => {
  test('a fresh service over an existing trail (a restart) answers from it at its first lookup', async () => {
    const temp = tempDir('history-service-');
    const url = `sqlite:${join(temp.dir, 'audit.db')}`;
    try {
      const before = await openAuditStore(url);
      await append(before, TRAIL);
      await before.close();
      const after = await openAuditStore(url);
      try {
        const history = new HistoryService({ policy: declared, store: after, resultMaxChars: RESULT_MAX_CHARS });
        expect(brief(await history.lookup(session('s-2'), pending('deploy')))).toEqual([
          'run_tests success principal s-1 alice',
          'run_tests error principal s-2 alice',
        ]);
        expect(brief(await history.lookup(session('s-9'), pending('pay', { payment_id: 'p2' }, TRACE_1)))).toEqual([
          'fraud_check error trace s-1 alice',
        ]);
      } finally {
        await after.close();
      }
    } finally {
      temp.cleanup();
    }
  });

  test("a new policy revision's reads are answered from the trail", async () => {
    const temp = policyDir('reads contains {"for": ["deploy"], "tool": "run_tests", "scope": "principal", "last": 3}');
    const policy = await runtime(temp.dir);
    try {
      const history = service({ policy });
      await append(store, TRAIL, history);
      const deploy = (): Promise<HistoryEntry[] | undefined> => history.lookup(session('s-2'), pending('deploy'));
      expect(brief(await deploy())).toEqual([
        'run_tests success principal s-1 alice',
        'run_tests error principal s-2 alice',
      ]);
      const first = policy.revision;
      writeReads(temp.dir, 'reads contains {"for": ["deploy"], "tool": "run_tests", "scope": "session"}');
      expect(await policy.reload()).toBe(true);
      expect(policy.revision).not.toBe(first);
      expect(brief(await deploy())).toEqual(['run_tests error session s-2 alice']);
      // Records after the swap reach the new model too.
      await append(store, call({ session: 's-2', id: 'c7', name: 'run_tests', s: 20 }), history);
      expect(brief(await deploy())).toEqual(['run_tests success session s-2 alice']);
      // A revision that declares no reads: the session window applies again.
      rmSync(join(temp.dir, 'mcp/history'), { recursive: true });
      expect(await policy.reload()).toBe(true);
      expect(await deploy()).toBeUndefined();
    } finally {
      policy.stop();
      temp.cleanup();
    }
  });

  test('tenants never share a scope: the tenant claim separates them in the trail and in the lookup', async () => {
    const temp = policyDir('reads contains {"tool": "run_tests", "scope": "global", "last": 10}');
    const policy = await runtime(temp.dir);
    try {
      const history = service({ policy, tenantClaim: 'org' });
      const member = (sub: string, org: string) => ({ sub, roles: [], claims: { org } });
      const open = (id: string, sub: string, org: string): AuditEvent =>
        sessionOpened(id, { client: { name: 'c', version: '1' }, principal: member(sub, org), started_at: at(0) });
      await append(store, [open('s-1', 'alice', 'acme'), open('s-2', 'alice', 'globex'), open('s-3', 'bob', 'acme')]);
      await append(store, call({ session: 's-1', id: 'c1', name: 'run_tests', s: 1 }), history);
      await append(store, call({ session: 's-2', id: 'c2', name: 'run_tests', s: 2 }), history);
      await append(store, call({ session: 's-3', id: 'c3', name: 'run_tests', s: 3 }), history);
      const asker = (org: string): Session =>
        new Session('s-9', member('carol', org), at(0), { historyWindow: 10, resultMaxChars: RESULT_MAX_CHARS });
      expect(brief(await history.lookup(asker('acme'), pending('deploy')))).toEqual([
        'run_tests success global s-1 alice',
        'run_tests success global s-3 bob',
      ]);
      expect(brief(await history.lookup(asker('globex'), pending('deploy')))).toEqual([
        'run_tests success global s-2 alice',
      ]);
      expect(await history.lookup(asker('initech'), pending('deploy'))).toEqual([]);
    } finally {
      policy.stop();
      temp.cleanup();
    }
  });

  const SCOPE = '`scope` must be one of session, trace, principal, global (got "tenant")';
  test.each<[string, string, string]>([
    ['not a list', 'reads := "oops"', 'mcp/history/reads must be an array (or set) of reads'],
    [
      'a read of no scope Warden knows',
      'reads := [{"tool": "x", "scope": "tenant"}]',
      `mcp/history/reads[0]: ${SCOPE}`,
    ],
  ])('unusable reads (%s) are reported once, and calls get no history', async (_name, rego, why) => {
    const temp = policyDir(rego);
    const policy = await runtime(temp.dir);
    try {
      const errors: string[] = [];
      const history = service({ policy, onError: (message) => errors.push(message) });
      await append(store, TRAIL, history);
      expect(await history.lookup(session('s-1'), pending('deploy'))).toEqual([]);
      expect(await history.lookup(session('s-1'), pending('summarize'))).toEqual([]);
      expect(errors).toEqual([
        `mcp/history/reads of revision ${policy.revision} is unusable: ${why}; ` +
          'calls are decided with no history until it is fixed',
      ]);
    } finally {
      policy.stop();
      temp.cleanup();
    }
  });
});
