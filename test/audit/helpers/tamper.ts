import Database from 'better-sqlite3';
import canonicalize from 'canonicalize';
import pg from 'pg';
import { hashRecord } from '../../../src/audit/index.js';

/**
 * Direct database access, as an attacker with write access to the database would have. SQL is
 * written once with PostgreSQL `$N` placeholders and translated for SQLite.
 */
export interface RawDb {
  run(sql: string, params?: unknown[]): Promise<void>;
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

function toSqlite(sql: string, params: unknown[]): [string, unknown[]] {
  const ordered: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    ordered.push(params[Number(n) - 1]);
    return '?';
  });
  return [text, ordered];
}

export function rawSqlite(path: string): RawDb {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  return {
    async run(sql, params = []) {
      const [text, args] = toSqlite(sql, params);
      if (args.length === 0) db.exec(text);
      else db.prepare(text).run(...args);
    },
    async all(sql, params = []) {
      const [text, args] = toSqlite(sql, params);
      return db.prepare(text).all(...args) as Record<string, unknown>[];
    },
    async close() {
      db.close();
    },
  };
}

/**
 * The cases are written against SQLite's tables; a PostgreSQL store (format 2) keeps each chain's
 * ends in audit_chains, where its one chain ('') is the only row.
 */
const onChains = (sql: string): string => sql.replace(/\baudit_state\b/g, 'audit_chains');

export async function rawPostgres(url: string): Promise<RawDb> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    async run(sql, params = []) {
      await client.query(onChains(sql), params);
    },
    async all(sql, params = []) {
      return (await client.query(onChains(sql), params)).rows as Record<string, unknown>[];
    },
    async close() {
      await client.end();
    },
  };
}

interface Row {
  seq: number;
  at: string;
  type: string;
  session_id: string;
  data: string;
  prev_hash: string;
  hash: string;
}

async function row(db: RawDb, seq: number): Promise<Row> {
  const [r] = await db.all('SELECT seq, at, type, session_id, data, prev_hash, hash FROM audit_events WHERE seq = $1', [
    seq,
  ]);
  if (!r) throw new Error(`no record ${seq}`);
  return { ...(r as unknown as Row), seq: Number(r.seq) };
}

function rehash(r: Row): string {
  return hashRecord({
    seq: r.seq,
    at: r.at,
    type: r.type,
    session_id: r.session_id,
    data: JSON.parse(r.data),
    prev_hash: r.prev_hash,
  });
}

/** Moves records with seq >= from by `delta` without tripping the primary key midway. */
async function shift(db: RawDb, from: number, delta: number): Promise<void> {
  await db.run('UPDATE audit_events SET seq = seq + 1000000 WHERE seq >= $1', [from]);
  await db.run('UPDATE audit_events SET seq = seq - 1000000 + $1 WHERE seq >= 1000000', [delta]);
}

export type TamperCase = {
  name: string;
  /** What the verifier must answer. */
  expect: { seq: number; problem: string };
  apply: (db: RawDb) => Promise<void>;
};

async function insert(db: RawDb, r: Row): Promise<void> {
  const values = [r.seq, r.at, r.type, r.session_id, r.data, r.prev_hash, r.hash];
  const columns = 'seq, at, type, session_id, data, prev_hash, hash';
  const sql = `INSERT INTO audit_events (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7)`;
  await db.run(sql, values);
}

/** Appends `count` well-formed records after the head (canonical data, valid hashes) and moves the head. */
export async function appendForged(db: RawDb, count: number): Promise<void> {
  const [state] = await db.all('SELECT head_seq, head_hash FROM audit_state');
  let prev = { seq: Number(state!.head_seq), hash: String(state!.head_hash) };
  const last = await row(db, prev.seq);
  for (let i = 1; i <= count; i++) {
    const forged: Row = {
      seq: prev.seq + 1,
      at: last.at,
      type: 'approval.granted',
      session_id: last.session_id,
      data: canonicalize({ call_id: `c-${prev.seq}`, by: 'mallory', comment: 'forged' })!,
      prev_hash: prev.hash,
      hash: '',
    };
    forged.hash = rehash(forged);
    await insert(db, forged);
    prev = { seq: forged.seq, hash: forged.hash };
  }
  await db.run('UPDATE audit_state SET head_seq = $1, head_hash = $2', [prev.seq, prev.hash]);
}

/** Deletes records 1..`through` and their checkpoints and moves the base, as retention would, with no archive. */
export async function dropFirst(db: RawDb, through: number): Promise<void> {
  const base = await row(db, through);
  await db.run('DELETE FROM audit_events WHERE seq <= $1', [through]);
  await db.run('DELETE FROM audit_checkpoints WHERE seq <= $1', [through]);
  await db.run('UPDATE audit_state SET base_seq = $1, base_hash = $2', [through, base.hash]);
}

/** Changes "alice" to "mallory" in record `seq` and recomputes every later hash and the head. */
export async function rewriteAndRechain(db: RawDb, seq: number): Promise<void> {
  let prevHash = (await row(db, seq - 1)).hash;
  const [state] = await db.all('SELECT head_seq FROM audit_state');
  for (let s = seq; s <= Number(state!.head_seq); s++) {
    const r = await row(db, s);
    if (s === seq) r.data = r.data.replace('alice', 'mallory');
    r.prev_hash = prevHash;
    r.hash = rehash(r);
    const values = [r.data, r.prev_hash, r.hash, s];
    await db.run('UPDATE audit_events SET data = $1, prev_hash = $2, hash = $3 WHERE seq = $4', values);
    prevHash = r.hash;
  }
  await db.run('UPDATE audit_state SET head_hash = $1', [prevHash]);
}

/**
 * Record 5 (a call.received of run_tests) gets a second "tool" key, before the real one: SQLite's
 * json_extract reads the first ("mallory"), JSON.parse the last ("run_tests"), so the record still
 * hashes as written.
 */
export async function duplicateKey(db: RawDb): Promise<void> {
  const r = await row(db, 5);
  await db.run('UPDATE audit_events SET data = $1 WHERE seq = 5', [r.data.replace('{', '{"tool":"mallory",')]);
}

/**
 * Every kind of tampering, on a chain of 25 records written with checkpointEvery 10 and closed
 * (checkpoints at 10, 20 and 25). Every record's data names "alice" (see fill()).
 */
export const TAMPER_CASES: TamperCase[] = [
  {
    name: 'updated field',
    expect: { seq: 5, problem: 'altered' },
    apply: (db) => db.run(`UPDATE audit_events SET data = replace(data, 'alice', 'mallory') WHERE seq = 5`),
  },
  {
    name: 'updated field with its hash recomputed',
    expect: { seq: 5, problem: 'altered' },
    async apply(db) {
      const r = await row(db, 5);
      r.data = r.data.replace('alice', 'mallory');
      await db.run('UPDATE audit_events SET data = $1, hash = $2 WHERE seq = 5', [r.data, rehash(r)]);
    },
  },
  {
    name: 'updated timestamp',
    expect: { seq: 7, problem: 'altered' },
    apply: (db) => db.run(`UPDATE audit_events SET at = '2001-01-01T00:00:00.000Z' WHERE seq = 7`),
  },
  {
    name: 'deleted row',
    expect: { seq: 5, problem: 'deleted' },
    apply: (db) => db.run('DELETE FROM audit_events WHERE seq = 5'),
  },
  {
    name: 'deleted row, later rows renumbered',
    expect: { seq: 5, problem: 'deleted' },
    async apply(db) {
      await db.run('DELETE FROM audit_events WHERE seq = 5');
      await shift(db, 6, -1);
    },
  },
  {
    name: 'inserted row with a valid hash, later rows renumbered',
    expect: { seq: 5, problem: 'inserted' },
    async apply(db) {
      const prev = await row(db, 4);
      await shift(db, 5, 1);
      const forged: Row = {
        seq: 5,
        at: prev.at,
        type: 'approval.granted',
        session_id: prev.session_id,
        data: canonicalize({ call_id: 'c-4', by: 'mallory' })!,
        prev_hash: prev.hash,
        hash: '',
      };
      forged.hash = rehash(forged);
      await db.run(
        'INSERT INTO audit_events (seq, at, type, session_id, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [forged.seq, forged.at, forged.type, forged.session_id, forged.data, forged.prev_hash, forged.hash],
      );
    },
  },
  {
    name: 'inserted row with a made-up hash',
    expect: { seq: 5, problem: 'inserted' },
    async apply(db) {
      const prev = await row(db, 4);
      await shift(db, 5, 1);
      await db.run(
        'INSERT INTO audit_events (seq, at, type, session_id, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [5, prev.at, 'approval.granted', prev.session_id, '{"by":"mallory"}', prev.hash, 'f'.repeat(64)],
      );
    },
  },
  {
    name: 'swapped rows',
    expect: { seq: 5, problem: 'reordered' },
    async apply(db) {
      await db.run('UPDATE audit_events SET seq = 1000005 WHERE seq = 5');
      await db.run('UPDATE audit_events SET seq = 5 WHERE seq = 6');
      await db.run('UPDATE audit_events SET seq = 6 WHERE seq = 1000005');
    },
  },
  {
    name: 'truncated tail',
    expect: { seq: 16, problem: 'truncated' },
    apply: (db) => db.run('DELETE FROM audit_events WHERE seq > 15'),
  },
  {
    name: 'truncated tail with the head row rolled back too (caught by checkpoints)',
    expect: { seq: 16, problem: 'truncated' },
    async apply(db) {
      const last = await row(db, 15);
      await db.run('DELETE FROM audit_events WHERE seq > 15');
      await db.run('UPDATE audit_state SET head_seq = 15, head_hash = $1', [last.hash]);
    },
  },
  {
    name: 'duplicate JSON key in stored data (json_extract and JSON.parse read different values)',
    expect: { seq: 5, problem: 'altered' },
    apply: duplicateKey,
  },
  {
    name: 'stored data re-serialised with whitespace (same value, same hash)',
    expect: { seq: 5, problem: 'altered' },
    apply: (db) => db.run(`UPDATE audit_events SET data = replace(data, ',"call_id"', ', "call_id"') WHERE seq=5`),
  },
  {
    name: 'first records deleted and the base moved, with no archive',
    expect: { seq: 1, problem: 'deleted' },
    apply: (db) => dropFirst(db, 10),
  },
  {
    name: 'tail rewritten and re-chained (caught by checkpoint 10)',
    expect: { seq: 10, problem: 'altered' },
    async apply(db) {
      let prevHash = (await row(db, 4)).hash;
      for (let seq = 5; seq <= 25; seq++) {
        const r = await row(db, seq);
        if (seq === 5) r.data = r.data.replace('alice', 'mallory');
        r.prev_hash = prevHash;
        r.hash = rehash(r);
        await db.run('UPDATE audit_events SET data = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [
          r.data,
          r.prev_hash,
          r.hash,
          seq,
        ]);
        prevHash = r.hash;
      }
      await db.run('UPDATE audit_state SET head_hash = $1', [prevHash]);
    },
  },
];
