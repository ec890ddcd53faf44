import { createHmac } from 'node:crypto';
import { AuditError, copyJson, setOwn } from '../common/index.js';
import type { DecisionLogEvent } from './decision-log.js';
import { toCanonicalJson } from './hash.js';

/** Options for {@link createRedactor}. */
export interface RedactorOptions {
  /** Property names whose values are replaced wherever they occur (case-insensitive). */
  keys?: string[];
  /** RFC 6901 JSON pointers, relative to the value the redactor is given (`/arguments/password`). */
  pointers?: string[];
  /** HMAC key. Equal secrets get equal placeholders, so calls can be correlated without the value. */
  secret: string;
  /**
   * The values `pointers` are resolved against (default: the value given). A record redactor
   * resolves them in its `arguments`; a decision-log redactor in `input.call.arguments` and in each
   * `input.history[].arguments`. Non-objects are skipped.
   */
  pointersFrom?: (value: unknown) => unknown[];
}

/** Splits an RFC 6901 pointer into unescaped tokens. `''` is the whole document. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) {
    throw new AuditError(
      'audit_redact_invalid',
      `JSON pointer "${pointer}" must start with "/" (RFC 6901), e.g. /arguments/password`,
    );
  }
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function deepCopy(value: unknown): unknown {
  try {
    return copyJson(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new AuditError('audit_event_invalid', `cannot copy the value to redact or mask it: ${why}`, { cause: err });
  }
}

function childOf(node: unknown, token: string): { found: boolean; value?: unknown } {
  if (Array.isArray(node)) {
    if (!/^(0|[1-9][0-9]*)$/.test(token)) return { found: false };
    const index = Number(token);
    return index < node.length ? { found: true, value: node[index] } : { found: false };
  }
  if (node && typeof node === 'object' && Object.prototype.hasOwnProperty.call(node, token)) {
    return { found: true, value: (node as Record<string, unknown>)[token] };
  }
  return { found: false };
}

/** Calls `fn(parent, key)` for the node at `tokens` if it exists (never the root). */
function atPointer(
  root: unknown,
  tokens: string[],
  fn: (parent: Record<string, unknown> | unknown[], key: string) => void,
): boolean {
  if (tokens.length === 0) return false;
  let node = root;
  for (const token of tokens.slice(0, -1)) {
    const next = childOf(node, token);
    if (!next.found) return false;
    node = next.value;
  }
  const last = tokens[tokens.length - 1] as string;
  if (!childOf(node, last).found) return false;
  fn(node as Record<string, unknown> | unknown[], last);
  return true;
}

/**
 * Builds a function that returns a deep copy of a value with secrets replaced by
 * `"[REDACTED:hmac-sha256:<16 hex>]"`: the first 16 hex digits of HMAC-SHA256(secret, canonical JSON
 * of the value), so the same secret always maps to the same placeholder and the value is never kept.
 * Used for the audit trail (`openAuditStore(url, {redact})`) and the decision log alike.
 *
 * @example
 * ```ts
 * const redact = createRedactor({ keys: ['password', 'token'], pointers: ['/arguments/card/number'], secret });
 * redact({ arguments: { user: 'al', password: 'hunter2' } });
 * // → { arguments: { user: 'al', password: '[REDACTED:hmac-sha256:5f1c…]' } }
 * ```
 */
export function createRedactor(options: RedactorOptions): (value: unknown) => unknown {
  if (typeof options.secret !== 'string' || options.secret.length === 0) {
    throw new AuditError(
      'audit_redact_invalid',
      'redaction needs a non-empty secret (audit.redactSecret); without one a keyed hash is guessable',
    );
  }
  const keys = new Set((options.keys ?? []).map((key) => key.toLowerCase()));
  const pointers = (options.pointers ?? []).map(parsePointer);
  const secret = options.secret;

  const pointersFrom = options.pointersFrom ?? ((value: unknown) => [value]);

  const placeholder = (value: unknown): string => {
    const { text } = toCanonicalJson(value);
    const digest = createHmac('sha256', secret).update(text, 'utf8').digest('hex').slice(0, 16);
    return `[REDACTED:hmac-sha256:${digest}]`;
  };

  return (value: unknown): unknown => {
    // Pointer targets are found in the original first, so that each value is replaced once, from
    // its own text, whichever rules match it: the same secret gets the same mark everywhere.
    const targets = new Map<object, Set<string>>();
    if (pointers.length > 0) {
      for (const base of pointersFrom(value)) {
        if (!base || typeof base !== 'object') continue;
        for (const tokens of pointers) {
          atPointer(base, tokens, (parent, key) => {
            const keysOf = targets.get(parent) ?? new Set<string>();
            keysOf.add(key);
            targets.set(parent, keysOf);
          });
        }
      }
    }
    if (keys.size === 0 && targets.size === 0) return deepCopy(value);
    try {
      return copyJson(value, (parent, key, child) => {
        if (child === undefined) return undefined;
        const named = !Array.isArray(parent) && keys.has(key.toLowerCase());
        return named || targets.get(parent)?.has(key) ? { value: placeholder(child) } : undefined;
      });
    } catch (err) {
      if (err instanceof AuditError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new AuditError('audit_event_invalid', `cannot redact the value: ${why}`, { cause: err });
    }
  };
}

/** One mask in OPA's `system.log.mask` shape: a pointer string (remove) or an operation. */
export type Mask = string | { op?: 'remove' | 'upsert'; path: string; value?: unknown };

const MASK_ROOTS = new Set(['input', 'result', 'nd_builtin_cache']);

/**
 * Applies OPA `system.log.mask` rules to a decision-log event and returns a masked deep copy, with
 * the paths it removed in `erased` and the paths it overwrote in `masked`, as OPA does. A plain
 * string is a remove; `{op: "upsert", path, value}` sets the value, creating missing parent
 * objects; paths must start with `/input`, `/result` or `/nd_builtin_cache`. A mask whose path is
 * absent is skipped silently, and an ill-formed mask is reported through `onError` and skipped
 * (a bad mask must not stop the decision from being logged).
 *
 * @example
 * ```ts
 * applyMasks(event, ['/input/call/arguments/password', { op: 'upsert', path: '/input/call/arguments/pin', value: '****' }]);
 * ```
 */
export function applyMasks<T extends Record<string, unknown>>(
  event: T,
  masks: unknown,
  options: { onError?: (mask: unknown, message: string) => void } = {},
): T & { erased?: string[]; masked?: string[] } {
  const copy = deepCopy(event) as Record<string, unknown>;
  const erased: string[] = Array.isArray(copy.erased) ? [...(copy.erased as string[])] : [];
  const masked: string[] = Array.isArray(copy.masked) ? [...(copy.masked as string[])] : [];
  const report = (mask: unknown, message: string): void => options.onError?.(mask, message);

  for (const mask of Array.isArray(masks) ? masks : masks === undefined || masks === null ? [] : [masks]) {
    let op: string;
    let path: unknown;
    let value: unknown;
    if (typeof mask === 'string') {
      op = 'remove';
      path = mask;
    } else if (mask && typeof mask === 'object') {
      const m = mask as Record<string, unknown>;
      op = m.op === undefined ? 'remove' : String(m.op);
      path = m.path;
      value = m.value;
    } else {
      report(mask, 'a mask must be a JSON pointer string or {op, path, value}');
      continue;
    }
    if (op !== 'remove' && op !== 'upsert') {
      report(mask, `mask op "${op}" is not supported; use "remove" or "upsert"`);
      continue;
    }
    if (typeof path !== 'string' || path === '') {
      report(mask, 'a mask needs a non-empty "path"');
      continue;
    }
    let tokens: string[];
    try {
      tokens = parsePointer(path);
    } catch (err) {
      report(mask, err instanceof Error ? err.message : String(err));
      continue;
    }
    const root = tokens[0] as string;
    if (!MASK_ROOTS.has(root)) {
      report(mask, `mask path "${path}" must start with /input, /result or /nd_builtin_cache`);
      continue;
    }
    if (op === 'remove') {
      if (tokens.length === 1) {
        if (copy[root] === undefined) continue;
        delete copy[root];
        erased.push(path);
      } else if (
        atPointer(copy, tokens, (parent, key) => {
          if (Array.isArray(parent)) parent.splice(Number(key), 1);
          else delete parent[key];
        })
      ) {
        erased.push(path);
      }
      continue;
    }
    // upsert
    if (tokens.length === 1) {
      copy[root] = deepCopy(value);
      masked.push(path);
      continue;
    }
    if (!copy[root] || typeof copy[root] !== 'object') continue; // OPA: no input/result, nothing to mask
    let node: unknown = copy[root];
    let ok = true;
    for (const token of tokens.slice(1, -1)) {
      if (Array.isArray(node)) {
        const next = childOf(node, token);
        if (!next.found) {
          ok = false;
          break;
        }
        node = next.value;
      } else if (node && typeof node === 'object') {
        const obj = node as Record<string, unknown>;
        if (!Object.prototype.hasOwnProperty.call(obj, token)) setOwn(obj, token, {});
        node = obj[token];
      } else {
        ok = false;
        break;
      }
    }
    const last = tokens[tokens.length - 1] as string;
    if (ok && Array.isArray(node)) {
      if (childOf(node, last).found) node[Number(last)] = deepCopy(value);
      else ok = false;
    } else if (ok && node && typeof node === 'object') {
      setOwn(node, last, deepCopy(value));
    } else {
      ok = false;
    }
    if (ok) masked.push(path);
  }

  if (erased.length > 0) copy.erased = erased;
  if (masked.length > 0) copy.masked = masked;
  return copy as T & { erased?: string[]; masked?: string[] };
}

/**
 * One redaction (`audit.redact`, one HMAC key) for everything a person or a log sees: audit records,
 * decision-log lines, and the arguments shown to approvers (admin API, live events, elicitation).
 * Each value is replaced once, from its own text, so a secret gets the same mark in all of them.
 * Names match at any depth; pointers (`/card/number`) are relative to a call's arguments.
 */
export function createRedaction(
  rules: readonly string[],
  secret: string,
): {
  record: (data: Record<string, unknown>) => Record<string, unknown>;
  decision: (event: DecisionLogEvent) => DecisionLogEvent;
  arguments: (args: Record<string, unknown>) => Record<string, unknown>;
} {
  if (rules.length === 0) return { record: (data) => data, decision: (event) => event, arguments: (args) => args };
  const keys = rules.filter((r) => !r.startsWith('/'));
  const pointers = rules.filter((r) => r.startsWith('/'));
  const argumentsOf = (value: unknown): unknown =>
    value && typeof value === 'object' ? (value as Record<string, unknown>)['arguments'] : undefined;
  const record = createRedactor({ keys, pointers, secret, pointersFrom: (data) => [argumentsOf(data)] });
  const decision = createRedactor({
    keys,
    pointers,
    secret,
    pointersFrom: (event) => {
      const input = (event as { input?: { call?: unknown; history?: unknown } }).input;
      return [argumentsOf(input?.call), ...(Array.isArray(input?.history) ? input.history.map(argumentsOf) : [])];
    },
  });
  return {
    record: (data) => record(data) as Record<string, unknown>,
    // The input (the call, its history) and the policy's result; the rest is Warden's own metadata.
    decision: (event) => {
      const redacted = decision({ input: event.input, result: event.result });
      return { ...event, ...(redacted as Pick<DecisionLogEvent, 'input' | 'result'>) };
    },
    arguments: (args) => (record({ arguments: args }) as { arguments: Record<string, unknown> }).arguments,
  };
}
