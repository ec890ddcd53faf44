import type { AuditQuery, AuditRecord, AuditStore, ChainHead } from './types.js';

/** Records read from a store at once by {@link recordsAfter}. */
export const READ_PAGE = 2000;

/**
 * The records with `seq > sinceSeq` (and matching `query`), ascending, read a page at a time: what
 * every follower of the trail reads (replay, the read models, the replica feed). Without
 * `query.chain`, every chain of the store is read, one after the other, each past `sinceSeq`.
 *
 * @example
 * ```ts
 * for await (const record of recordsAfter(store, 0)) model.add(record);
 * ```
 */
export async function* recordsAfter(
  store: Pick<AuditStore, 'read' | 'chains'>,
  sinceSeq: number,
  query: Omit<AuditQuery, 'sinceSeq' | 'limit'> = {},
  page = READ_PAGE,
): AsyncGenerator<AuditRecord> {
  const chains = query.chain !== undefined ? [query.chain] : (await store.chains()).map(({ chain }) => chain);
  for (const chain of chains) {
    let after = sinceSeq;
    for (;;) {
      const records = await store.read({ ...query, chain, sinceSeq: after, limit: page });
      yield* records;
      if (records.length < page) break;
      after = records.at(-1)!.seq;
    }
  }
}

/** How many records the live store holds over all its chains (a progress bar's total). */
export function liveRecords(chains: readonly ChainHead[]): number {
  return chains.reduce((n, { head, base }) => n + head.seq - base.seq, 0);
}
