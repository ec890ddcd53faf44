// The JSON helpers every copy of untrusted data goes through (src/common/json.ts): they must give the
// same text as JSON.stringify and the `canonicalize` package (RFC 8785) on ordinary values, keep a
// `__proto__` key, and never recurse, so that no nesting a client chooses can throw a RangeError.
import canonicalize from 'canonicalize';
import { describe, expect, test } from 'vitest';
import {
  canonicalJson,
  compactJson,
  copyJson,
  documentJson,
  JsonShapeError,
  measureJson,
  setOwn,
} from '../../src/common/index.js';

/** A small deterministic PRNG (mulberry32), so a failing case can be reproduced from its seed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['', 'a', 'Z', 'é', '€', '😀', '\u2028', '"', '\\', '\n', '\u0001', '\u007f', '1', '10', '__proto__'];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789.125, 2 ** 53, -(2 ** 31), 5e-324, 1.7976931348623157e308];

/** A random plain JSON value (what JSON.parse can give), with awkward strings, keys and numbers. */
function randomJson(next: () => number, depth: number): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const text = (): string => Array.from({ length: Math.floor(next() * 4) }, () => pick(PIECES)).join('');
  const kind = depth <= 0 ? Math.floor(next() * 4) : Math.floor(next() * 6);
  switch (kind) {
    case 0:
      return pick([null, true, false]);
    case 1:
      return next() < 0.2 ? next() * 1e6 - 5e5 : pick(NUMBERS);
    case 2:
    case 3:
      return text();
    case 4:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomJson(next, depth - 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 5); i > 0; i--) setOwn(out, text(), randomJson(next, depth - 1));
      return out;
    }
  }
}

/** `{"a":{"a":…1…}}` nested `depth` objects deep, built without recursion. */
function nested(depth: number): { value: Record<string, unknown>; text: string } {
  const value: Record<string, unknown> = {};
  let node = value;
  for (let i = 1; i < depth; i++) {
    const child: Record<string, unknown> = {};
    node['a'] = child;
    node = child;
  }
  node['a'] = 1;
  return { value, text: '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) };
}

describe('canonicalJson (RFC 8785, iterative)', () => {
  test.each([
    ['key order by UTF-16 code units', { b: 1, a: 2, '€': 3, '😀': 4, B: 5, '10': 6, '9': 7 }],
    ['numbers in ECMAScript form', [0, -0, 1e21, 1e-7, 0.1 + 0.2, 123456789.125, 5e-324, -1.5e300]],
    ['string escapes', ['"\\\b\f\n\r\t', '\u0000\u001f\u007f', '\u2028\u2029', "<>&'", 'é😀']],
    ['nested containers', { a: [[], {}, [{}], { b: [null, true, false] }], c: { d: { e: 'f' } } }],
    ['undefined is left out of objects and null in arrays', { a: undefined, b: [undefined, 1] }],
    ['toJSON is honoured', { at: new Date(0), nested: { toJSON: () => ({ z: 1, y: 2 }) } }],
    ['a __proto__ key is an ordinary key', JSON.parse('{"b":1,"__proto__":{"x":[1]},"a":0}')],
    ['scalars', 'just a string'],
  ])('matches the canonicalize package: %s', (_name, value) => {
    expect(canonicalJson(value)).toBe(canonicalize(value));
  });

  test('matches the canonicalize package on 2,000 random values (seeded)', () => {
    const next = prng(20_260_111);
    for (let i = 0; i < 2000; i++) {
      const value = randomJson(next, 4);
      expect(canonicalJson(value), JSON.stringify(value)).toBe(canonicalize(value));
    }
  });

  test('does not overflow where the canonicalize package does: 100,000 nested objects and arrays', () => {
    const deep = nested(100_000);
    expect(() => canonicalize(deep.value)).toThrow(RangeError);
    expect(canonicalJson(deep.value)).toBe(deep.text);
    const arrays: unknown[] = [];
    let node = arrays;
    for (let i = 1; i < 100_000; i++) {
      const child: unknown[] = [];
      node.push(child);
      node = child;
    }
    expect(canonicalJson(arrays)).toBe('['.repeat(100_000) + ']'.repeat(100_000));
  });

  test('refuses what RFC 8785 refuses, and cycles, with JsonShapeError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = { back: cyclic };
    for (const bad of [NaN, Infinity, '\ud800', { [`a\udc00`]: 1 }, cyclic, 10n]) {
      expect(() => canonicalJson(bad)).toThrow(JsonShapeError);
    }
    // The same object twice is no cycle.
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });

  test('wellFormed and lenient: lone surrogates become U+FFFD (keys merge, last wins), NaN becomes null', () => {
    const value = { 'k\ud800': 1, 'k\udc00': 2, s: 'a\udc00b', n: NaN };
    expect(canonicalJson(value, { wellFormed: true, lenient: true })).toBe('{"k\ufffd":2,"n":null,"s":"a\ufffdb"}');
  });

  // A scalar at the root takes a shorter path than a container: the same text, the same refusals.
  test.each([0, -0, 1e21, 5e-324, -1.5, 12, true, false, null, '', 'é 😀 \u2028 "\\', '2025-01-31T12:00:00.000Z'])(
    'a scalar at the root, %j, as the canonicalize package and JSON.stringify write it',
    (value) => {
      expect(canonicalJson(value)).toBe(canonicalize(value));
      expect(compactJson(value)).toBe(JSON.stringify(value));
    },
  );

  test('a scalar at the root: lone surrogates and non-finite numbers follow the options', () => {
    expect(canonicalJson('a\ud800', { wellFormed: true })).toBe('"a\ufffd"');
    expect(canonicalJson(NaN, { lenient: true })).toBe('null');
    expect(compactJson('a\udc00')).toBe(JSON.stringify('a\udc00'));
    expect(compactJson(-Infinity)).toBe('null');
  });
});

describe('compactJson (JSON.stringify, iterative)', () => {
  test('matches JSON.stringify on 2,000 random values and on its special cases', () => {
    const next = prng(7);
    for (let i = 0; i < 2000; i++) {
      const value = randomJson(next, 4);
      expect(compactJson(value)).toBe(JSON.stringify(value));
    }
    const special = [
      undefined,
      () => 1,
      { f: () => 1, u: undefined, n: NaN, i: -Infinity, d: new Date(0) },
      [() => 1, Symbol('s')],
      'x\ud800',
      new String('boxed'),
    ];
    for (const value of special) expect(compactJson(value)).toBe(JSON.stringify(value));
  });

  test('does not overflow where JSON.stringify does', () => {
    const deep = nested(100_000);
    expect(() => JSON.stringify(deep.value)).toThrow(RangeError);
    expect(compactJson(deep.value)).toBe(deep.text);
  });
});

describe('documentJson', () => {
  test('is JSON.stringify of the document, serialised once: a later change is not seen', () => {
    const doc = { call: { name: 'echo', arguments: { message: 'hi' } }, history: [] as unknown[] };
    expect(documentJson(doc)).toBe(JSON.stringify(doc));
    doc.history.push({ tool: 'echo' });
    // The contract its writers rely on, and the reason it is only for documents built, then read.
    expect(documentJson(doc)).toBe('{"call":{"name":"echo","arguments":{"message":"hi"}},"history":[]}');
    expect(documentJson({ ...doc })).toBe(JSON.stringify(doc));
  });
});

describe('measureJson', () => {
  test.each([
    ['a scalar', 'abc', 0, 5],
    ['an empty object', {}, 1, 2],
    ['one level', { a: 'é' }, 1, '{"a":"é"}'.length + 1],
    ['nested', { a: [{ b: [] }] }, 4, '{"a":[{"b":[]}]}'.length],
  ])('%s', (_name, value, depth, bytes) => {
    expect(measureJson(value)).toEqual({ depth, bytes });
  });

  test('measures 100,000 levels without recursion', () => {
    const deep = nested(100_000);
    expect(measureJson(deep.value)).toEqual({ depth: 100_000, bytes: deep.text.length });
  });
});

describe('copyJson and setOwn keep every key', () => {
  test('a __proto__ key parsed from JSON stays an own key of the copy, and the copy keeps Object.prototype', () => {
    const parsed = JSON.parse('{"__proto__":{"x":1},"a":{"__proto__":[1,2]}}') as Record<string, unknown>;
    const copy = copyJson(parsed) as Record<string, unknown>;
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(JSON.stringify(copy)).toBe('{"__proto__":{"x":1},"a":{"__proto__":[1,2]}}');
    expect(copy).not.toBe(parsed);
  });

  test('replace substitutes a subtree without walking it; the original is untouched', () => {
    const source = { keep: { deep: 1 }, pin: { secret: 'x' }, list: [1, { pin: 2 }] };
    const copy = copyJson(source, (_parent, key) => (key === 'pin' ? { value: '****' } : undefined));
    expect(copy).toEqual({ keep: { deep: 1 }, pin: '****', list: [1, { pin: '****' }] });
    expect(source.pin).toEqual({ secret: 'x' });
  });

  test('copies 100,000 levels, and refuses a cycle', () => {
    const deep = nested(100_000);
    expect(compactJson(copyJson(deep.value))).toBe(deep.text);
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(() => copyJson(cyclic)).toThrow(JsonShapeError);
  });

  test('setOwn defines __proto__ as data and assigns other keys', () => {
    const target: Record<string, unknown> = {};
    setOwn(target, '__proto__', { polluted: true });
    setOwn(target, 'a', 1);
    const own = Object.getOwnPropertyDescriptor(target, '__proto__');
    expect(own).toMatchObject({ value: { polluted: true }, enumerable: true, writable: true });
    expect((target as { polluted?: unknown }).polluted).toBeUndefined();
    expect(JSON.stringify(target)).toBe('{"__proto__":{"polluted":true},"a":1}');
  });
});
