import { createHash } from 'node:crypto';
import { AuditError, canonicalJson } from '../common/index.js';

/** `prev_hash` of the first record ever written. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields a record's hash covers, in the shape that is canonicalised. */
export interface HashedFields {
  /** The chain the record is on; `''` (or absent) for the shared chain, whose hashes leave it out. */
  chain?: string;
  seq: number;
  at: string;
  type: string;
  session_id: string;
  data: unknown;
  prev_hash: string;
}

/**
 * Turns arbitrary event data into plain JSON (what `JSON.stringify` keeps: Dates become strings,
 * `undefined` and functions vanish, NaN becomes null) and returns it with its RFC 8785 text.
 * The stored text is that canonical text, so what is read back hashes to the same value.
 * Lone surrogates become U+FFFD (RFC 8785 refuses them; a client can send them, and refusing
 * would deny its call). Nothing here recurses, and every key is kept (`__proto__` included):
 * see common/json.ts.
 */
export function toCanonicalJson(value: unknown): { value: unknown; text: string } {
  let text: string | undefined;
  try {
    text = canonicalJson(value, { wellFormed: true, lenient: true });
  } catch (err) {
    throw new AuditError(
      'audit_event_invalid',
      `audit event data is not JSON-serialisable (${err instanceof Error ? err.message : String(err)}); pass plain objects, no BigInt or cycles`,
      { cause: err },
    );
  }
  // Parsed back (iteratively; `__proto__` stays an own key), the text is exactly the value's canonical text.
  if (text === undefined) return { value: null, text: 'null' };
  return { value: JSON.parse(text) as unknown, text };
}

/** RFC 8785 canonical JSON text of `value` (which must already be plain JSON). */
export function canonicalText(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalJson(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new AuditError('audit_event_invalid', `value cannot be written as RFC 8785 JSON: ${why}`, { cause: err });
  }
  if (text === undefined) throw new AuditError('audit_event_invalid', 'value canonicalises to nothing');
  return text;
}

/** SHA-256 (lowercase hex) of a UTF-8 string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * A record's hash: SHA-256 over the RFC 8785 canonical JSON of
 * `{seq, at, type, session_id, data, prev_hash}`, plus `chain` for every chain but `''` (so hashes
 * written before chains existed stay valid, and a record cannot be moved to another chain unnoticed).
 * `dataText`, when given, must be the canonical text of `data` (it saves canonicalising data twice
 * on the append path).
 */
export function hashRecord(fields: HashedFields, dataText?: string): string {
  const data = dataText ?? canonicalText(fields.data);
  const chain = fields.chain ? `"chain":${canonicalText(fields.chain)},` : '';
  // Keys in RFC 8785 order (UTF-16 code-unit order): at, chain, data, prev_hash, seq, session_id, type.
  const text =
    `{"at":${canonicalText(fields.at)},${chain}"data":${data},"prev_hash":${canonicalText(fields.prev_hash)},` +
    `"seq":${canonicalText(fields.seq)},"session_id":${canonicalText(fields.session_id)},"type":${canonicalText(fields.type)}}`;
  return sha256Hex(text);
}

/** Normalises an ISO time (any offset) to `YYYY-MM-DDTHH:mm:ss.sssZ`, which sorts as text. */
export function normalizeTime(at: string, what = 'at'): string {
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) {
    throw new AuditError(
      'audit_event_invalid',
      `${what} "${at}" is not an ISO 8601 time; pass e.g. 2025-01-31T12:00:00Z`,
    );
  }
  return new Date(ms).toISOString();
}
