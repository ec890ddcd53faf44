import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  archiveBefore,
  applyRetention,
  listArchives,
  openAuditStore,
  readArchive,
  sessionClosed,
  verifyChain,
} from '../../src/audit/index.js';
import { collect, forkAppender, transpileAudit } from './helpers/children.js';
import { fill, tempDir } from './helpers/fixtures.js';
import { rawSqlite, TAMPER_CASES } from './helpers/tamper.js';

let tmp: ReturnType<typeof tempDir>;
let n = 0;
const dbFile = (): string => join(tmp.dir, `audit-${++n}.db`);

beforeAll(() => {
  tmp = tempDir('sqlite-');
});
afterAll(() => tmp.cleanup());

describe('sqlite store', () => {
  test('uses WAL with synchronous=FULL and keeps the chain across reopen', async () => {
    const file = dbFile();
    const store = await openAuditStore(`sqlite:${file}`);
    await fill(store, 3);
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();

    const again = await openAuditStore(`sqlite:${file}`);
    const r = await again.append(sessionClosed('s-1', { calls: 0 }));
    expect(r.seq).toBe(4);
    expect(r.prev_hash).toBe((await again.read({ sinceSeq: 2 }))[0]!.hash);
    expect(await verifyChain(again)).toMatchObject({ ok: true, count: 4, checkpoints: 1 });
    await again.close();
  });

  test('synchronous is FULL on the writing connection', async () => {
    // The pragma is per connection: read it through the store's own handle.
    const store = await openAuditStore(`sqlite:${dbFile()}`);
    const db = (store as unknown as { backend: { db: Database.Database } }).backend.db;
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    await store.close();
    const relaxed = await openAuditStore(`sqlite:${dbFile()}`, { synchronous: 'normal' });
    expect(
      (relaxed as unknown as { backend: { db: Database.Database } }).backend.db.pragma('synchronous', { simple: true }),
    ).toBe(1);
    await relaxed.close();
  });

  test('an unwritable path fails with a fix', async () => {
    writeFileSync(join(tmp.dir, 'not-a-dir'), '');
    await expect(openAuditStore(`sqlite:${join(tmp.dir, 'not-a-dir', 'a.db')}`)).rejects.toMatchObject({
      code: 'audit_store_unavailable',
      message: expect.stringContaining('writable'),
    });
  });

  test('an unknown URL scheme is refused', async () => {
    await expect(openAuditStore('mysql://x')).rejects.toMatchObject({ code: 'audit_store_url_invalid' });
  });

  test.each(TAMPER_CASES)('tampering is detected: $name', async ({ apply, expect: expected }) => {
    const file = dbFile();
    const store = await openAuditStore(`sqlite:${file}`, { checkpointEvery: 10 });
    await fill(store, 25);
    await store.close();
    const db = rawSqlite(file);
    await apply(db);
    await db.close();
    const reopened = await openAuditStore(`sqlite:${file}`);
    try {
      expect(await verifyChain(reopened)).toMatchObject({ ok: false, ...expected });
    } finally {
      await reopened.close();
    }
  });

  test('two processes appending to one file produce one chain', async () => {
    const file = dbFile();
    const built = transpileAudit();
    try {
      const runs = ['a', 'b'].map((session) =>
        collect(forkAppender(built.module, { url: `sqlite:${file}`, count: 100, session })),
      );
      const codes = await Promise.all(runs.map((r) => r.exited));
      expect(codes, runs.map((r) => r.stderr()).join('\n')).toEqual([0, 0]);
      const store = await openAuditStore(`sqlite:${file}`);
      expect(await verifyChain(store)).toMatchObject({ ok: true, count: 200 });
      const all = await store.read({});
      const ordinal = (r: (typeof all)[number]): number => (r.data['arguments'] as { n: number }).n;
      const counted = (s: string): number[] => all.filter((r) => r.session_id === s).map(ordinal);
      for (const s of ['a', 'b']) expect(counted(s)).toEqual([...Array(100).keys()]);
      await store.close();
    } finally {
      built.cleanup();
    }
  });
});

describe('retention', () => {
  test('archives a prefix with its proof; archive + store verify together', async () => {
    const file = dbFile();
    const store = await openAuditStore(`sqlite:${file}`, { checkpointEvery: 10 });
    await fill(store, 40);
    const archive1 = join(tmp.dir, 'arch', 'one.jsonl');
    const r1 = await archiveBefore(store, 16, archive1);
    expect(r1).toMatchObject({ from_seq: 1, to_seq: 15, count: 15 });
    // by time: fill() spaces records a minute apart from 2025-01-01T00:00Z
    const r2 = await archiveBefore(store, '2025-01-01T00:30:00Z', ({ from_seq, to_seq }) =>
      join(tmp.dir, 'arch', `audit-${from_seq}-${to_seq}.jsonl`),
    );
    expect(r2).toMatchObject({ from_seq: 16, to_seq: 29 });
    expect(await archiveBefore(store, 5, join(tmp.dir, 'arch', 'none.jsonl'))).toBeNull();

    const live = await store.read({});
    expect(live[0]!.seq).toBe(30);
    expect(live[0]!.prev_hash).toBe(r2!.last_hash);
    const { header } = await readArchive(r2!.file);
    expect(header).toMatchObject({ from_seq: 16, to_seq: 29, prev_hash: r1!.last_hash });
    expect(header.checkpoints.map((c) => c.seq)).toEqual([20]);

    expect(await verifyChain(store, { archives: [r2!.file, archive1] })).toMatchObject({
      ok: true,
      count: 40,
      first_seq: 1,
      last_seq: 40,
    });
    // Live store alone: its moved base is vouched for by nothing (no archive, no signature).
    expect(await verifyChain(store)).toMatchObject({ ok: false, seq: 1, problem: 'deleted' });
    // A missing archive in the middle is named.
    expect(await verifyChain(store, { archives: [archive1] })).toMatchObject({
      ok: false,
      seq: 16,
      problem: 'deleted',
    });

    // Tampering inside an archive file is caught.
    const text = readFileSync(archive1, 'utf8').replace('{"by":"alice","i":7}', '{"by":"mallory","i":7}');
    const forged = join(tmp.dir, 'arch', 'forged.jsonl');
    writeFileSync(forged, text);
    expect(await verifyChain(store, { archives: [forged, r2!.file] })).toMatchObject({
      ok: false,
      seq: 7,
      problem: 'altered',
    });
    const cut = readFileSync(archive1, 'utf8').split('\n').slice(0, 10).join('\n') + '\n';
    writeFileSync(forged, cut);
    expect(await verifyChain(store, { archives: [forged, r2!.file] })).toMatchObject({
      ok: false,
      seq: 10,
      problem: 'truncated',
    });
    await store.close();
  });

  test('an archive run interrupted before deleting still verifies (overlap)', async () => {
    const file = dbFile();
    const store = await openAuditStore(`sqlite:${file}`);
    await fill(store, 12);
    await store.close();
    const copy = `${file}.copy`;
    copyFileSync(file, copy);
    const s1 = await openAuditStore(`sqlite:${file}`);
    const r = await archiveBefore(s1, 9, join(tmp.dir, 'overlap.jsonl'));
    await s1.close();
    const stale = await openAuditStore(`sqlite:${copy}`);
    expect(await verifyChain(stale, { archives: [r!.file] })).toMatchObject({ ok: true, count: 12 });
    await stale.close();
  });

  test('applyRetention names files by range and listArchives finds them', async () => {
    const file = dbFile();
    const store = await openAuditStore(`sqlite:${file}`);
    await fill(store, 10);
    const dir = join(tmp.dir, 'retention');
    const now = new Date(Date.UTC(2025, 0, 1, 0, 5, 30) + 30 * 86_400_000);
    const r = await applyRetention(store, { maxAgeDays: 30, archiveDir: dir }, now);
    expect(r).toMatchObject({ from_seq: 1, to_seq: 5 });
    expect(listArchives(dir)).toEqual([join(dir, 'audit-1-5.jsonl')]);
    expect(await verifyChain(store, { archives: listArchives(dir) })).toMatchObject({ ok: true, count: 10 });
    await store.close();
  });

  test('refuses to archive a tampered chain', async () => {
    const file = dbFile();
    const store = await openAuditStore(`sqlite:${file}`);
    await fill(store, 10);
    const db = rawSqlite(file);
    await db.run(`UPDATE audit_events SET data = replace(data, 'alice', 'eve') WHERE seq = 3`);
    await db.close();
    await expect(archiveBefore(store, 6, join(tmp.dir, 'bad.jsonl'))).rejects.toMatchObject({
      code: 'audit_chain_invalid',
    });
    expect(listArchives(tmp.dir)).toEqual([]);
    expect((await store.read({})).length).toBe(10);
    await store.close();
  });
});
