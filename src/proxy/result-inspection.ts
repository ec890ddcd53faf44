import type { Reason } from '../policy/index.js';

/** The entrypoint the policy judges results with (docs/policies.md, "Result policy"). */
export const RESULT_ENTRYPOINT = 'mcp/result';

/** One string of a result that the client (and the model) would read, with its JSON pointer. */
export interface ResultText {
  path: string;
  text: string;
}

/** What the result policy decided (`data.mcp.result`), read and checked. */
export interface ResultDecision {
  action: 'pass' | 'redact' | 'deny';
  reasons: Reason[];
  redact: { kind: string; text: string }[];
  labels: string[];
}

// The parts of a result a person or a model reads: tool content and structured content, resource
// contents, prompt messages. Outside structured content, keys that only describe the shape are not
// text; inside it, every string is the tool's data.
const READ_ROOTS = ['content', 'structuredContent', 'contents', 'messages'];
const NOT_TEXT = new Set(['type', 'mimeType', 'uri', 'role', 'blob', 'annotations', '_meta']);

/** A readable string of a result: where it is, and the object or array that holds it. */
interface StringSlot {
  path: string;
  holder: Record<string, unknown> | unknown[];
  key: string | number;
  text: string;
}

/** The readable strings of `result`, in document order. Iterative: a deep result cannot overflow the stack. */
function* readableStrings(result: Record<string, unknown>): Generator<StringSlot> {
  type Frame = { holder: Record<string, unknown> | unknown[]; key: string | number; path: string; data: boolean };
  const stack: Frame[] = [];
  for (const root of [...READ_ROOTS].reverse())
    if (result[root] !== undefined)
      stack.push({ holder: result, key: root, path: `/${root}`, data: root === 'structuredContent' });
  while (stack.length > 0) {
    const { holder, key, path, data } = stack.pop()!;
    const value = (holder as Record<string | number, unknown>)[key];
    if (typeof value === 'string') yield { path, holder, key, text: value };
    else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ holder: value, key: i, path: `${path}/${i}`, data });
    } else if (value && typeof value === 'object') {
      const keys = Object.keys(value).filter((k) => data || !NOT_TEXT.has(k));
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        const child = `${path}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
        stack.push({ holder: value as Record<string, unknown>, key: k, path: child, data });
      }
    }
  }
}

/**
 * Every string of `result` that the client would read, with its JSON pointer, in document order.
 *
 * @example
 * ```ts
 * resultTexts({ content: [{ type: 'text', text: 'hi' }] }); // [{ path: '/content/0/text', text: 'hi' }]
 * ```
 */
export function resultTexts(result: Record<string, unknown>): ResultText[] {
  return [...readableStrings(result)].map(({ path, text }) => ({ path, text }));
}

/**
 * A copy of `result` in which every occurrence of each redaction's text, in every readable string,
 * is replaced with `[REDACTED:<kind>]` (longest texts first, so a match inside another goes with
 * it). Everything else stays as it was.
 */
export function redactResult(
  result: Record<string, unknown>,
  redactions: readonly { kind: string; text: string }[],
): Record<string, unknown> {
  const rules = [...redactions].filter((r) => r.text.length > 0).sort((a, b) => b.text.length - a.text.length);
  if (rules.length === 0) return result;
  const copy = structuredClone(result);
  for (const slot of [...readableStrings(copy)]) {
    const text = rules.reduce(
      (s, r) => (s.includes(r.text) ? s.split(r.text).join(`[REDACTED:${r.kind}]`) : s),
      slot.text,
    );
    if (text !== slot.text) (slot.holder as Record<string | number, unknown>)[slot.key] = text;
  }
  return copy;
}

/** Reads the result policy's answer; a malformed one is an error (the caller fails closed). */
export function readResultDecision(
  value: unknown,
): { ok: true; decision: ResultDecision } | { ok: false; message: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    return { ok: false, message: 'data.mcp.result must be an object {action, reasons, redact, labels}' };
  const v = value as Record<string, unknown>;
  const action = v['action'];
  if (action !== 'pass' && action !== 'redact' && action !== 'deny')
    return {
      ok: false,
      message: `data.mcp.result.action must be pass, redact or deny (got ${JSON.stringify(action)})`,
    };
  const reasons = Array.isArray(v['reasons']) ? v['reasons'] : [];
  if (!reasons.every((r) => r && typeof (r as Reason).rule === 'string' && typeof (r as Reason).message === 'string'))
    return { ok: false, message: 'data.mcp.result.reasons must be a list of {rule, message}' };
  const redact = Array.isArray(v['redact']) ? v['redact'] : [];
  if (!redact.every((r) => r && typeof r.kind === 'string' && typeof r.text === 'string'))
    return { ok: false, message: 'data.mcp.result.redact must be a list of {kind, text}' };
  const labels = Array.isArray(v['labels']) ? v['labels'] : [];
  if (!labels.every((l) => typeof l === 'string'))
    return { ok: false, message: 'data.mcp.result.labels must be a list of strings' };
  if (action === 'deny' && reasons.length === 0)
    return { ok: false, message: 'data.mcp.result denies without a reason: give reasons [{rule, message}]' };
  return {
    ok: true,
    decision: {
      action,
      reasons: reasons as Reason[],
      redact: redact as { kind: string; text: string }[],
      labels: [...new Set(labels as string[])].sort(),
    },
  };
}
