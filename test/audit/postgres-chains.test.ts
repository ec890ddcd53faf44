// One hash chain per replica in one PostgreSQL database (audit.chain: instance): the format-2
// schema, the migration of a format-1 store, per-chain appends and reads across the chains.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  GENESIS_HASH,
  hashRecord,
  openAuditStore,
  recordsAfter,
  sessionClosed,
  TrailFollower,
  verifyChain,
  verifyStore,
  type AuditRecord,
} from '../../src/audit/index.js';
import { fill, tempDir } from './helpers/fixtures.js';
import { startPostgres, type TestPostgres } from './helpers/pg.js';

let server: TestPostgres;
let dbs = 0;
const freshDb = (): Promise<string> => server.createDatabase(`chains_${process.pid}_${++dbs}`);

beforeAll(async () => {
  server = await startPostgres({ fast: true });
}, 600_000);
afterAll(async () => {
  await server?.stop();
});

async function sql(url: string, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

// The tables as a Warden that knows only format 1 created them, holding `n` chained records.
async function formatOneStore(url: string, n: number): Promise<void> {
  await sql(
    url,
    `CREATE TABLE audit_events (seq BIGINT PRIMARY KEY, at TEXT NOT NULL, type TEXT NOT NULL,
       session_id TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
     CREATE TABLE audit_checkpoints (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, at TEXT NOT NULL, key_id TEXT, signature TEXT);
     CREATE TABLE audit_bases (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, at TEXT NOT NULL, key_id TEXT, signature TEXT);
     CREATE TABLE audit_claims (key TEXT PRIMARY KEY, at TEXT NOT NULL);
     CREATE TABLE audit_state (id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL, head_seq BIGINT NOT NULL,
       head_hash TEXT NOT NULL, base_seq BIGINT NOT NULL, base_hash TEXT NOT NULL);`,
  );
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const fields = {
      seq,
      at: `2025-01-01T00:0${seq}:00.000Z`,
      type: 'session.closed',
      session_id: 'old',
      prev_hash: prev,
    };
    const data = { calls: seq };
    const hash = hashRecord({ ...fields, data });
    await sql(url, 'INSERT INTO audit_events VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      seq,
      fields.at,
      fields.type,
      fields.session_id,
      JSON.stringify(data),
      prev,
      hash,
    ]);
    prev = hash;
  }
  await sql(url, 'INSERT INTO audit_state VALUES (1, 1, $1, $2, 0, $3)', [n, prev, GENESIS_HASH]);
}

describe('postgres store with one chain per replica', () => {
  test('a format-1 store stays readable, and the first writer migrates it to format 2 with its chain as ""', async () => {
    const url = await freshDb();
    await formatOneStore(url, 3);

    // Read-only (the warden audit commands) changes nothing: the store is read as format 1.
    const reader = await openAuditStore(url, { readOnly: true });
    expect(await reader.chains()).toEqual([
      expect.objectContaining({ chain: '', head: expect.objectContaining({ seq: 3 }) }),
    ]);
    expect((await reader.read({ session: 'old' })).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(await verifyChain(reader)).toMatchObject({ ok: true, count: 3 });
    await reader.close();
    expect(await sql(url, 'SELECT format FROM audit_state')).toEqual([{ format: 1 }]);

    const writer = await openAuditStore(url, { chain: 'w-1' });
    // A Warden that reads format 1 only checks `format = 1` and refuses this store.
    expect(await sql(url, 'SELECT format FROM audit_state')).toEqual([{ format: 2 }]);
    expect((await writer.chains()).map((c) => [c.chain, c.head.seq])).toEqual([
      ['', 3],
      ['w-1', 0],
    ]);
    const shared = writer.forChain('');
    expect(await verifyChain(shared)).toMatchObject({ ok: true, count: 3 });
    await writer.close();

    const again = await openAuditStore(url);
    expect((await again.append(sessionClosed('old', { calls: 4 }))).seq).toBe(4);
    expect(await verifyChain(again)).toMatchObject({ ok: true, count: 4 });
    await again.close();
  });

  test('a store of an unknown format is refused with its format named', async () => {
    const url = await freshDb();
    await formatOneStore(url, 1);
    await sql(url, 'UPDATE audit_state SET format = 3');
    await expect(openAuditStore(url)).rejects.toThrow(
      /unknown audit store format 3 \(this Warden reads formats 1 and 2\)/,
    );
  });

  test('each replica appends to its own chain; a record hash covers its chain; reads span the chains', async () => {
    const url = await freshDb();
    const [a, b] = [await openAuditStore(url, { chain: 'w-1' }), await openAuditStore(url, { chain: 'w-2' })];
    try {
      await Promise.all([fill(a, 5, 'sa'), fill(b, 7, 'sb')]);
      const ra = await a.read({ chain: 'w-1' });
      expect(ra.map((r) => [r.chain, r.seq])).toEqual([1, 2, 3, 4, 5].map((seq) => ['w-1', seq]));
      expect((await b.head())?.seq).toBe(7);

      // The chain's name is hashed: the same record on another chain has another hash.
      const first = ra[0]!;
      expect(hashRecord(first)).toBe(first.hash);
      expect(hashRecord({ ...first, chain: 'w-2' })).not.toBe(first.hash);
      expect(hashRecord({ ...first, chain: undefined })).not.toBe(first.hash);

      // Queries by session and time find each chain's records, whichever replica reads.
      expect((await a.read({ session: 'sb' })).map((r) => r.chain)).toEqual(Array(7).fill('w-2'));
      const all: AuditRecord[] = [];
      for await (const r of recordsAfter(a, 0, {}, 3)) all.push(r);
      expect(all.map((r) => `${r.chain}:${r.seq}`)).toEqual([
        ...[1, 2, 3, 4, 5].map((s) => `w-1:${s}`),
        ...[1, 2, 3, 4, 5, 6, 7].map((s) => `w-2:${s}`),
      ]);

      // Each chain verifies on its own, from any replica's store.
      expect(await verifyChain(a.forChain('w-2'))).toMatchObject({ ok: true, count: 7 });
      expect(await verifyChain(b.forChain('w-1'))).toMatchObject({ ok: true, count: 5 });
      // A record moved to another chain no longer hashes there.
      await sql(url, `UPDATE audit_events SET chain = 'w-9' WHERE chain = 'w-2' AND seq = 7`);
      await sql(
        url,
        `INSERT INTO audit_chains SELECT 'w-9', 1, head_hash, 0, $1 FROM audit_chains WHERE chain = 'w-2'`,
        [GENESIS_HASH],
      );
      await sql(url, `UPDATE audit_events SET seq = 1 WHERE chain = 'w-9'`);
      expect(await verifyChain(a.forChain('w-9'))).toMatchObject({ ok: false, seq: 1 });
      expect(await verifyChain(a.forChain('w-2'))).toMatchObject({ ok: false, seq: 7, problem: 'truncated' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('the trail follower keeps one cursor per chain and hands on what other replicas appended', async () => {
    const url = await freshDb();
    const [a, b] = [await openAuditStore(url, { chain: 'w-1' }), await openAuditStore(url, { chain: 'w-2' })];
    try {
      await fill(b, 2, 'sb');
      const trail = new TrailFollower(a);
      a.onAppended((record) => trail.appended(record));
      const got: [string, number, boolean][] = [];
      await trail.join({ add: (r, own) => void got.push([r.chain ?? '', r.seq, own]) }, { afterSeq: 0 });
      expect(got).toEqual([
        ['w-2', 1, false],
        ['w-2', 2, false],
      ]);
      await fill(a, 2, 'sa');
      await fill(b, 1, 'sb');
      await trail.catchUp();
      expect(got.slice(2)).toEqual([
        ['w-1', 1, true],
        ['w-1', 2, true],
        ['w-2', 3, false],
      ]);
      expect(trail.seqs).toEqual(
        new Map([
          ['', 0],
          ['w-1', 2],
          ['w-2', 3],
        ]),
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('ties: each replica ties every head at close; a chain cut after a tie fails verification, naming the chain', async () => {
    const url = await freshDb();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signingKey = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const [a, b] = [
      await openAuditStore(url, { chain: 'w-1', signingKey, checkpointEvery: 3 }),
      await openAuditStore(url, { chain: 'w-2', signingKey, checkpointEvery: 3 }),
    ];
    await Promise.all([fill(a, 4, 'sa'), fill(b, 7, 'sb')]);
    const tie = await a.tie();
    expect(tie).toMatchObject({ by: 'w-1', signature: expect.any(String) });
    expect(tie.heads.map((h) => [h.chain, h.seq])).toEqual([
      ['', 0],
      ['w-1', 4],
      ['w-2', 7],
    ]);
    await Promise.all([a.close(), b.close()]);

    const reader = await openAuditStore(url, { readOnly: true });
    try {
      const whole = await verifyStore(reader, { publicKey: publicPem, checkpointEvery: 3 });
      expect(whole).toMatchObject({ ok: true, ties: { count: 3, signed: 3, failure: null } });
      expect(whole.chains.map(({ chain, result }) => [chain, result.ok && result.count])).toEqual([
        ['', 0],
        ['w-1', 4],
        ['w-2', 7],
      ]);

      // Replica w-2's last records are cut off and its head moved back, consistently: the chain
      // alone still verifies (its checkpoint at 6 is signed), the ties that named seq 7 do not.
      await sql(url, `DELETE FROM audit_events WHERE chain = 'w-2' AND seq > 6`);
      await sql(url, `DELETE FROM audit_checkpoints WHERE chain = 'w-2' AND seq > 6`);
      await sql(
        url,
        `UPDATE audit_chains SET head_seq = 6, head_hash = (SELECT hash FROM audit_events WHERE chain = 'w-2' AND seq = 6)
         WHERE chain = 'w-2'`,
      );
      expect(await verifyChain(reader.forChain('w-2'), { publicKey: publicPem, checkpointEvery: 3 })).toMatchObject({
        ok: true,
        count: 6,
      });
      const cut = await verifyStore(reader, { publicKey: publicPem, checkpointEvery: 3 });
      expect(cut.ok).toBe(false);
      expect(cut.ties.failure).toMatchObject({
        chain: 'w-2',
        seq: 7,
        problem: 'truncated',
        detail: expect.stringMatching(/names record 7 of chain "w-2" .* but the chain ends at 6/),
      });
    } finally {
      await reader.close();
    }

    // The command says which chain failed, and exits 1.
    const { dir, cleanup } = tempDir('chains-');
    try {
      writeFileSync(`${dir}/audit.pub`, publicPem);
      const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
      const args = [
        cli,
        'audit',
        'verify',
        '--store',
        url,
        '--public-key',
        `${dir}/audit.pub`,
        '--checkpoint-every',
        '3',
      ];
      const run = promisify(execFile)(process.execPath, args);
      await expect(run).rejects.toMatchObject({
        code: 1,
        stdout: expect.stringContaining('chain "w-1": ok: 4 records verified'),
        stderr: expect.stringMatching(/FAILED: chain "w-2": record 7 truncated: .*\[ties\]/),
      });
    } finally {
      cleanup();
    }
  });

  test('a store that holds one chain refuses a chain per replica, naming the fix', async () => {
    const { dir, cleanup } = tempDir('chains-');
    try {
      await expect(openAuditStore(`sqlite:${dir}/audit.db`, { chain: 'w-1' })).rejects.toMatchObject({
        code: 'audit_chain_unsupported',
        message: expect.stringMatching(/needs a PostgreSQL store .* or use audit.chain: shared/),
      });
      await expect(openAuditStore('memory:', { chain: 'w-1' })).rejects.toMatchObject({
        code: 'audit_chain_unsupported',
      });
    } finally {
      cleanup();
    }
  });
});
