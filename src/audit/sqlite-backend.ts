import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { AuditError, describeError } from '../common/index.js';
import { noTies, singleChainHeads, singleChainView, type Backend, type Batch } from './chain-store.js';
import { GENESIS_HASH } from './hash.js';
import type { AuditQuery, ChainHead, ChainPoint, ChainState, Checkpoint, StoredRow, Tie } from './types.js';

/** Schema shared (in spirit) with PostgreSQL; documented in docs/audit.md. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_events (
  seq        INTEGER PRIMARY KEY,
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
  seq       INTEGER PRIMARY KEY,
  hash      TEXT NOT NULL,
  at        TEXT NOT NULL,
  key_id    TEXT,
  signature TEXT
);
CREATE TABLE IF NOT EXISTS audit_bases (
  seq       INTEGER PRIMARY KEY,
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
  head_seq  INTEGER NOT NULL,
  head_hash TEXT NOT NULL,
  base_seq  INTEGER NOT NULL,
  base_hash TEXT NOT NULL
);
INSERT OR IGNORE INTO audit_state (id, format, head_seq, head_hash, base_seq, base_hash)
  VALUES (1, 1, 0, '${GENESIS_HASH}', 0, '${GENESIS_HASH}');
`;

interface StateRow {
  head_seq: number;
  head_hash: string;
  base_seq: number;
  base_hash: string;
}

/** Path from `sqlite:PATH` (`sqlite:./a.db`, `sqlite:/abs/a.db`, `sqlite:///abs/a.db`). */
export function sqlitePath(url: string): string {
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '')
    throw new AuditError('audit_store_url_invalid', 'sqlite store URL has no path; use e.g. sqlite:./data/audit.db');
  return resolve(path);
}

/**
 * `sqlite:PATH` — better-sqlite3 in WAL mode with `synchronous=FULL`: every commit fsyncs the WAL, so
 * an acknowledged append survives kill -9 and power loss. Writers in other processes are excluded
 * by `BEGIN IMMEDIATE` (the database write lock) for the read-head-then-insert step.
 */
export class SqliteBackend implements Backend {
  readonly kind = 'sqlite' as const;
  readonly description: string;
  readonly chain = '';
  private readonly db: BetterSqlite3.Database;
  private readonly stmt: {
    state: BetterSqlite3.Statement<[], StateRow>;
    insert: BetterSqlite3.Statement<[number, string, string, string, string, string, string]>;
    checkpoint: BetterSqlite3.Statement<[number, string, string, string | null, string | null]>;
    setHead: BetterSqlite3.Statement<[number, string]>;
    scan: BetterSqlite3.Statement<[number, number], StoredRow>;
  };
  private readonly reads = new Map<string, BetterSqlite3.Statement>();
  private claimStmt: BetterSqlite3.Statement | null = null;
  private readonly commitTx: (build: (head: ChainPoint) => Batch) => void;

  private constructor(db: BetterSqlite3.Database, path: string) {
    this.db = db;
    this.description = `sqlite:${path}`;
    this.stmt = {
      state: db.prepare('SELECT head_seq, head_hash, base_seq, base_hash FROM audit_state WHERE id = 1'),
      insert: db.prepare(
        'INSERT INTO audit_events (seq, at, type, session_id, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      checkpoint: db.prepare(
        'INSERT OR IGNORE INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)',
      ),
      setHead: db.prepare('UPDATE audit_state SET head_seq = ?, head_hash = ? WHERE id = 1'),
      scan: db.prepare(
        'SELECT seq, at, type, session_id, data, prev_hash, hash FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?',
      ),
    };
    const tx = db.transaction((build: (head: ChainPoint) => Batch) => {
      const state = this.readState();
      const batch = build(state.head);
      for (const r of batch.rows) this.stmt.insert.run(r.seq, r.at, r.type, r.session_id, r.data, r.prev_hash, r.hash);
      for (const cp of batch.checkpoints)
        this.stmt.checkpoint.run(cp.seq, cp.hash, cp.at, cp.key_id ?? null, cp.signature ?? null);
      this.stmt.setHead.run(batch.head.seq, batch.head.hash);
    });
    // IMMEDIATE takes the write lock before reading the head, so two processes cannot fork the chain.
    this.commitTx = (build) => tx.immediate(build);
  }

  static async open(url: string, readOnly = false, synchronous: 'full' | 'normal' = 'full'): Promise<SqliteBackend> {
    if (synchronous !== 'full' && synchronous !== 'normal') {
      throw new AuditError(
        'audit_store_options_invalid',
        `audit synchronous must be "full" or "normal", got ${JSON.stringify(synchronous)}`,
      );
    }
    const path = sqlitePath(url);
    let Database: typeof BetterSqlite3;
    try {
      Database = (await import('better-sqlite3')).default;
    } catch (err) {
      throw new AuditError(
        'audit_store_unavailable',
        `cannot load better-sqlite3 (${describeError(err)}); rebuild it with "npm_config_nodedir=/usr npm rebuild better-sqlite3" (or "make deps")`,
        { cause: err },
      );
    }
    let db: BetterSqlite3.Database | undefined;
    try {
      if (readOnly) {
        db = new Database(path, { readonly: true, fileMustExist: true });
        db.pragma('busy_timeout = 10000');
      } else {
        mkdirSync(dirname(path), { recursive: true });
        db = new Database(path);
        db.pragma('busy_timeout = 10000');
        db.pragma('journal_mode = WAL');
        // FULL: fsync the WAL at every commit. NORMAL only fsyncs at WAL checkpoints: still safe
        // against a killed process, not against power loss (opt-in, see AuditStoreOptions).
        // fullfsync matters on macOS (plain fsync does not reach the platter there), ignored elsewhere.
        db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
        db.pragma('fullfsync = ON');
        db.transaction(() => db!.exec(SCHEMA)).immediate();
      }
      const format = (db.prepare('SELECT format FROM audit_state WHERE id = 1').get() as { format: number } | undefined)
        ?.format;
      if (format !== 1) throw new Error(`unknown audit store format ${String(format)} (this Warden reads format 1)`);
      return new SqliteBackend(db, path);
    } catch (err) {
      db?.close();
      throw new AuditError(
        'audit_store_unavailable',
        readOnly
          ? `cannot read the SQLite audit store at ${path}: ${describeError(err)}; check the path (sqlite:PATH) and that Warden has written there`
          : `cannot open the SQLite audit store at ${path}: ${describeError(err)}; check that the directory exists and is writable`,
        { cause: err },
      );
    }
  }

  private readState(): ChainState {
    const row = this.stmt.state.get();
    if (!row) throw new AuditError('audit_store_corrupt', `${this.description}: the audit_state row is missing`);
    return {
      head: { seq: Number(row.head_seq), hash: String(row.head_hash) },
      base: { seq: Number(row.base_seq), hash: String(row.base_hash) },
    };
  }

  async commit(build: (head: ChainPoint) => Batch): Promise<void> {
    this.commitTx(build);
  }

  async read(query: AuditQuery): Promise<StoredRow[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    // One chain, '': a query for another finds nothing.
    if (query.chain !== undefined && query.chain !== '') return [];
    if (query.sinceSeq !== undefined) (where.push('seq > ?'), args.push(query.sinceSeq));
    if (query.session !== undefined) (where.push('session_id = ?'), args.push(query.session));
    if (query.since !== undefined) (where.push('at >= ?'), args.push(query.since));
    if (query.until !== undefined) (where.push('at < ?'), args.push(query.until));
    if (query.limit !== undefined) args.push(query.limit);
    const sql =
      'SELECT seq, at, type, session_id, data, prev_hash, hash FROM audit_events' +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY seq' +
      (query.limit !== undefined ? ' LIMIT ?' : '');
    let stmt = this.reads.get(sql);
    if (!stmt) this.reads.set(sql, (stmt = this.db.prepare(sql)));
    return stmt.all(...args) as StoredRow[];
  }

  chains(): Promise<ChainHead[]> {
    return singleChainHeads(this);
  }

  forChain(chain: string): Backend {
    return singleChainView(this, chain);
  }

  async ties(): Promise<Tie[]> {
    return [];
  }

  addTie(): Promise<Tie> {
    return noTies(this);
  }

  async scan(afterSeq: number, limit: number): Promise<StoredRow[]> {
    return this.stmt.scan.all(afterSeq, limit);
  }

  async state(): Promise<ChainState> {
    return this.readState();
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return this.db
      .prepare('SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq')
      .all() as Checkpoint[];
  }

  async bases(): Promise<Checkpoint[]> {
    // A store last opened for writing by an older Warden has no such table (read-only opens create nothing).
    const present = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_bases'").get();
    if (!present) return [];
    const rows = this.db.prepare('SELECT seq, hash, at, key_id, signature FROM audit_bases ORDER BY seq').all();
    return rows as Checkpoint[];
  }

  async addCheckpoint(build: (head: ChainPoint) => Checkpoint | null): Promise<Checkpoint | null> {
    return this.db
      .transaction(() => {
        const cp = build(this.readState().head);
        if (!cp) return null;
        const { changes } = this.stmt.checkpoint.run(cp.seq, cp.hash, cp.at, cp.key_id ?? null, cp.signature ?? null);
        return changes > 0 ? cp : null;
      })
      .immediate();
  }

  async dropPrefix(through: ChainPoint, expectedBase: ChainPoint, cp: Checkpoint): Promise<number> {
    return this.db
      .transaction(() => {
        const { base } = this.readState();
        if (base.seq !== expectedBase.seq || base.hash !== expectedBase.hash) {
          throw new AuditError(
            'audit_archive_conflict',
            'the chain base moved while archiving (another archiver ran); archive again',
          );
        }
        const { changes } = this.db.prepare('DELETE FROM audit_events WHERE seq <= ?').run(through.seq);
        this.db.prepare('DELETE FROM audit_checkpoints WHERE seq <= ?').run(through.seq);
        this.db
          .prepare('UPDATE audit_state SET base_seq = ?, base_hash = ? WHERE id = 1')
          .run(through.seq, through.hash);
        this.db
          .prepare('INSERT OR REPLACE INTO audit_bases (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)')
          .run(cp.seq, cp.hash, cp.at, cp.key_id ?? null, cp.signature ?? null);
        return changes;
      })
      .immediate();
  }

  async claim(key: string, at: string): Promise<boolean> {
    this.claimStmt ??= this.db.prepare('INSERT OR IGNORE INTO audit_claims (key, at) VALUES (?, ?)');
    return this.claimStmt.run(key, at).changes === 1;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
