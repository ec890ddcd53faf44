import type { Pool, PoolClient } from 'pg';
import { AuditError, describeError } from '../common/index.js';
import type { Backend, Batch } from './chain-store.js';
import { GENESIS_HASH } from './hash.js';
import type { AuditQuery, ChainPoint, ChainState, Checkpoint, StoredRow } from './types.js';

// Taken by every replica while it creates the schema: CREATE TABLE IF NOT EXISTS is not safe
// against itself running concurrently (duplicate pg_type rows).
const SCHEMA_LOCK = 0x5741_5244; // "WARD"

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_events (
  seq        BIGINT PRIMARY KEY,
  at         TEXT NOT NULL,
  type       TEXT NOT NULL,
  session_id TEXT NOT NULL,
  data       TEXT NOT NULL,
  prev_hash  TEXT NOT NULL,
  hash       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_session ON audit_events (session_id, seq);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  seq       BIGINT PRIMARY KEY,
  hash      TEXT NOT NULL,
  at        TEXT NOT NULL,
  key_id    TEXT,
  signature TEXT
);
CREATE TABLE IF NOT EXISTS audit_bases (
  seq       BIGINT PRIMARY KEY,
  hash      TEXT NOT NULL,
  at        TEXT NOT NULL,
  key_id    TEXT,
  signature TEXT
);
CREATE TABLE IF NOT EXISTS audit_claims (
  key TEXT PRIMARY KEY,
  at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_state (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  format    INTEGER NOT NULL,
  head_seq  BIGINT NOT NULL,
  head_hash TEXT NOT NULL,
  base_seq  BIGINT NOT NULL,
  base_hash TEXT NOT NULL
);
INSERT INTO audit_state (id, format, head_seq, head_hash, base_seq, base_hash)
  VALUES (1, 1, 0, '${GENESIS_HASH}', 0, '${GENESIS_HASH}') ON CONFLICT (id) DO NOTHING;
`;

const COLUMNS = 'seq, at, type, session_id, data, prev_hash, hash';
const LOCK_STATE = 'SELECT head_seq, head_hash, base_seq, base_hash FROM audit_state WHERE id = 1 FOR UPDATE';

function checkpointTuples(checkpoints: Checkpoint[], values: unknown[]): string {
  return checkpoints
    .map((cp) => {
      const b = values.length;
      values.push(cp.seq, cp.hash, cp.at, cp.key_id ?? null, cp.signature ?? null);
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`;
    })
    .join(', ');
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

function toState(row: Record<string, unknown>): ChainState {
  return {
    head: { seq: Number(row.head_seq), hash: String(row.head_hash) },
    base: { seq: Number(row.base_seq), hash: String(row.base_hash) },
  };
}

function toCheckpoints(rows: Record<string, unknown>[]): Checkpoint[] {
  return rows.map((r) => ({
    seq: Number(r.seq),
    hash: String(r.hash),
    at: String(r.at),
    key_id: (r.key_id as string | null) ?? null,
    signature: (r.signature as string | null) ?? null,
  }));
}

/**
 * `postgres://…` — many replicas append to one chain. Each commit runs in a transaction that first
 * locks the single `audit_state` row (`SELECT … FOR UPDATE`), so replicas take turns: each reads
 * the head the previous one committed and inserts head+1. No forks (the lock, and `seq` is the
 * primary key) and no gaps (seq comes from the locked head, inside the same transaction).
 */
export class PostgresBackend implements Backend {
  readonly kind = 'postgres' as const;
  readonly description: string;
  private readonly pool: Pool;

  private constructor(pool: Pool, description: string) {
    this.pool = pool;
    this.description = description;
  }

  static async open(url: string, poolSize = 4, readOnly = false): Promise<PostgresBackend> {
    const description = redactUrl(url);
    let PgPool: typeof Pool;
    try {
      PgPool = (await import('pg')).default.Pool;
    } catch (err) {
      throw new AuditError(
        'audit_store_unavailable',
        `cannot load the "pg" module (${describeError(err)}); run "make deps"`,
        { cause: err },
      );
    }
    const pool = new PgPool({ connectionString: url, max: Math.max(2, poolSize), connectionTimeoutMillis: 10_000 });
    // An idle connection that drops emits here; without a listener it would crash the process.
    // The next query reports the failure to its caller instead.
    pool.on('error', () => {});
    const backend = new PostgresBackend(pool, description);
    try {
      await backend.transaction(async (client) => {
        if (readOnly) {
          const { rows } = await client.query(`SELECT to_regclass('audit_state') IS NOT NULL AS present`);
          if (!rows[0]?.present)
            throw new Error(
              'it has no audit tables (audit_events, audit_state): is this the database Warden writes to?',
            );
        } else {
          await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
          await client.query(SCHEMA);
        }
        const { rows } = await client.query('SELECT format FROM audit_state WHERE id = 1');
        const format = rows[0]?.format;
        if (format !== 1) throw new Error(`unknown audit store format ${String(format)} (this Warden reads format 1)`);
      });
    } catch (err) {
      await pool.end().catch(() => {});
      throw new AuditError(
        'audit_store_unavailable',
        `cannot open the PostgreSQL audit store ${description}: ${describeError(err)}; check the URL, that the server is up and that the user may create tables`,
        { cause: err },
      );
    }
    return backend;
  }

  /**
   * Runs `fn` in a transaction. With `lock`, the first round trip also locks the audit_state row
   * and hands its content to `fn`: every writer of the chain queues there.
   */
  private async transaction<T>(
    fn: (client: PoolClient, state: ChainState | null) => Promise<T>,
    lock = false,
  ): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      // Durability must not depend on the server's default: force a synchronous commit.
      const begin = 'BEGIN; SET LOCAL synchronous_commit TO on';
      let state: ChainState | null = null;
      if (lock) {
        const results = (await client.query(`${begin}; ${LOCK_STATE}`)) as unknown as {
          rows: Record<string, unknown>[];
        }[];
        const row = results[results.length - 1]?.rows[0];
        if (!row) throw new AuditError('audit_store_corrupt', `${this.description}: the audit_state row is missing`);
        state = toState(row);
      } else {
        await client.query(begin);
      }
      const result = await fn(client, state);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  private async insertCheckpoints(client: PoolClient, checkpoints: Checkpoint[]): Promise<number> {
    if (checkpoints.length === 0) return 0;
    const values: unknown[] = [];
    const res = await client.query(
      `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES ${checkpointTuples(checkpoints, values)} ON CONFLICT (seq) DO NOTHING`,
      values,
    );
    return res.rowCount ?? 0;
  }

  async commit(build: (head: ChainPoint) => Batch): Promise<void> {
    await this.transaction(async (client, state) => {
      const batch = build(state!.head);
      // One statement, one round trip: the rows, their checkpoints and the new head.
      const values: unknown[] = [];
      const parts: string[] = [];
      if (batch.rows.length > 0) {
        const tuples = batch.rows.map((r) => {
          const b = values.length;
          values.push(r.seq, r.at, r.type, r.session_id, r.data, r.prev_hash, r.hash);
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7})`;
        });
        parts.push(`ev AS (INSERT INTO audit_events (${COLUMNS}) VALUES ${tuples.join(', ')})`);
      }
      if (batch.checkpoints.length > 0) {
        const tuples = checkpointTuples(batch.checkpoints, values);
        parts.push(
          `cp AS (INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES ${tuples} ON CONFLICT (seq) DO NOTHING)`,
        );
      }
      values.push(batch.head.seq, batch.head.hash);
      const update = `UPDATE audit_state SET head_seq = $${values.length - 1}, head_hash = $${values.length} WHERE id = 1`;
      await client.query(parts.length ? `WITH ${parts.join(', ')} ${update}` : update, values);
    }, true);
  }

  async read(query: AuditQuery): Promise<StoredRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, value: unknown): void => {
      args.push(value);
      where.push(clause.replace('?', `$${args.length}`));
    };
    if (query.sinceSeq !== undefined) add('seq > ?', query.sinceSeq);
    if (query.session !== undefined) add('session_id = ?', query.session);
    if (query.since !== undefined) add('at >= ?', query.since);
    if (query.until !== undefined) add('at < ?', query.until);
    let sql = `SELECT ${COLUMNS} FROM audit_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
    if (query.limit !== undefined) {
      args.push(query.limit);
      sql += ` LIMIT $${args.length}`;
    }
    const { rows } = await this.pool.query(sql, args);
    return rows as StoredRow[];
  }

  async scan(afterSeq: number, limit: number): Promise<StoredRow[]> {
    const { rows } = await this.pool.query(`SELECT ${COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, [
      afterSeq,
      limit,
    ]);
    return rows as StoredRow[];
  }

  async state(): Promise<ChainState> {
    const { rows } = await this.pool.query(
      'SELECT head_seq, head_hash, base_seq, base_hash FROM audit_state WHERE id = 1',
    );
    if (!rows[0]) throw new AuditError('audit_store_corrupt', `${this.description}: the audit_state row is missing`);
    return toState(rows[0] as Record<string, unknown>);
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const { rows } = await this.pool.query(
      'SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq',
    );
    return toCheckpoints(rows as Record<string, unknown>[]);
  }

  async bases(): Promise<Checkpoint[]> {
    // A database last opened for writing by an older Warden has no such table (read-only opens create nothing).
    const { rows: found } = await this.pool.query(`SELECT to_regclass('audit_bases') IS NOT NULL AS present`);
    if (!found[0]?.present) return [];
    const { rows } = await this.pool.query('SELECT seq, hash, at, key_id, signature FROM audit_bases ORDER BY seq');
    return toCheckpoints(rows as Record<string, unknown>[]);
  }

  async addCheckpoint(build: (head: ChainPoint) => Checkpoint | null): Promise<Checkpoint | null> {
    return this.transaction(async (client, state) => {
      const cp = build(state!.head);
      if (!cp) return null;
      return (await this.insertCheckpoints(client, [cp])) > 0 ? cp : null;
    }, true);
  }

  async dropPrefix(through: ChainPoint, expectedBase: ChainPoint, cp: Checkpoint): Promise<number> {
    return this.transaction(async (client, state) => {
      const { base } = state!;
      if (base.seq !== expectedBase.seq || base.hash !== expectedBase.hash) {
        throw new AuditError(
          'audit_archive_conflict',
          'the chain base moved while archiving (another archiver ran); archive again',
        );
      }
      const res = await client.query('DELETE FROM audit_events WHERE seq <= $1', [through.seq]);
      await client.query('DELETE FROM audit_checkpoints WHERE seq <= $1', [through.seq]);
      await client.query('UPDATE audit_state SET base_seq = $1, base_hash = $2 WHERE id = 1', [
        through.seq,
        through.hash,
      ]);
      await client.query(
        `INSERT INTO audit_bases (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (seq) DO UPDATE
         SET hash = EXCLUDED.hash, at = EXCLUDED.at, key_id = EXCLUDED.key_id, signature = EXCLUDED.signature`,
        [cp.seq, cp.hash, cp.at, cp.key_id ?? null, cp.signature ?? null],
      );
      return res.rowCount ?? 0;
    }, true);
  }

  async claim(key: string, at: string): Promise<boolean> {
    const res = await this.pool.query(
      'INSERT INTO audit_claims (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
      [key, at],
    );
    return res.rowCount === 1;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
