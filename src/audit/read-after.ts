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

/**
 * A record's place in the trail across chains, as text that sorts: its time, then its chain and
 * seq (unique). On one chain this is seq order as long as time does not step back; records of
 * different replicas' chains are ordered by the replicas' clocks.
 *
 * @example
 * ```ts
 * trailOrder({ at: '2025-01-01T00:00:00.000Z', chain: 'w-1', seq: 7 }); // '2025-01-01T00:00:00.000Z\u0000w-1\u00000000000000000007'
 * ```
 */
export function trailOrder(record: Pick<AuditRecord, 'at' | 'chain' | 'seq'>): string {
  return `${record.at}\u0000${record.chain ?? ''}\u0000${String(record.seq).padStart(16, '0')}`;
}

/**
 * Every record matching `query`, the chains merged by {@link trailOrder} (each chain still in seq
 * order): what a reader that folds the whole trail in time order reads (replay). On a store with
 * one chain it is {@link recordsAfter} from the start.
 */
export async function* mergedTrail(
  store: Pick<AuditStore, 'read' | 'chains'>,
  query: Omit<AuditQuery, 'chain' | 'sinceSeq' | 'limit'> = {},
): AsyncGenerator<AuditRecord> {
  const chains = (await store.chains()).map(({ chain }) => recordsAfter(store, 0, { ...query, chain }));
  const next = await Promise.all(chains.map((it) => it.next()));
  for (;;) {
    let first = -1;
    next.forEach((n, i) => {
      if (n.done) return;
      const best = next[first];
      if (!best || best.done || trailOrder(n.value) < trailOrder(best.value)) first = i;
    });
    const pick = next[first];
    if (!pick || pick.done) return;
    yield pick.value;
    next[first] = await chains[first]!.next();
  }
}
