import type { Pool, PoolClient } from 'pg';
import { AuditError, describeError } from '../common/index.js';
import type { Backend, Batch } from './chain-store.js';
import { canonicalText, GENESIS_HASH } from './hash.js';
import type { AuditQuery, ChainHead, ChainPoint, ChainState, Checkpoint, StoredRow, Tie } from './types.js';

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

// Format 2: one chain per row of audit_chains; events, checkpoints and bases carry their chain.
// The format-1 store (one chain, its head in audit_state) becomes chain '' in one transaction.
const MIGRATE_TO_2 = `
ALTER TABLE audit_events ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD PRIMARY KEY (chain, seq);
ALTER TABLE audit_checkpoints ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_pkey;
ALTER TABLE audit_checkpoints ADD PRIMARY KEY (chain, seq);
ALTER TABLE audit_bases ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_bases DROP CONSTRAINT audit_bases_pkey;
ALTER TABLE audit_bases ADD PRIMARY KEY (chain, seq);
CREATE TABLE audit_chains (
  chain     TEXT PRIMARY KEY,
  head_seq  BIGINT NOT NULL,
  head_hash TEXT NOT NULL,
  base_seq  BIGINT NOT NULL,
  base_hash TEXT NOT NULL
);
INSERT INTO audit_chains (chain, head_seq, head_hash, base_seq, base_hash)
  SELECT '', head_seq, head_hash, base_seq, base_hash FROM audit_state WHERE id = 1;
CREATE TABLE audit_ties (
  id        BIGSERIAL PRIMARY KEY,
  chain     TEXT NOT NULL,
  at        TEXT NOT NULL,
  heads     TEXT NOT NULL,
  key_id    TEXT,
  signature TEXT
);
UPDATE audit_state SET format = 2 WHERE id = 1;
`;

/** The store format this Warden writes; it still reads format 1 (one chain, before chains existed). */
export const POSTGRES_FORMAT = 2;

const COLUMNS = 'seq, at, type, session_id, data, prev_hash, hash';
const STATE_COLUMNS = 'head_seq, head_hash, base_seq, base_hash';

// Placeholders for checkpoints of this chain, whose name the caller put first in `values` ($1).
function checkpointTuples(checkpoints: Checkpoint[], values: unknown[]): string {
  return checkpoints
    .map((cp) => {
      const b = values.length;
      values.push(cp.seq, cp.hash, cp.at, cp.key_id ?? null, cp.signature ?? null);
      return `($1, $${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`;
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

// A tie's heads as stored (canonical JSON); what is not a list of heads reads as none, which fails verification.
function parseHeads(text: unknown): Tie['heads'] {
  try {
    const heads = JSON.parse(String(text)) as unknown;
    return Array.isArray(heads) ? (heads as Tie['heads']) : [];
  } catch {
    return [];
  }
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
 * `postgres://…` — many replicas append to one database, to one shared chain (`''`) or each to its
 * own (`audit.chain: instance`). Each commit runs in a transaction that first locks its chain's
 * row of `audit_chains` (`SELECT … FOR UPDATE`), so the writers of one chain take turns: each
 * reads the head the previous one committed and inserts head+1. No forks (the lock, and
 * `(chain, seq)` is the primary key) and no gaps (seq comes from the locked head, inside the same
 * transaction). Writers of different chains do not wait for each other.
 */
export class PostgresBackend implements Backend {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly chain: string;
  private readonly pool: Pool;
  /** A format-1 store opened read-only (not migrated): one chain, `''`, with its head in audit_state. */
  private readonly format1: boolean;
  /** The chain column in queries: a literal `''` on a format-1 store, which has no such column. */
  private readonly col: string;
  private readonly owner: boolean;

  private constructor(pool: Pool, description: string, chain: string, format1: boolean, owner: boolean) {
    this.pool = pool;
    this.description = description;
    this.chain = chain;
    this.format1 = format1;
    this.col = format1 ? "''" : 'chain';
    this.owner = owner;
  }

  static async open(url: string, poolSize = 4, readOnly = false, chain = ''): Promise<PostgresBackend> {
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
    let format: unknown;
    try {
      format = await PostgresBackend.prepare(pool, readOnly, chain);
    } catch (err) {
      await pool.end().catch(() => {});
      throw new AuditError(
        'audit_store_unavailable',
        `cannot open the PostgreSQL audit store ${description}: ${describeError(err)}; check the URL, that the server is up and that the user may create tables`,
        { cause: err },
      );
    }
    return new PostgresBackend(pool, description, chain, format === 1, true);
  }

  /** Creates or migrates the schema (writers) and returns the store's format. */
  private static async prepare(pool: Pool, readOnly: boolean, chain: string): Promise<unknown> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      if (readOnly) {
        const { rows } = await client.query(`SELECT to_regclass('audit_state') IS NOT NULL AS present`);
        if (!rows[0]?.present)
          throw new Error('it has no audit tables (audit_events, audit_state): is this the database Warden writes to?');
      } else {
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await client.query(SCHEMA);
      }
      const { rows } = await client.query('SELECT format FROM audit_state WHERE id = 1');
      let format = rows[0]?.format as unknown;
      if (format !== 1 && format !== POSTGRES_FORMAT)
        throw new Error(`unknown audit store format ${String(format)} (this Warden reads formats 1 and 2)`);
      if (!readOnly && format === 1) {
        await client.query(MIGRATE_TO_2);
        format = POSTGRES_FORMAT;
      }
      if (!readOnly) {
        // The chain is a literal: checkChainName admits only [A-Za-z0-9._-].
        await client.query(
          `INSERT INTO audit_chains (chain, ${STATE_COLUMNS}) VALUES ($1, 0, $2, 0, $2) ON CONFLICT (chain) DO NOTHING`,
          [chain, GENESIS_HASH],
        );
      } else if (format === POSTGRES_FORMAT && chain !== '') {
        const found = await client.query('SELECT 1 FROM audit_chains WHERE chain = $1', [chain]);
        if (found.rowCount === 0) throw new Error(`it has no chain named "${chain}"`);
      }
      await client.query('COMMIT');
      return format;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  forChain(chain: string): Backend {
    return new PostgresBackend(this.pool, this.description, chain, this.format1, false);
  }

  /**
   * Runs `fn` in a transaction. With `lock`, the first round trip also locks this chain's row
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
        // One round trip (a simple query takes no parameters): the chain name is quoted here.
        const locked = `SELECT ${STATE_COLUMNS} FROM audit_chains WHERE chain = '${this.chain}' FOR UPDATE`;
        const results = (await client.query(`${begin}; ${locked}`)) as unknown as {
          rows: Record<string, unknown>[];
        }[];
        const row = results[results.length - 1]?.rows[0];
        if (!row) throw this.missingChain();
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

  private missingChain(): AuditError {
    return new AuditError(
      'audit_store_corrupt',
      `${this.description}: the audit_chains row of chain "${this.chain}" is missing; ` +
        'it is written when a Warden opens the store, so it was deleted outside Warden',
    );
  }

  private async insertCheckpoints(client: PoolClient, checkpoints: Checkpoint[]): Promise<number> {
    if (checkpoints.length === 0) return 0;
    const values: unknown[] = [this.chain];
    const res = await client.query(
      `INSERT INTO audit_checkpoints (chain, seq, hash, at, key_id, signature) VALUES ${checkpointTuples(checkpoints, values)} ON CONFLICT (chain, seq) DO NOTHING`,
      values,
    );
    return res.rowCount ?? 0;
  }

  async commit(build: (head: ChainPoint) => Batch): Promise<void> {
    await this.transaction(async (client, state) => {
      const batch = build(state!.head);
      // One statement, one round trip: the rows, their checkpoints and the new head. $1 is the chain.
      const values: unknown[] = [this.chain];
      const parts: string[] = [];
      if (batch.rows.length > 0) {
        const tuples = batch.rows.map((r) => {
          const b = values.length;
          values.push(r.seq, r.at, r.type, r.session_id, r.data, r.prev_hash, r.hash);
          return `($1, $${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7})`;
        });
        parts.push(`ev AS (INSERT INTO audit_events (chain, ${COLUMNS}) VALUES ${tuples.join(', ')})`);
      }
      if (batch.checkpoints.length > 0) {
        const tuples = checkpointTuples(batch.checkpoints, values);
        parts.push(
          `cp AS (INSERT INTO audit_checkpoints (chain, seq, hash, at, key_id, signature) VALUES ${tuples} ON CONFLICT (chain, seq) DO NOTHING)`,
        );
      }
      values.push(batch.head.seq, batch.head.hash);
      const update = `UPDATE audit_chains SET head_seq = $${values.length - 1}, head_hash = $${values.length} WHERE chain = $1`;
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
    if (query.chain !== undefined) add(`${this.col} = ?`, query.chain);
    if (query.sinceSeq !== undefined) add('seq > ?', query.sinceSeq);
    if (query.session !== undefined) add('session_id = ?', query.session);
    if (query.since !== undefined) add('at >= ?', query.since);
    if (query.until !== undefined) add('at < ?', query.until);
    const filter = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    let sql = `SELECT ${this.col} AS chain, ${COLUMNS} FROM audit_events${filter} ORDER BY ${this.format1 ? 'seq' : 'chain, seq'}`;
    if (query.limit !== undefined) {
      args.push(query.limit);
      sql += ` LIMIT $${args.length}`;
    }
    const { rows } = await this.pool.query(sql, args);
    return rows as StoredRow[];
  }

  async scan(afterSeq: number, limit: number): Promise<StoredRow[]> {
    const { rows } = await this.pool.query(
      `SELECT ${this.col} AS chain, ${COLUMNS} FROM audit_events WHERE ${this.col} = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [this.chain, afterSeq, limit],
    );
    return rows as StoredRow[];
  }

  async chains(): Promise<ChainHead[]> {
    if (this.format1) return [{ chain: '', ...(await this.state()) }];
    const { rows } = await this.pool.query(`SELECT chain, ${STATE_COLUMNS} FROM audit_chains ORDER BY chain`);
    return (rows as Record<string, unknown>[]).map((row) => ({ chain: String(row.chain), ...toState(row) }));
  }

  async state(): Promise<ChainState> {
    const { rows } = this.format1
      ? await this.pool.query(`SELECT ${STATE_COLUMNS} FROM audit_state WHERE id = 1`)
      : await this.pool.query(`SELECT ${STATE_COLUMNS} FROM audit_chains WHERE chain = $1`, [this.chain]);
    if (!rows[0]) throw this.missingChain();
    return toState(rows[0] as Record<string, unknown>);
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const { rows } = await this.pool.query(
      `SELECT seq, hash, at, key_id, signature FROM audit_checkpoints WHERE ${this.col} = $1 ORDER BY seq`,
      [this.chain],
    );
    return toCheckpoints(rows as Record<string, unknown>[]);
  }

  async bases(): Promise<Checkpoint[]> {
    // A database last opened for writing by an older Warden has no such table (read-only opens create nothing).
    const { rows: found } = await this.pool.query(`SELECT to_regclass('audit_bases') IS NOT NULL AS present`);
    if (!found[0]?.present) return [];
    const { rows } = await this.pool.query(
      `SELECT seq, hash, at, key_id, signature FROM audit_bases WHERE ${this.col} = $1 ORDER BY seq`,
      [this.chain],
    );
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
      const chain = this.chain;
      const res = await client.query('DELETE FROM audit_events WHERE chain = $1 AND seq <= $2', [chain, through.seq]);
      await client.query('DELETE FROM audit_checkpoints WHERE chain = $1 AND seq <= $2', [chain, through.seq]);
      await client.query('UPDATE audit_chains SET base_seq = $2, base_hash = $3 WHERE chain = $1', [
        chain,
        through.seq,
        through.hash,
      ]);
      await client.query(
        `INSERT INTO audit_bases (chain, seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (chain, seq) DO UPDATE
         SET hash = EXCLUDED.hash, at = EXCLUDED.at, key_id = EXCLUDED.key_id, signature = EXCLUDED.signature`,
        [chain, cp.seq, cp.hash, cp.at, cp.key_id ?? null, cp.signature ?? null],
      );
      return res.rowCount ?? 0;
    }, true);
  }

  async ties(): Promise<Tie[]> {
    if (this.format1) return [];
    const { rows } = await this.pool.query('SELECT chain, at, heads, key_id, signature FROM audit_ties ORDER BY id');
    return (rows as Record<string, unknown>[]).map((r) => ({
      by: String(r.chain),
      at: String(r.at),
      heads: parseHeads(r.heads),
      key_id: (r.key_id as string | null) ?? null,
      signature: (r.signature as string | null) ?? null,
    }));
  }

  async addTie(build: (heads: ChainHead[]) => Tie): Promise<Tie> {
    const tie = build(await this.chains());
    await this.pool.query('INSERT INTO audit_ties (chain, at, heads, key_id, signature) VALUES ($1, $2, $3, $4, $5)', [
      tie.by,
      tie.at,
      canonicalText(tie.heads),
      tie.key_id ?? null,
      tie.signature ?? null,
    ]);
    return tie;
  }

  async claim(key: string, at: string): Promise<boolean> {
    const res = await this.pool.query(
      'INSERT INTO audit_claims (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
      [key, at],
    );
    return res.rowCount === 1;
  }

  async close(): Promise<void> {
    if (this.owner) await this.pool.end();
  }
}
