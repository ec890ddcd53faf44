import type { AuditQuery, AuditRecord, AuditStore } from './types.js';

/** Records read from a store at once by {@link recordsAfter}. */
export const READ_PAGE = 2000;

/**
 * The records with `seq > sinceSeq` (and matching `query`), ascending, read a page at a time: what
 * every follower of the trail reads (replay, the read models, the replica feed).
 *
 * @example
 * ```ts
 * for await (const record of recordsAfter(store, model.seq)) model.add(record);
 * ```
 */
export async function* recordsAfter(
  store: Pick<AuditStore, 'read'>,
  sinceSeq: number,
  query: Omit<AuditQuery, 'sinceSeq' | 'limit'> = {},
  page = READ_PAGE,
): AsyncGenerator<AuditRecord> {
  let after = sinceSeq;
  for (;;) {
    const records = await store.read({ ...query, sinceSeq: after, limit: page });
    yield* records;
    if (records.length < page) return;
    after = records.at(-1)!.seq;
  }
}
