// Deterministic identifiers: the same input yields the same id across runs, so tests and policy
// fixtures can assert on them; a per-process counter makes repeated operations distinct.

import { createHash } from 'node:crypto';

/** @param {string} prefix @param {...unknown} parts */
export function stableId(prefix, ...parts) {
  const digest = createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 12);
  return `${prefix}_${digest}`;
}

/** @returns {(prefix: string, ...parts: unknown[]) => string} */
export function sequenceIds() {
  let n = 0;
  return (prefix, ...parts) => stableId(prefix, ...parts, ++n);
}
