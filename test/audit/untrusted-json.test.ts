// Untrusted JSON in the audit part: a `__proto__` key (JSON.parse makes it an own key; `copy[key] =`
// would drop it) and nesting deep enough to overflow a recursive walk, through the real store,
// redactor, masks and verifier.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applyMasks, createRedactor, openAuditStore, verifyChain } from '../../src/audit/index.js';
import { tempDir } from './helpers/fixtures.js';

const KEY = 'redaction-key-for-these-tests';
const MARK = /^\[REDACTED:hmac-sha256:[0-9a-f]{16}\]$/;

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('untrusted-');
});
afterAll(() => tmp.cleanup());

/** `{"a":{"a":…{"leaf":…}}}` nested `depth` objects deep, built without recursion. */
function nested(depth: number, leaf: unknown): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 1; i < depth; i++) {
    const child: Record<string, unknown> = {};
    node['a'] = child;
    node = child;
  }
  node['leaf'] = leaf;
  return root;
}

function leafOf(value: unknown): unknown {
  let node = value as Record<string, unknown>;
  while (node['a']) node = node['a'] as Record<string, unknown>;
  return node['leaf'];
}

describe('the audit store', () => {
  test('keeps a __proto__ key in the record it stores and reads back, and the chain verifies', async () => {
    const store = await openAuditStore(`sqlite:${join(tmp.dir, 'proto.db')}`);
    const args = JSON.parse('{"__proto__":{"x":1},"a":1}') as Record<string, unknown>;
    const event = { type: 'call.received' as const, session_id: 's', data: { call_id: 'c1', arguments: args } };
    const appended = await store.append(event);
    const [read] = await store.read({});
    for (const record of [appended, read!]) {
      const stored = record.data['arguments'] as Record<string, unknown>;
      expect(Object.keys(stored)).toEqual(['__proto__', 'a']);
      expect(JSON.stringify(stored)).toBe('{"__proto__":{"x":1},"a":1}');
    }
    expect(await verifyChain(store)).toMatchObject({ ok: true, count: 1 });
    await store.close();
  });

  test('stores and verifies data nested 100,000 deep, with redaction (recursion overflows near 2,000)', async () => {
    const redact = createRedactor({ keys: ['password'], secret: KEY });
    const store = await openAuditStore(`sqlite:${join(tmp.dir, 'deep.db')}`, { redact: (data) => redact(data) });
    const data = { call_id: 'c1', result: nested(100_000, { password: 'hunter2', ok: true }) };
    await store.append({ type: 'call.completed', session_id: 's', data });
    const [record] = await store.read({});
    expect(leafOf(record!.data['result'])).toEqual({ password: expect.stringMatching(MARK), ok: true });
    expect(await verifyChain(store)).toMatchObject({ ok: true, count: 1 });
    await store.close();
  });
});

describe('createRedactor and untrusted keys', () => {
  test('keeps __proto__ keys, and redacts under them by name and by pointer', () => {
    const pointers = ['/__proto__/pin', '/list/0/__proto__'];
    const redact = createRedactor({ keys: ['password'], pointers, secret: KEY });
    const value = JSON.parse('{"__proto__":{"pin":"1234","password":"pw","x":1},"list":[{"__proto__":"p"}],"a":1}');
    const out = redact(value) as Record<string, Record<string, unknown>>;
    expect(Object.keys(out)).toEqual(['__proto__', 'list', 'a']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out['__proto__']).toEqual({ pin: expect.stringMatching(MARK), password: expect.stringMatching(MARK), x: 1 });
    expect(Object.getOwnPropertyDescriptor((out['list'] as unknown as unknown[])[0], '__proto__')?.value).toMatch(MARK);
  });

  test('a key named __proto__ can itself be redacted, by name or by pointer, and the secret is gone', () => {
    const value = JSON.parse('{"__proto__":{"secret":"s3cr3t"},"ok":1}');
    for (const rules of [{ keys: ['__proto__'] }, { pointers: ['/__proto__'] }]) {
      const out = createRedactor({ ...rules, secret: KEY })(value) as Record<string, unknown>;
      expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toMatch(MARK);
      expect(JSON.stringify(out)).not.toContain('s3cr3t');
    }
  });

  test('one value matched by a name and a pointer gets one mark, the same as by either rule alone', () => {
    const both = createRedactor({ keys: ['password'], pointers: ['/arguments/password'], secret: KEY });
    const byName = createRedactor({ keys: ['password'], secret: KEY });
    const argumentsOf = (v: unknown): unknown[] => [(v as { arguments: unknown }).arguments];
    const relative = createRedactor({ pointers: ['/password'], secret: KEY, pointersFrom: argumentsOf });
    const record = { arguments: { password: 'hunter2' } };
    const marks = [both, byName, relative].map((r) => (r(record) as typeof record).arguments.password);
    expect(marks[0]).toMatch(MARK);
    expect(new Set(marks).size).toBe(1);
  });

  test('pointersFrom resolves pointers in several places (a call and its history), once each', () => {
    const redact = createRedactor({
      pointers: ['/card/number'],
      secret: KEY,
      pointersFrom: (v) => {
        const input = v as { call: { arguments: unknown }; history: { arguments: unknown }[] };
        return [input.call.arguments, ...input.history.map((h) => h.arguments)];
      },
    });
    const card = { number: '4111111111111111', exp: '12/30' };
    const history = [{ arguments: { card } }, { arguments: 'not an object' }];
    const out = redact({ call: { arguments: { card } }, history }) as {
      call: { arguments: { card: typeof card } };
      history: { arguments: { card: typeof card } }[];
    };
    expect(out.call.arguments.card.number).toMatch(MARK);
    expect(out.history[0]!.arguments.card.number).toBe(out.call.arguments.card.number);
    expect(out.call.arguments.card.exp).toBe('12/30');
  });

  test('redacts 100,000 levels deep without a RangeError', () => {
    const out = createRedactor({ keys: ['api_key'], secret: KEY })(nested(100_000, { api_key: 'k-123' }));
    expect(leafOf(out)).toEqual({ api_key: expect.stringMatching(MARK) });
  });
});

describe('applyMasks and untrusted keys', () => {
  test('copies keep __proto__; an upsert at a __proto__ path creates an own key; a remove there removes it', () => {
    const input = JSON.parse('{"call":{"arguments":{"__proto__":{"pin":"1"},"a":1}}}') as Record<string, unknown>;
    const event = { decision_id: 'd', input };
    const kept = applyMasks(event, []);
    expect(JSON.stringify(kept.input)).toBe('{"call":{"arguments":{"__proto__":{"pin":"1"},"a":1}}}');
    const upserted = applyMasks(event, [
      { op: 'upsert', path: '/input/call/arguments/__proto__/pin', value: '*' },
      { op: 'upsert', path: '/input/__proto__', value: 'x' },
    ]);
    const expected = '{"call":{"arguments":{"__proto__":{"pin":"*"},"a":1}},"__proto__":"x"}';
    expect(JSON.stringify(upserted.input)).toBe(expected);
    expect(Object.getPrototypeOf(upserted.input)).toBe(Object.prototype);
    const removed = applyMasks(event, ['/input/call/arguments/__proto__']);
    expect(JSON.stringify(removed.input)).toBe('{"call":{"arguments":{"a":1}}}');
    expect(removed.erased).toEqual(['/input/call/arguments/__proto__']);
  });
});
