import type { KeyObject } from 'node:crypto';
import type { AuditEvent } from './records.js';

/**
 * One stored, hash-chained record, exactly as the store holds it: written by this version or an
 * older one, so `type` and `data` are not checked here. Read it into the record model with
 * `readRecord` (records.ts). See docs/audit.md for how `hash` is computed.
 */
export interface AuditRecord {
  /**
   * The chain the record is on, named by the replica that wrote it (`audit.chain: instance`).
   * Absent on the shared chain (`''`). `seq` counts within the chain.
   */
  chain?: string;
  seq: number;
  /** ISO 8601, UTC (`toISOString()`). */
  at: string;
  type: string;
  session_id: string;
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/**
 * Filter for {@link AuditStore.read}. Results are in ascending `seq` order within each chain, the
 * chains one after the other in name order.
 */
export interface AuditQuery {
  /** Only records of this chain (`''`: the shared chain). Default: every chain. */
  chain?: string;
  /** Only records with `seq > sinceSeq` (exclusive, so a follower passes the last seq it saw). Needs `chain` when the store has several. */
  sinceSeq?: number;
  session?: string;
  /** Only records with `at >= since` (ISO time, inclusive). */
  since?: string;
  /** Only records with `at < until` (ISO time, exclusive). */
  until?: string;
  limit?: number;
}

/** A point on the chain: a record's seq and hash. */
export interface ChainPoint {
  seq: number;
  hash: string;
}

/** One chain of a store and where it starts and ends (see {@link ChainState}). */
export interface ChainHead extends ChainState {
  /** `''` for the shared chain, else the name of the replica that writes it. */
  chain: string;
}

/** The contract the proxy relies on. */
export interface AuditStore {
  /** Appends one event (built with the constructors of records.ts). Resolves once durable (fsync'd / committed). */
  append(event: AuditEvent): Promise<AuditRecord>;
  read(query: AuditQuery): Promise<AuditRecord[]>;
  /** The newest record's seq and hash on this writer's chain, or null while it is empty. */
  head(): Promise<ChainPoint | null>;
  /** Every chain the store holds, by name (a store that never had a record still lists chain `''`). */
  chains(): Promise<ChainHead[]>;
  /** Writes a final checkpoint and releases the store. Appends after close reject. */
  close(): Promise<void>;
}

/**
 * A periodic statement "the record at `seq` has hash `hash`", kept apart from the records so that
 * cutting records off the end of the chain is detected. Signed with Ed25519 when a key is configured.
 */
export interface Checkpoint {
  seq: number;
  hash: string;
  at: string;
  /** First 16 hex digits of SHA-256 over the public key's SPKI DER encoding. */
  key_id?: string | null;
  /** Base64 Ed25519 signature over the canonical JSON of {type, seq, hash, at} (docs/audit.md). */
  signature?: string | null;
}

/**
 * A tie: one replica's signed statement of the head of every chain it saw at `at`. A chain cut
 * after a tie no longer holds the head the tie names, so no replica can drop the end of its chain
 * unseen (docs/scaling.md). Written with `audit.chain: instance` every `audit.tieEveryMs` and at close.
 */
export interface Tie {
  /** The chain of the replica that wrote it. */
  by: string;
  at: string;
  /** Every chain's head, by chain name (seq 0: the chain was still empty). */
  heads: { chain: string; seq: number; hash: string }[];
  key_id?: string | null;
  /** Base64 Ed25519 signature over the canonical JSON of {type: "warden.audit.tie", by, at, heads}. */
  signature?: string | null;
}

/**
 * Where the live chain starts and ends. `base` is the last record moved to an archive (seq 0 and
 * 64 zeros when nothing was archived); `head` is the newest record (same as base when empty).
 */
export interface ChainState {
  base: ChainPoint;
  head: ChainPoint;
}

/**
 * A record as it sits in storage, before any parsing: `data` is the stored JSON text. The verifier
 * works on these so that a row whose JSON was damaged is reported, not thrown.
 */
export interface StoredRow {
  /** Absent in rows of stores with one chain. */
  chain?: unknown;
  seq: unknown;
  at: unknown;
  type: unknown;
  session_id: unknown;
  data: unknown;
  prev_hash: unknown;
  hash: unknown;
}

/** An {@link AuditStore} that also exposes what verification and retention need. */
export interface ChainStore extends AuditStore {
  readonly kind: 'sqlite' | 'postgres' | 'memory';
  /** The store URL with any password removed, for messages. */
  readonly description: string;
  /** The chain this store appends to and that the per-chain methods below (state, scan, …) are about. */
  readonly chain: string;
  /** The same store, read-only, for another of its chains (verification walks each one); close() releases nothing. */
  forChain(chain: string): ChainStore;
  state(): Promise<ChainState>;
  checkpoints(): Promise<Checkpoint[]>;
  /**
   * Base checkpoints, ascending: one for each time {@link dropPrefix} moved the base, stating "the
   * records up to `seq` were archived; record `seq` had hash `hash`" (signed with the signing key,
   * as kind `base`). A store alone, without its archives, verifies from a moved base only when a
   * validly signed base checkpoint attests it.
   */
  bases(): Promise<Checkpoint[]>;
  /** Raw rows with `seq > afterSeq`, ascending, at most `limit`. */
  scan(afterSeq: number, limit: number): Promise<StoredRow[]>;
  /** Writes a checkpoint for the current head now (no-op on an empty chain). */
  checkpoint(): Promise<Checkpoint | null>;
  /** Ties, oldest first (none in a store that holds one chain). */
  ties(): Promise<Tie[]>;
  /** Writes a tie over every chain's head now (a store that holds one chain refuses). */
  tie(): Promise<Tie>;
  /**
   * Calls `listener` with each record this store appended, once it is durable, in the trail's
   * order (the history read model follows the trail this way). Returns an unsubscribe function.
   */
  onAppended(listener: (record: AuditRecord) => void): () => void;
  /**
   * Appends `events` in order, in one transaction (one fsync): all are durable or none is. A call's
   * records before it is forwarded (`call.received`, `call.decided`, `call.forwarded`) go this way.
   */
  appendAll(events: AuditEvent[]): Promise<AuditRecord[]>;
  /**
   * Claims `key` once for all processes sharing the store: resolves true for the one caller that
   * claimed it first (an approval spent by exactly one call, whichever replica it reaches).
   */
  claim(key: string): Promise<boolean>;
  /**
   * Deletes records `base.seq+1 .. through.seq` (already archived) and their checkpoints, moves
   * `base` to `through` and, in the same transaction, writes a base checkpoint for `through`
   * (see {@link bases}). Fails if `base` is not `expectedBase` (another archiver ran meanwhile).
   */
  dropPrefix(through: ChainPoint, expectedBase: ChainPoint): Promise<number>;
}

/** Options for {@link openAuditStore}. */
export interface AuditStoreOptions {
  /** Write a checkpoint every N records (default 1000) and on close. */
  checkpointEvery?: number;
  /** Ed25519 private key (PEM text or KeyObject) to sign checkpoints with. */
  signingKey?: string | KeyObject;
  /**
   * Applied to each event's `data` before it is hashed or written: pass a {@link createRedactor}
   * result so that secrets never reach the disk.
   */
  redact?: (data: Record<string, unknown>) => unknown;
  /** Most records committed in one transaction when appends pile up (default 256). */
  maxBatch?: number;
  /**
   * SQLite only. `full` (default): every commit fsyncs the WAL, so an acknowledged append survives
   * kill -9 and power loss. `normal`: no fsync per commit: an acknowledged append survives kill -9
   * (the OS has it) but the last commits may roll back after a power loss or kernel crash; about
   * ten times faster. PostgreSQL always commits with synchronous_commit=on.
   */
  synchronous?: 'full' | 'normal';
  /** PostgreSQL pool size (default 4). */
  poolSize?: number;
  /**
   * The chain to append to (`audit.chain: instance` passes the replica's name). Default `''`, the
   * shared chain. Only PostgreSQL stores hold several chains.
   */
  chain?: string;
  /**
   * Open an existing store for reading only (the `warden audit` commands): nothing is created, a
   * missing SQLite file or missing tables is an error, appends reject and close writes no checkpoint.
   */
  readOnly?: boolean;
}
