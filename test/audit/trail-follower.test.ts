// The one follower of the trail, over a real in-memory store: every consumer gets each record once,
// in seq order, whether this process appended it (handed over as the pipeline does) or another
// replica did (read from the store, once for all consumers).
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  openAuditStore,
  TrailFollower,
  type AuditQuery,
  type AuditRecord,
  type ChainStore,
  type TrailConsumer,
} from '../../src/audit/index.js';
import { at, opened } from '../reports/helpers.js';

/** A consumer that keeps what it was given: seq and whether it was flagged as this process's own. */
function recorder(): TrailConsumer & { got: [number, boolean][] } {
  const got: [number, boolean][] = [];
  return { got, add: (record, own) => void got.push([record.seq, own]) };
}

let store: ChainStore;
let reads: AuditQuery[];
let trail: TrailFollower;
let errors: string[];

/** Appends as another replica would: the store holds it, this process's follower is not told. */
const elsewhere = async (session: string, s = 0): Promise<AuditRecord> => store.append(opened(session, s));
/** Appends as this process does: once durable, the record is handed to the follower. */
const here = async (session: string, s = 0): Promise<AuditRecord> => {
  const record = await store.append(opened(session, s));
  trail.appended(record);
  return record;
};

beforeEach(async () => {
  store = await openAuditStore('memory:');
  reads = [];
  errors = [];
  const counted = { read: (q: AuditQuery) => (reads.push(q), store.read(q)), chains: () => store.chains() };
  trail = new TrailFollower(counted, { onError: (message) => errors.push(message) });
});
afterEach(async () => {
  await store.close();
});

describe('TrailFollower', () => {
  test('what other replicas appended is read once and handed to every consumer in seq order', async () => {
    const a = recorder();
    const b = recorder();
    await trail.join(a, 'end');
    await trail.join(b, 'end');
    for (const s of ['s-1', 's-2', 's-3']) await elsewhere(s);
    reads = [];
    // Three callers at once (a lookup, the ledger, the feed's timer) share one read.
    await Promise.all([trail.catchUp(), trail.catchUp(), trail.catchUp()]);
    expect(reads).toEqual([{ chain: '', sinceSeq: 0, limit: 2000 }]);
    expect(a.got).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
    expect(b.got).toEqual(a.got);
    expect(trail.seqs).toEqual(new Map([['', 3]]));
  });

  test("this process's appends are handed over at once; one out of order waits for a read, still flagged own", async () => {
    const a = recorder();
    await trail.join(a, 'end');
    reads = [];
    await here('s-1');
    expect(a.got).toEqual([[1, true]]);
    await elsewhere('s-2');
    await here('s-3');
    // Seq 3 cannot be handed over before seq 2: the follower knows it is behind.
    expect(a.got).toEqual([[1, true]]);
    expect(trail.behind).toBe(true);
    expect(reads).toEqual([]);
    await trail.catchUp();
    expect(a.got).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ]);
    expect(trail.behind).toBe(false);
  });

  test('a consumer that joins later reads the past alone, then follows with the others', async () => {
    const early = recorder();
    await trail.join(early, 'end');
    await here('s-1', 0);
    await here('s-2', 60);
    await here('s-3', 120);
    const whole = recorder();
    const window = recorder();
    await trail.join(whole, { afterSeq: 0 });
    await trail.join(window, { since: at(60) });
    expect(whole.got.map(([seq]) => seq)).toEqual([1, 2, 3]);
    expect(window.got.map(([seq]) => seq)).toEqual([2, 3]);
    expect(early.got.map(([seq]) => seq)).toEqual([1, 2, 3]);
    await here('s-4', 180);
    for (const c of [early, whole, window]) expect(c.got.at(-1)).toEqual([4, true]);
  });

  test('a consumer that joins at the end is given nothing of the past', async () => {
    await elsewhere('s-1');
    await elsewhere('s-2');
    const late = recorder();
    await trail.join(late, 'end');
    await trail.catchUp();
    expect(late.got).toEqual([]);
    await elsewhere('s-3');
    await trail.catchUp();
    expect(late.got).toEqual([[3, false]]);
  });

  test('a consumer that leaves is given nothing more', async () => {
    const a = recorder();
    const leave = await trail.join(a, 'end');
    await here('s-1');
    leave();
    await here('s-2');
    expect(a.got).toEqual([[1, true]]);
  });

  test('a consumer that throws does not starve the others, and its failure is reported', async () => {
    const broken: TrailConsumer = {
      add: () => {
        throw new Error('fold broke');
      },
    };
    const a = recorder();
    await trail.join(broken, 'end');
    await trail.join(a, 'end');
    await elsewhere('s-1');
    await trail.catchUp();
    expect(a.got).toEqual([[1, false]]);
    expect(errors).toEqual(['a follower of the audit trail failed on record 1: fold broke']);
  });
});
