// The read model of declared history on its own: what `mcp/history/reads` may say, and how the
// index keeps, per read, scope key and subject, only the newest entries a policy asked for.
import { describe, expect, test } from 'vitest';
import {
  historyEntry,
  HistoryIndex,
  MAX_READ_LAST,
  readHistoryReads,
  scopeKeys,
  traceId,
  type HistoryEntry,
  type HistoryRead,
  type HistoryScope,
  type Outcome,
  type ScopeKeys,
} from '../../src/session/index.js';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const TRACE_1 = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACE_2 = '0af7651916cd43dd8448eb211c80319c';
const traceparent = (id: string): string => `00-${id}-00f067aa0ba902b7-01`;

/** Reads as the policy would declare them, through the one parser (so the defaults apply). */
function reads(...declared: Record<string, unknown>[]): HistoryRead[] {
  const read = readHistoryReads(declared);
  if (!read.ok) throw new Error(read.message);
  return read.reads;
}

/** The history entry of call number `seq`, recorded as a session records it. */
function entry(seq: number, name: string, args: Record<string, unknown> = {}, outcome: Outcome = 'success') {
  const call = { kind: 'tool' as const, server: 'ci', tool: name, name, arguments: args };
  const where = { seq, session: 's-1', principal: 'alice', resultMaxChars: 100 };
  return historyEntry(call, outcome === 'denied' ? 'deny' : 'allow', outcome, null, T0 + seq, 1, where);
}

const KEYS = scopeKeys('s-1', { sub: 'alice' }, undefined);

/** Applies entry `order` (seq = order) to `index` under `keys`. */
function apply(index: HistoryIndex, order: number, name: string, args = {}, outcome?: Outcome, keys = KEYS): void {
  index.apply({ entry: entry(order, name, args, outcome), keys, order });
}

const seqs = (found: HistoryEntry[]): number[] => found.map((e) => e.seq);

const LABEL_MATCH = 'a read by `label` cannot `match` arguments (it reads any tool)';

describe('readHistoryReads: what mcp/history/reads may declare', () => {
  test('a read gets defaults: every call, no match, the newest one, success and error', () => {
    expect(readHistoryReads([{ tool: 'run_tests', scope: 'principal' }])).toEqual({
      ok: true,
      reads: [{ for: [], tool: 'run_tests', scope: 'principal', match: [], last: 1, outcomes: ['success', 'error'] }],
    });
  });

  test('what it declares is kept', () => {
    const declared = {
      for: ['pay'],
      tool: 'fraud_check',
      scope: 'trace',
      match: ['payment_id', 'amount'],
      last: MAX_READ_LAST,
      outcomes: ['denied'],
    };
    expect(readHistoryReads([declared])).toEqual({ ok: true, reads: [declared] });
  });

  test('`all` reads the session window, and only with scope session', () => {
    expect(readHistoryReads([{ all: true, scope: 'session', for: ['summarize'] }])).toEqual({
      ok: true,
      reads: [{ for: ['summarize'], scope: 'session', all: true }],
    });
    expect(readHistoryReads([{ all: true, scope: 'session', tool: 'both' }])).toEqual({
      ok: false,
      message: 'mcp/history/reads[0]: a read names exactly one of tool, label or all (got tool, all)',
    });
    expect(readHistoryReads([{ all: true, scope: 'trace' }])).toEqual({
      ok: false,
      message: 'mcp/history/reads[0]: `all` reads the session window: its scope must be session',
    });
  });

  test('a set (OPA gives it as an array) reads in its order', () => {
    // `reads contains {...}` evaluates to a JSON array, sorted by OPA.
    const set = [
      { scope: 'global', tool: 'a' },
      { scope: 'session', tool: 'b', for: ['x', 'y'] },
      { scope: 'session', all: true },
    ];
    const read = readHistoryReads(set);
    expect(read.ok && read.reads.map((r) => [r.scope, r.all ? 'all' : r.tool, r.for])).toEqual([
      ['global', 'a', []],
      ['session', 'b', ['x', 'y']],
      ['session', 'all', []],
    ]);
    expect(readHistoryReads([])).toEqual({ ok: true, reads: [] });
  });

  const OK = { tool: 'run_tests', scope: 'session' };
  const NOT_A_LIST = 'mcp/history/reads must be an array (or set) of reads';
  const item = (i: number, why: string): string => `mcp/history/reads[${i}]: ${why}`;
  const SCOPE = '`scope` must be one of session, trace, principal, global';
  const LAST = `\`last\` must be an integer from 1 to ${MAX_READ_LAST}`;
  test.each<[string, unknown, string]>([
    ['a string', 'oops', NOT_A_LIST],
    ['an object', { reads: [OK] }, NOT_A_LIST],
    ['a read that is a string', ['run_tests'], item(0, 'a read must be an object')],
    ['a read that is null, after a good one', [OK, null], item(1, 'a read must be an object')],
    ['a read that is an array', [OK, OK, [OK]], item(2, 'a read must be an object')],
    ['`for` as one name', [{ ...OK, for: 'deploy' }], item(0, '`for` must be an array of call names')],
    ['an unknown scope', [{ ...OK, scope: 'tenant' }], item(0, `${SCOPE} (got "tenant")`)],
    ['no scope', [{ tool: 'x' }], item(0, `${SCOPE} (got undefined)`)],
    ['no tool', [OK, { scope: 'session' }], item(1, 'a read names exactly one of tool, label or all (got none)')],
    ['a label that matches arguments', [{ scope: 'trace', label: 'secret', match: ['id'] }], item(0, LABEL_MATCH)],
    ['an empty label', [{ scope: 'trace', label: '' }], item(0, '`label` must be a label name')],
    ['an empty tool', [{ ...OK, tool: '' }], item(0, '`tool` must be a tool name')],
    ['`match` with a number', [{ ...OK, match: ['id', 1] }], item(0, '`match` must be an array of argument names')],
    ['`last` 0', [{ ...OK, last: 0 }], item(0, LAST)],
    ['`last` too large', [OK, { ...OK, last: MAX_READ_LAST + 1 }], item(1, LAST)],
    ['`last` a fraction', [{ ...OK, last: 1.5 }], item(0, LAST)],
    ['`last` a string', [{ ...OK, last: '3' }], item(0, LAST)],
    [
      'an unknown outcome',
      [{ ...OK, outcomes: ['allowed'] }],
      item(0, '`outcomes` must list success, error or denied'),
    ],
  ])('%s is refused, naming the index and the field', (_name, value, message) => {
    expect(readHistoryReads(value)).toEqual({ ok: false, message });
  });
});

describe('HistoryIndex: scopes keep whose calls count apart', () => {
  const acme = (sub: string) => ({ sub, claims: { org: 'acme' } });
  const globex = (sub: string) => ({ sub, claims: { org: 'globex' } });
  const keys = (session: string, principal: { sub: string; claims: Record<string, unknown> }, trace?: string) =>
    scopeKeys(session, principal, trace, 'org');
  // The calls 1..5 and where they were made.
  const CALLS: ScopeKeys[] = [
    keys('s-1', acme('alice'), TRACE_1),
    keys('s-2', acme('alice'), TRACE_2),
    keys('s-3', acme('bob'), TRACE_1),
    // Same sub and trace as call 1, in another tenant.
    keys('s-4', globex('alice'), TRACE_1),
    keys('s-1', acme('alice')),
  ];
  test.each<[string, HistoryScope, ScopeKeys, number[]]>([
    ['session: its own calls, traced or not', 'session', keys('s-1', acme('alice')), [1, 5]],
    ['session: another session of the same principal', 'session', keys('s-2', acme('alice')), [2]],
    ['session: a new session', 'session', keys('s-9', acme('alice'), TRACE_1), []],
    ['trace: one run across sessions and principals', 'trace', keys('s-9', acme('alice'), TRACE_1), [1, 3]],
    ['trace: two traces of one principal stay apart', 'trace', keys('s-9', acme('alice'), TRACE_2), [2]],
    ['trace: without a trace, the session', 'trace', keys('s-1', acme('alice')), [5]],
    ['trace: the same trace id in another tenant', 'trace', keys('s-9', globex('carol'), TRACE_1), [4]],
    ['principal: all of alice in acme', 'principal', keys('s-9', acme('alice')), [1, 2, 5]],
    ['principal: bob is not alice', 'principal', keys('s-9', acme('bob'), TRACE_1), [3]],
    ['principal: alice in globex is another principal', 'principal', keys('s-9', globex('alice')), [4]],
    ['global: everyone in acme', 'global', keys('s-9', acme('dave')), [1, 2, 3, 5]],
    ['global: everyone in globex', 'global', keys('s-9', globex('dave')), [4]],
    ['global: no tenant claim is a tenant of its own', 'global', keys('s-9', { sub: 'dave', claims: {} }), []],
  ])('%s', (_name, scope, asker, expected) => {
    const index = new HistoryIndex(reads({ tool: 'echo', scope, last: 10 }));
    CALLS.forEach((k, i) => apply(index, i + 1, 'echo', {}, 'success', k));
    const found = index.lookup('deploy', {}, asker);
    expect(seqs(found)).toEqual(expected);
    expect(found.every((e) => e.scope === scope)).toBe(true);
  });
});

describe('HistoryIndex: what a read keeps', () => {
  const pid = (value: unknown) => ({ payment_id: value });
  test.each<[string, string[], Record<string, unknown>, Record<string, unknown>, boolean]>([
    ['equal strings', ['payment_id'], pid('p1'), pid('p1'), true],
    ['different strings', ['payment_id'], pid('p1'), pid('p2'), false],
    // The trail stores JSON: 1.0 there is the number 1.
    ['1 and 1.0', ['payment_id'], JSON.parse('{"payment_id": 1.0}') as Record<string, unknown>, pid(1), true],
    ['a number and its string', ['payment_id'], pid(1), pid('1'), false],
    ['objects with keys in another order', ['payment_id'], pid({ a: 1, b: [2] }), pid({ b: [2], a: 1 }), true],
    ['null and null', ['payment_id'], pid(null), pid(null), true],
    ['arguments not matched on differ', ['payment_id'], { payment_id: 'p1', amount: 5 }, { payment_id: 'p1' }, true],
    ['two arguments, both equal', ['a', 'b'], { a: 'x', b: 'y' }, { b: 'y', a: 'x' }, true],
    ['two arguments, one differs', ['a', 'b'], { a: 'x', b: 'y' }, { a: 'x', b: 'z' }, false],
    ['two arguments split otherwise', ['a', 'b'], { a: 'xy', b: '' }, { a: 'x', b: 'y' }, false],
    ['the call lacks the argument', ['payment_id'], pid('p1'), {}, false],
    ['no match: any arguments', [], pid('p1'), pid('p2'), true],
  ])('match, %s', (_name, match, recorded, asked, found) => {
    const index = new HistoryIndex(reads({ tool: 'fraud_check', scope: 'session', match, last: 5 }));
    apply(index, 1, 'fraud_check', recorded);
    expect(seqs(index.lookup('pay', asked, KEYS))).toEqual(found ? [1] : []);
  });

  test('match: an entry without the argument is not indexed at all', () => {
    const index = new HistoryIndex(reads({ tool: 'fraud_check', scope: 'session', match: ['payment_id'] }));
    apply(index, 1, 'fraud_check', { other: 'p1' });
    expect(index.size).toBe(0);
    expect(index.lookup('pay', { payment_id: 'p1' }, KEYS)).toEqual([]);
  });

  test('match: each subject keeps its own newest entries', () => {
    const index = new HistoryIndex(reads({ tool: 'fraud_check', scope: 'session', match: ['payment_id'], last: 1 }));
    apply(index, 1, 'fraud_check', pid('p1'));
    apply(index, 2, 'fraud_check', pid('p2'));
    apply(index, 3, 'fraud_check', pid('p2'));
    expect(seqs(index.lookup('pay', pid('p1'), KEYS))).toEqual([1]);
    expect(seqs(index.lookup('pay', pid('p2'), KEYS))).toEqual([3]);
    expect(index.size).toBe(2);
  });

  test.each<[string, number[]]>([
    ['in trail order', [1, 2, 3, 4, 5, 6]],
    ['newest first', [6, 5, 4, 3, 2, 1]],
    ['shuffled', [4, 1, 6, 2, 5, 3]],
    ['with repeats', [1, 4, 4, 6, 2, 5, 6, 3, 5]],
  ])('last: only the newest 3 by trail order, applied %s', (_name, orders) => {
    const index = new HistoryIndex(reads({ tool: 'run_tests', scope: 'session', last: 3 }));
    for (const order of orders) apply(index, order, 'run_tests');
    expect(seqs(index.lookup('deploy', {}, KEYS))).toEqual([4, 5, 6]);
    expect(index.size).toBe(3);
  });

  test.each<[string, Outcome[] | undefined, number[]]>([
    ['by default success and error', undefined, [1, 2]],
    ['denied, when asked', ['denied'], [3]],
    ['success and denied', ['success', 'denied'], [1, 3]],
    ['all three', ['success', 'error', 'denied'], [1, 2, 3]],
  ])('outcomes: %s', (_name, outcomes, expected) => {
    const index = new HistoryIndex(reads({ tool: 'deploy', scope: 'session', last: 5, ...(outcomes && { outcomes }) }));
    apply(index, 1, 'deploy', {}, 'success');
    apply(index, 2, 'deploy', {}, 'error');
    apply(index, 3, 'deploy', {}, 'denied');
    const found = index.lookup('deploy', {}, KEYS);
    expect(seqs(found)).toEqual(expected);
    expect(found.map((e) => e.outcome)).toEqual(expected.map((s) => ['success', 'error', 'denied'][s - 1]));
  });

  test.each<[string, string[], string, boolean]>([
    ['empty: every call', [], 'anything', true],
    ['named: that call', ['deploy', 'rollback'], 'rollback', true],
    ['named: not another', ['deploy', 'rollback'], 'run_tests', false],
  ])('for, %s', (_name, names, asking, found) => {
    const index = new HistoryIndex(reads({ for: names, tool: 'run_tests', scope: 'session' }));
    apply(index, 1, 'run_tests');
    expect(seqs(index.lookup(asking, {}, KEYS))).toEqual(found ? [1] : []);
  });

  test('only calls of the read tool are kept', () => {
    const index = new HistoryIndex(reads({ tool: 'run_tests', scope: 'session', last: 5 }));
    apply(index, 1, 'security_scan');
    apply(index, 2, 'run_tests');
    expect(seqs(index.lookup('deploy', {}, KEYS))).toEqual([2]);
    expect(index.size).toBe(1);
  });
});

describe('HistoryIndex: answers', () => {
  test('a read by label answers with the newest labelled entry of any tool, in its scope only', () => {
    const index = new HistoryIndex(reads({ label: 'secret', scope: 'trace', last: 1 }));
    const trace1 = scopeKeys('s-1', { sub: 'alice' }, TRACE_1);
    const trace2 = scopeKeys('s-1', { sub: 'alice' }, TRACE_2);
    const labelled = (order: number, name: string, labels: string[], keys: ScopeKeys): void => {
      const where = { seq: order, session: 's-1', principal: 'alice', resultMaxChars: 100, labels };
      const call = { kind: 'tool' as const, server: 'ops', tool: name, name, arguments: {} };
      index.apply({ entry: historyEntry(call, 'allow', 'success', null, T0 + order, 1, where), keys, order });
    };
    labelled(1, 'read_secret', ['secret'], trace1);
    labelled(2, 'fetch_page', ['pii'], trace1);
    labelled(3, 'get_config', ['secret', 'pii'], trace1);
    labelled(4, 'read_secret', ['secret'], trace2);
    expect(index.lookup('http_post', {}, trace1).map((e) => [e.name, e.scope, e.labels])).toEqual([
      ['get_config', 'trace', ['secret', 'pii']],
    ]);
    expect(index.lookup('anything', {}, trace2).map((e) => e.seq)).toEqual([4]);
    expect(index.lookup('http_post', {}, scopeKeys('s-2', { sub: 'bob' }, undefined))).toEqual([]);
    expect(index.readsFor('any_tool_at_all')).toBe(true);
  });

  test('an entry drawn by reads in two scopes comes once per scope, in trail order', () => {
    const index = new HistoryIndex(
      reads({ tool: 'run_tests', scope: 'principal', last: 5 }, { tool: 'run_tests', scope: 'session', last: 5 }),
    );
    apply(index, 2, 'run_tests');
    apply(index, 1, 'run_tests');
    expect(index.size).toBe(4);
    expect(index.lookup('deploy', {}, KEYS).map((e) => [e.seq, e.scope])).toEqual([
      [1, 'session'],
      [1, 'principal'],
      [2, 'session'],
      [2, 'principal'],
    ]);
  });

  test('an entry drawn by two reads in one scope comes once', () => {
    const index = new HistoryIndex(
      reads(
        { tool: 'run_tests', scope: 'session', last: 5 },
        { tool: 'run_tests', scope: 'session', match: ['service'] },
        { tool: 'security_scan', scope: 'session' },
      ),
    );
    apply(index, 1, 'run_tests', { service: 'api' });
    apply(index, 2, 'security_scan', { service: 'api' });
    apply(index, 3, 'run_tests', { service: 'web' });
    expect(index.size).toBe(5);
    expect(index.lookup('deploy', { service: 'api' }, KEYS).map((e) => [e.seq, e.name, e.scope])).toEqual([
      [1, 'run_tests', 'session'],
      [2, 'security_scan', 'session'],
      [3, 'run_tests', 'session'],
    ]);
  });

  test.each<[string, Record<string, unknown>[], string, boolean]>([
    ['an `all` read for every call', [{ scope: 'session', all: true }], 'deploy', true],
    ['an `all` read for that call', [{ scope: 'session', all: true, for: ['deploy'] }], 'deploy', true],
    ['an `all` read for another call', [{ scope: 'session', all: true, for: ['deploy'] }], 'echo', false],
    ['only reads of tools', [{ scope: 'session', tool: 'deploy' }], 'deploy', false],
    ['no reads', [], 'deploy', false],
  ])('wantsWindow: %s', (_name, declared, name, wants) => {
    const index = new HistoryIndex(reads(...declared));
    expect(index.wantsWindow(name)).toBe(wants);
  });

  test('an `all` read keeps nothing: the session answers it', () => {
    const index = new HistoryIndex(reads({ scope: 'session', all: true }));
    apply(index, 1, 'deploy');
    expect(index.size).toBe(0);
    expect(index.lookup('deploy', {}, KEYS)).toEqual([]);
  });

  test('a scale of history costs nothing: 100 000 calls of one subject keep one entry', () => {
    const index = new HistoryIndex(reads({ tool: 'fraud_check', scope: 'global', match: ['payment_id'], last: 1 }));
    const n = 100_000;
    for (let order = 1; order <= n; order++) apply(index, order, 'fraud_check', { payment_id: 'p1' });
    expect(index.size).toBe(1);
    expect(seqs(index.lookup('pay', { payment_id: 'p1' }, KEYS))).toEqual([n]);
  });
});

describe('scopeKeys and traceId', () => {
  test('without a trace the trace key is the session key; without a tenant claim the tenant is ""', () => {
    expect(scopeKeys('s-1', { sub: 'alice', claims: { org: 'acme' } }, undefined)).toEqual({
      session: 'session:"s-1"',
      trace: 'session:"s-1"',
      principal: 'principal:"":"alice"',
      global: 'global:""',
    });
  });

  test.each<[string, Record<string, unknown> | undefined, string]>([
    ['a string claim', { org: 'acme' }, '"acme"'],
    ['a claim that is not a string', { org: ['acme'] }, '""'],
    ['no such claim', {}, '""'],
    ['no claims', undefined, '""'],
  ])('the tenant, from %s', (_name, claims, tenant) => {
    const principal = { sub: 'alice', ...(claims && { claims }) };
    expect(scopeKeys('s-1', principal, TRACE_1, 'org')).toEqual({
      session: 'session:"s-1"',
      trace: `trace:${tenant}:${TRACE_1}`,
      principal: `principal:${tenant}:"alice"`,
      global: `global:${tenant}`,
    });
  });

  test.each<[string, unknown, string | undefined]>([
    ['a traceparent', traceparent(TRACE_1), TRACE_1],
    ['one with spaces around it', ` ${traceparent(TRACE_2)}\n`, TRACE_2],
    ['an all-zero trace id', traceparent('0'.repeat(32)), undefined],
    ['upper-case hex', traceparent(TRACE_1.toUpperCase()), undefined],
    ['a short trace id', traceparent(TRACE_1.slice(1)), undefined],
    ['a bare trace id', TRACE_1, undefined],
    ['an extra field', `${traceparent(TRACE_1)}-00`, undefined],
    ['a number', 42, undefined],
    ['nothing', undefined, undefined],
  ])('traceId of %s', (_name, value, expected) => {
    expect(traceId(value)).toBe(expected);
  });
});
