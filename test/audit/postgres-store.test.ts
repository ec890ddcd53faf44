import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { archiveBefore, openAuditStore, sessionClosed, verifyChain } from '../../src/audit/index.js';
import { collect, forkAppender, transpileAudit } from './helpers/children.js';
import { fill, tempDir } from './helpers/fixtures.js';
import { startPostgres, type TestPostgres } from './helpers/pg.js';
import { rawPostgres, TAMPER_CASES } from './helpers/tamper.js';

// A real PostgreSQL, provided by the test itself (scripts/pg-test-server.sh): never skipped.
let server: TestPostgres;
let dbs = 0;
const freshDb = (): Promise<string> => server.createDatabase(`audit_${process.pid}_${++dbs}`);

// Generous: on a clean machine the first start apt-get installs PostgreSQL (make test does that
// beforehand with `scripts/pg-test-server.sh install`).
beforeAll(async () => {
  server = await startPostgres({ fast: true });
}, 600_000);
afterAll(async () => {
  await server?.stop();
});

describe('postgres store', () => {
  test('appends, reads, reopens and verifies', async () => {
    const url = await freshDb();
    const store = await openAuditStore(url, { checkpointEvery: 5 });
    await fill(store, 12, 'pg-1');
    expect(await store.head()).toMatchObject({ seq: 12 });
    expect((await store.read({ session: 'pg-1', sinceSeq: 10 })).map((r) => r.seq)).toEqual([11, 12]);
    expect(
      (await store.read({ since: '2025-01-01T00:03:00Z', until: '2025-01-01T00:05:00Z' })).map((r) => r.seq),
    ).toEqual([3, 4]);
    await store.close();
    const again = await openAuditStore(url);
    const r = await again.append(sessionClosed('pg-1', { calls: 0 }));
    expect(r.seq).toBe(13);
    expect(await verifyChain(again)).toMatchObject({ ok: true, count: 13, checkpoints: 3 });
    expect((await again.checkpoints()).map((c) => c.seq)).toEqual([5, 10, 12]);
    await again.close();
  });

  test('an unreachable server fails with the URL (password hidden) and a fix', async () => {
    const u = new URL(server.url);
    u.port = '1';
    u.password = 'hunter2';
    const err = await openAuditStore(u.toString()).catch((e: unknown) => e as Error & { code: string });
    expect(err).toMatchObject({ code: 'audit_store_unavailable' });
    expect(err.message).not.toContain('hunter2');
    expect(err.message).toContain('check the URL');
  });

  test.each(TAMPER_CASES)('tampering is detected: $name', async ({ apply, expect: expected }) => {
    const url = await freshDb();
    const store = await openAuditStore(url, { checkpointEvery: 10 });
    await fill(store, 25);
    await store.close();
    const db = await rawPostgres(url);
    await apply(db);
    await db.close();
    const reopened = await openAuditStore(url);
    try {
      expect(await verifyChain(reopened)).toMatchObject({ ok: false, ...expected });
    } finally {
      await reopened.close();
    }
  });

  test('two replicas (separate processes) append concurrently to one chain: no fork, no gap, nothing lost', async () => {
    const url = await freshDb();
    const built = transpileAudit();
    try {
      const runs = ['replica-a', 'replica-b'].map((session) =>
        collect(forkAppender(built.module, { url, count: 200, session, checkpointEvery: 50 })),
      );
      const codes = await Promise.all(runs.map((r) => r.exited));
      expect(codes, runs.map((r) => r.stderr()).join('\n')).toEqual([0, 0]);
      const store = await openAuditStore(url);
      expect(await verifyChain(store)).toMatchObject({ ok: true, count: 400, first_seq: 1, last_seq: 400 });
      const all = await store.read({});
      expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
      for (const [i, s] of ['replica-a', 'replica-b'].entries()) {
        const mine = all.filter((r) => r.session_id === s);
        expect(mine.map((r) => (r.data['arguments'] as { n: number }).n)).toEqual([...Array(200).keys()]);
        // Each replica's acknowledged seqs are exactly its stored records.
        expect(runs[i]!.acks).toEqual(mine.map((r) => r.seq));
      }
      // Both really interleaved (otherwise the test proves nothing about concurrency).
      const switches = all.filter((r, i) => i > 0 && r.session_id !== all[i - 1]!.session_id).length;
      expect(switches).toBeGreaterThan(1);
      await store.close();
    } finally {
      built.cleanup();
    }
  });

  test('two stores opened at once in one process create the schema once', async () => {
    const url = await freshDb();
    const stores = await Promise.all([openAuditStore(url), openAuditStore(url), openAuditStore(url)]);
    await Promise.all(stores.map((s, i) => fill(s, 10, `p${i}`)));
    expect(await verifyChain(stores[0]!)).toMatchObject({ ok: true, count: 30 });
    await Promise.all(stores.map((s) => s.close()));
  });

  test('retention archives from PostgreSQL too', async () => {
    const url = await freshDb();
    const tmp = tempDir('pg-archive-');
    try {
      const store = await openAuditStore(url, { checkpointEvery: 4 });
      await fill(store, 10);
      const r = await archiveBefore(store, 7, `${tmp.dir}/a.jsonl`);
      expect(r).toMatchObject({ from_seq: 1, to_seq: 6 });
      expect(await verifyChain(store, { archives: [r!.file] })).toMatchObject({ ok: true, count: 10 });
      expect((await store.read({}))[0]!.seq).toBe(7);
      await store.close();
    } finally {
      tmp.cleanup();
    }
  });
});
