import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { AuditError } from '../common/index.js';

/** `prev_hash` of the first record ever written. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields a record's hash covers, in the shape that is canonicalised. */
export interface HashedFields {
  seq: number;
  at: string;
  type: string;
  session_id: string;
  data: unknown;
  prev_hash: string;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function wellFormed(text: string): string {
  // RFC 8785 refuses lone surrogates; a client can send them, and refusing would deny its call.
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

function sanitize(value: unknown): unknown {
  if (typeof value === 'string') return wellFormed(value);
  if (Array.isArray(value)) return value.map(sanitize);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[wellFormed(key)] = sanitize(item);
    return out;
  }
  return value;
}

/**
 * Turns arbitrary event data into plain JSON (what `JSON.stringify` keeps: Dates become strings,
 * `undefined` and functions vanish, NaN becomes null) and returns it with its RFC 8785 text.
 * The stored text is that canonical text, so what is read back hashes to the same value.
 */
export function toCanonicalJson(value: unknown): { value: unknown; text: string } {
  let plain: unknown;
  try {
    const json = JSON.stringify(value);
    plain = json === undefined ? null : sanitize(JSON.parse(json));
  } catch (err) {
    throw new AuditError(
      'audit_event_invalid',
      `audit event data is not JSON-serialisable (${err instanceof Error ? err.message : String(err)}); pass plain objects, no BigInt or cycles`,
      { cause: err },
    );
  }
  const text = canonicalize(plain);
  if (text === undefined) throw new AuditError('audit_event_invalid', 'audit event data canonicalises to nothing');
  return { value: plain, text };
}

/** RFC 8785 canonical JSON text of `value` (which must already be plain JSON). */
export function canonicalText(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new AuditError('audit_event_invalid', 'value canonicalises to nothing');
  return text;
}

/** SHA-256 (lowercase hex) of a UTF-8 string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * A record's hash: SHA-256 over the RFC 8785 canonical JSON of
 * `{seq, at, type, session_id, data, prev_hash}`. `dataText`, when given, must be the canonical text
 * of `data` (it saves canonicalising data twice on the append path).
 */
export function hashRecord(fields: HashedFields, dataText?: string): string {
  const data = dataText ?? canonicalText(fields.data);
  // Keys in RFC 8785 order (UTF-16 code-unit order): at, data, prev_hash, seq, session_id, type.
  const text =
    `{"at":${canonicalText(fields.at)},"data":${data},"prev_hash":${canonicalText(fields.prev_hash)},` +
    `"seq":${canonicalText(fields.seq)},"session_id":${canonicalText(fields.session_id)},"type":${canonicalText(fields.type)}}`;
  return sha256Hex(text);
}

/** Normalises an ISO time (any offset) to `YYYY-MM-DDTHH:mm:ss.sssZ`, which sorts as text. */
export function normalizeTime(at: string, what = 'at'): string {
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) {
    throw new AuditError('audit_event_invalid', `${what} "${at}" is not an ISO 8601 time; pass e.g. 2025-01-31T12:00:00Z`);
  }
  return new Date(ms).toISOString();
}
