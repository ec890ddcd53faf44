// JSON helpers for values a client controls (tool arguments, results, everything recorded about them).
//
// Two traps they avoid:
//  - Recursion. A client chooses the nesting: V8's JSON.stringify overflows the stack at about 5,000
//    levels and a recursive JS walk at about 2,000, while JSON.parse (iterative) reads 100,000 levels
//    happily. Nothing here recurses; an explicit stack grows on the heap instead.
//  - `__proto__`. JSON.parse makes it an ordinary own key, but `copy[key] = value` with that key sets
//    the copy's prototype instead, so the key silently vanishes from the copy. Copies use setOwn.

/**
 * Sets an own, enumerable property, even when `key` is `__proto__` (where assignment would set the
 * prototype instead of adding the key).
 *
 * @example
 * ```ts
 * const copy = {};
 * setOwn(copy, '__proto__', { x: 1 });
 * Object.keys(copy); // ['__proto__']
 * ```
 */
export function setOwn(target: object, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    (target as Record<string, unknown>)[key] = value;
  }
}

/** A value that cannot be written as JSON (a cycle, a BigInt, or, for canonical JSON, NaN or a lone surrogate). */
export class JsonShapeError extends TypeError {}

/** How {@link writeJson} serialises. */
interface WriteOptions {
  /** RFC 8785 key order (UTF-16 code units) instead of insertion order. */
  sort: boolean;
  /**
   * RFC 8785 strictness, as the `canonicalize` package: NaN, Infinity and lone surrogates throw.
   * Otherwise JSON.stringify's rules: non-finite numbers become null, lone surrogates are escaped.
   */
  strict: boolean;
  /** Lone surrogates become U+FFFD (in strings and keys) rather than being escaped or refused. */
  wellFormed: boolean;
}

// The cheap test first: most strings hold no surrogate at all.
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

type ArrayFrame = { array: true; node: object; items: unknown[]; i: number };
interface ObjectFrame {
  array: false;
  node: object;
  obj: Record<string, unknown>;
  /** The keys to read, and the names to write them under (the same unless lone surrogates were replaced). */
  keys: string[];
  names: string[];
  i: number;
  written: number;
}
type Frame = ArrayFrame | ObjectFrame;

/** What JSON.stringify would serialise in place of `value` (toJSON, boxed primitives), or undefined for nothing. */
function resolve(value: unknown, key: string): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'bigint')) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') value = (toJSON as (key: string) => unknown).call(value, key);
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return value.valueOf();
  return value;
}

/**
 * Serialises `root` through `emit`, chunk by chunk, without recursion. Returns the nesting depth
 * (0 for a scalar, 1 for `{}` or `[]`), or -1 when `root` serialises to nothing (undefined, a function).
 */
function writeJson(root: unknown, options: WriteOptions, emit: (chunk: string) => void): number {
  const stack: Frame[] = [];
  const open = new Set<object>();
  let depth = 0;

  const string = (text: string): string => {
    if (SURROGATE.test(text) && LONE_SURROGATE.test(text)) {
      if (options.wellFormed) return JSON.stringify(text.replace(LONE_SURROGATES, '\uFFFD'));
      if (options.strict) throw new JsonShapeError('a string holds a lone surrogate, which RFC 8785 does not allow');
    }
    return JSON.stringify(text);
  };
  // The keys to read and the names to write them under. With wellFormed, keys that differ only in
  // lone surrogates become one name, holding the last one's value, as JSON.parse of the text would.
  const keysOf = (v: object): { keys: string[]; names: string[] } => {
    const keys = Object.keys(v);
    if (options.wellFormed && keys.some((k) => SURROGATE.test(k))) {
      const byName = new Map<string, string>();
      for (const k of keys) byName.set(k.replace(LONE_SURROGATES, '\uFFFD'), k);
      const names = [...byName.keys()];
      if (options.sort) names.sort();
      return { keys: names.map((n) => byName.get(n)!), names };
    }
    if (options.sort) keys.sort();
    return { keys, names: keys };
  };
  // Writes a resolved scalar, or opens a container (pushing its frame). False: nothing to write here.
  const write = (v: unknown): boolean => {
    if (v === null) emit('null');
    else if (v === true) emit('true');
    else if (v === false) emit('false');
    else if (typeof v === 'string') emit(string(v));
    else if (typeof v === 'number') {
      if (!Number.isFinite(v) && options.strict) throw new JsonShapeError(`${v} is not allowed in RFC 8785 JSON`);
      emit(JSON.stringify(v));
    } else if (typeof v === 'bigint') throw new JsonShapeError('a BigInt cannot be written as JSON');
    else if (typeof v === 'object') {
      if (open.has(v)) throw new JsonShapeError('the value holds a cycle');
      open.add(v);
      if (Array.isArray(v)) {
        stack.push({ array: true, node: v, items: v, i: 0 });
        emit('[');
      } else {
        stack.push({ array: false, node: v, obj: v as Record<string, unknown>, ...keysOf(v), i: 0, written: 0 });
        emit('{');
      }
      if (stack.length > depth) depth = stack.length;
    } else return false;
    return true;
  };

  if (!write(resolve(root, ''))) return -1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.array) {
      if (top.i === top.items.length) {
        emit(']');
        open.delete(top.node);
        stack.pop();
        continue;
      }
      if (top.i > 0) emit(',');
      const index = top.i++;
      if (!write(resolve(top.items[index], String(index)))) emit('null');
      continue;
    }
    if (top.i === top.keys.length) {
      emit('}');
      open.delete(top.node);
      stack.pop();
      continue;
    }
    const index = top.i++;
    const key = top.keys[index]!;
    const item = resolve(top.obj[key], key);
    // JSON.stringify and canonicalize both leave out what would serialise to nothing.
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    emit(`${top.written++ > 0 ? ',' : ''}${string(top.names[index]!)}:`);
    write(item);
  }
  return depth;
}

/**
 * The text of a scalar that every option writes alike (null, a boolean, a finite number, a string
 * without surrogates), or undefined: anything else goes through {@link writeJson}.
 */
function scalarJson(value: unknown): string | undefined {
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (typeof value === 'string') return SURROGATE.test(value) ? undefined : JSON.stringify(value);
  return undefined;
}

/** Collects chunks into one string (V8 joins appended strings cheaply). */
function collect(root: unknown, options: WriteOptions): { text: string | undefined; depth: number } {
  // A scalar needs no walk: a record's hash canonicalises five of them (seq, time, type, ids).
  const scalar = scalarJson(root);
  if (scalar !== undefined) return { text: scalar, depth: 0 };
  let text = '';
  const depth = writeJson(root, options, (chunk) => {
    text += chunk;
  });
  return depth < 0 ? { text: undefined, depth: 0 } : { text, depth };
}

/**
 * What `JSON.stringify(value)` returns, at any nesting depth: same key order, same escapes, same
 * handling of toJSON, undefined, functions and non-finite numbers; a cycle or BigInt throws
 * {@link JsonShapeError}. With `wellFormed`, lone surrogates become U+FFFD instead of `\udxxx`.
 *
 * @example
 * ```ts
 * compactJson({ b: [1, undefined], a: NaN }); // '{"b":[1,null],"a":null}'
 * ```
 */
export function compactJson(value: unknown, options: { wellFormed?: boolean } = {}): string | undefined {
  return collect(value, { sort: false, strict: false, wellFormed: options.wellFormed ?? false }).text;
}

/**
 * RFC 8785 (JCS) canonical JSON of `value`, at any nesting depth: keys in UTF-16 code-unit order,
 * ECMAScript number and string forms. Same output as the `canonicalize` package, which recurses;
 * NaN, Infinity, a lone surrogate (unless `wellFormed` makes it U+FFFD), a BigInt or a cycle throws
 * {@link JsonShapeError}. `lenient` takes JSON.stringify's view of the value instead of refusing:
 * non-finite numbers become null. Returns undefined when `value` serialises to nothing.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, 'x'] }); // '{"a":[true,"x"],"b":1}'
 * ```
 */
export function canonicalJson(
  value: unknown,
  options: { wellFormed?: boolean; lenient?: boolean } = {},
): string | undefined {
  return collect(value, { sort: true, strict: !options.lenient, wellFormed: options.wellFormed ?? false }).text;
}

// Texts of documents serialised by documentJson, for as long as the document lives.
const documentTexts = new WeakMap<object, string>();

/**
 * `JSON.stringify(doc)`, computed once per document and shared by every writer of it: a policy
 * input is serialised for the policy worker, and again, nested, in its decision-log line. Only for
 * documents that are built and then only read (the input document): a change made to one after
 * its first serialisation would not reach later writers. Unlike the helpers above it recurses (it
 * is JSON.stringify): the policy input was always serialised so.
 *
 * @example
 * ```ts
 * const input = session.buildInput(call, Date.now());
 * documentJson(input) === documentJson(input); // true, serialised once
 * ```
 */
export function documentJson(doc: object): string | undefined {
  let text = documentTexts.get(doc);
  if (text === undefined) {
    text = JSON.stringify(doc);
    if (text !== undefined) documentTexts.set(doc, text);
  }
  return text;
}

/** Nesting depth and compact-JSON size of a value (see {@link measureJson}). */
export interface JsonMeasure {
  /** 0 for a scalar, 1 for `{}` or `[]`, 2 for `{"a":{}}`, … */
  depth: number;
  /** UTF-8 bytes of `JSON.stringify(value)`. */
  bytes: number;
}

/**
 * Measures a value without recursion: how deeply it nests and how many UTF-8 bytes its compact
 * JSON text takes. Linear in the size of the value.
 */
export function measureJson(value: unknown): JsonMeasure {
  let bytes = 0;
  const depth = writeJson(value, { sort: false, strict: false, wellFormed: false }, (chunk) => {
    bytes += Buffer.byteLength(chunk, 'utf8');
  });
  return { depth: Math.max(depth, 0), bytes };
}

/**
 * Deep-copies a JSON-like value without recursion, keeping every own key (`__proto__` included).
 * Objects with `toJSON` are copied as what `toJSON()` returns. `replace(parent, key, child)` may
 * return `{ value }` to put in place of a property or array element; its subtree is not walked.
 *
 * @example
 * ```ts
 * const parsed = JSON.parse('{"__proto__":{"x":1},"pin":"1234"}');
 * copyJson(parsed, (_parent, key) => (key === 'pin' ? { value: '****' } : undefined));
 * // → { ['__proto__']: { x: 1 }, pin: '****' } (as an own key)
 * ```
 * @throws JsonShapeError when the value holds a cycle.
 */
export function copyJson(
  value: unknown,
  replace?: (parent: object, key: string, child: unknown) => { value: unknown } | undefined,
): unknown {
  const open = new Set<object>();
  const pending: { source: object; target: object; keys: string[]; i: number }[] = [];
  // Returns a scalar as it is, or an empty container whose contents are copied from the stack.
  const start = (node: unknown): unknown => {
    let v = node;
    const toJSON = v !== null && typeof v === 'object' ? (v as { toJSON?: unknown }).toJSON : undefined;
    if (typeof toJSON === 'function') v = (toJSON as () => unknown).call(v);
    if (v === null || typeof v !== 'object') return v;
    if (open.has(v)) throw new JsonShapeError('the value holds a cycle');
    open.add(v);
    const target: object = Array.isArray(v) ? new Array<unknown>(v.length) : {};
    pending.push({ source: v, target, keys: Object.keys(v), i: 0 });
    return target;
  };
  const root = start(value);
  while (pending.length > 0) {
    const top = pending[pending.length - 1]!;
    if (top.i === top.keys.length) {
      open.delete(top.source);
      pending.pop();
      continue;
    }
    const key = top.keys[top.i++]!;
    const child = (top.source as Record<string, unknown>)[key];
    const replaced = replace?.(top.source, key, child);
    setOwn(top.target, key, replaced ? replaced.value : start(child));
  }
  return root;
}
