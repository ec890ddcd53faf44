import type { KeyObject } from 'node:crypto';
import { AuditError, describeError, Listeners } from '../common/index.js';
import { hashRecord, normalizeTime, toCanonicalJson } from './hash.js';
import type { AuditEvent } from './records.js';
import { loadPrivateKey, signCheckpoint, signTie, type CheckpointKind } from './signing.js';
import type {
  AuditQuery,
  AuditRecord,
  AuditStoreOptions,
  ChainHead,
  ChainPoint,
  ChainState,
  ChainStore,
  Checkpoint,
  StoredRow,
  Tie,
} from './types.js';

/** Records between checkpoints when `checkpointEvery` is not set (also the verifier's tolerance). */
export const DEFAULT_CHECKPOINT_EVERY = 1000;

/** A record ready to be written: `data` is its canonical JSON text. */
export interface RowToWrite {
  /** Set on every chain but `''` (the backend writes its own chain's name). */
  chain?: string;
  seq: number;
  at: string;
  type: string;
  session_id: string;
  data: string;
  prev_hash: string;
  hash: string;
}

export interface Batch {
  rows: RowToWrite[];
  checkpoints: Checkpoint[];
  head: ChainPoint;
}

/**
 * What a storage engine provides. Chaining, hashing, batching and checkpoint policy live in
 * {@link ChainedStore}; a backend only has to make `commit` atomic and serialised across every
 * writer of the same chain (other processes and replicas included).
 */
export interface Backend {
  readonly kind: 'sqlite' | 'postgres' | 'memory';
  readonly description: string;
  /** The chain `commit`, `scan`, `state`, checkpoints, bases and `dropPrefix` are about. */
  readonly chain: string;
  /** Every chain, by name. */
  chains(): Promise<ChainHead[]>;
  /** This backend for another chain, sharing its connections: its close() releases nothing. */
  forChain(chain: string): Backend;
  /**
   * In one transaction that excludes every other writer: read the head, call `build(head)`, write
   * its rows, checkpoints and new head. Resolves once the transaction is durable.
   */
  commit(build: (head: ChainPoint) => Batch): Promise<void>;
  read(query: AuditQuery): Promise<StoredRow[]>;
  scan(afterSeq: number, limit: number): Promise<StoredRow[]>;
  state(): Promise<ChainState>;
  checkpoints(): Promise<Checkpoint[]>;
  /** Base checkpoints, ascending by seq (an empty list from a store written before they existed). */
  bases(): Promise<Checkpoint[]>;
  /** Atomically reads the head and stores `build(head)` unless it is null or already present. */
  addCheckpoint(build: (head: ChainPoint) => Checkpoint | null): Promise<Checkpoint | null>;
  /** In one transaction: delete records and checkpoints up to `through`, move the base, store `base`. */
  dropPrefix(through: ChainPoint, expectedBase: ChainPoint, base: Checkpoint): Promise<number>;
  /** Ties, oldest first. */
  ties(): Promise<Tie[]>;
  /** Reads every chain's head and stores `build(heads)` (backends holding one chain refuse). */
  addTie(build: (heads: ChainHead[]) => Tie): Promise<Tie>;
  /** Stores `key` unless it is already there: true for the one caller that stored it. */
  claim(key: string, at: string): Promise<boolean>;
  close(): Promise<void>;
}

interface Prepared {
  type: string;
  session_id: string;
  at: string;
  data: Record<string, unknown>;
  dataText: string;
}

interface Pending {
  event: Prepared;
  /** Committed in the same transaction as the pending append before it (appendAll). */
  joined?: true;
  resolve: (record: AuditRecord) => void;
  reject: (err: unknown) => void;
}

/** Parses a stored row into a record; throws `audit_record_corrupt` when it cannot be read. */
export function rowToRecord(row: StoredRow): AuditRecord {
  let data: unknown;
  try {
    data = typeof row.data === 'string' ? JSON.parse(row.data) : row.data;
  } catch (err) {
    throw new AuditError(
      'audit_record_corrupt',
      `audit record ${String(row.seq)} has unreadable data; run "warden audit verify" to find what changed`,
      {
        cause: err,
      },
    );
  }
  const record: AuditRecord = {
    seq: Number(row.seq),
    at: String(row.at),
    type: String(row.type),
    session_id: String(row.session_id),
    data: data as Record<string, unknown>,
    prev_hash: String(row.prev_hash),
    hash: String(row.hash),
  };
  if (typeof row.chain === 'string' && row.chain !== '') record.chain = row.chain;
  return record;
}

/** What a chain name may hold: a replica's `instance` (config/load.ts), or `''` for the shared chain. */
const CHAIN_NAME = /^[A-Za-z0-9._-]{0,64}$/;

/** Throws unless `chain` is a valid chain name (backends may then quote it without escaping). */
export function checkChainName(chain: string): string {
  if (typeof chain !== 'string' || !CHAIN_NAME.test(chain)) {
    throw new AuditError(
      'audit_store_options_invalid',
      `audit chain name ${JSON.stringify(chain)} is invalid: use up to 64 letters, digits, dots, underscores or dashes`,
    );
  }
  return chain;
}

/**
 * For backends that hold one chain (`''`, SQLite and memory): `backend` itself for chain `''`,
 * as a view whose close() releases nothing; any other chain is refused.
 */
export function singleChainView(backend: Backend, chain: string): Backend {
  if (chain !== '') {
    throw new AuditError(
      'audit_store_options_invalid',
      `the ${backend.kind} audit store ${backend.description} holds one chain (""), not "${chain}"; ` +
        'only PostgreSQL stores hold one chain per replica',
    );
  }
  const view = Object.create(backend) as Backend;
  Object.defineProperty(view, 'close', { value: async () => {} });
  return view;
}

/** For backends that hold one chain: ties have nothing to tie. */
export function noTies(backend: Backend): Promise<Tie> {
  return Promise.reject(
    new AuditError(
      'audit_chain_unsupported',
      `the ${backend.kind} audit store ${backend.description} holds one chain, so there is nothing to tie; ` +
        'ties join the chains of a PostgreSQL store (audit.chain: instance)',
    ),
  );
}

/** For backends that hold one chain: the chain `''` and where it starts and ends. */
export async function singleChainHeads(backend: Backend): Promise<ChainHead[]> {
  return [{ chain: '', ...(await backend.state()) }];
}

/** The one {@link ChainStore} implementation, over any {@link Backend}. */
export class ChainedStore implements ChainStore {
  readonly kind: Backend['kind'];
  readonly description: string;
  readonly chain: string;
  private readonly backend: Backend;
  private readonly options: AuditStoreOptions;
  private readonly checkpointEvery: number;
  private readonly maxBatch: number;
  private readonly signingKey: KeyObject | undefined;
  private readonly redact: ((data: Record<string, unknown>) => unknown) | undefined;
  private readonly readOnly: boolean;
  private queue: Pending[] = [];
  private draining: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private readonly appended = new Listeners<AuditRecord>();

  constructor(backend: Backend, options: AuditStoreOptions = {}) {
    this.backend = backend;
    this.options = options;
    this.kind = backend.kind;
    this.chain = backend.chain;
    this.description = backend.chain === '' ? backend.description : `${backend.description} (chain ${backend.chain})`;
    const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    if (!Number.isInteger(every) || every < 1) {
      throw new AuditError(
        'audit_store_options_invalid',
        `checkpointEvery must be a positive integer, got ${String(every)}`,
      );
    }
    this.checkpointEvery = every;
    this.maxBatch = Math.max(1, options.maxBatch ?? 256);
    this.signingKey = options.signingKey === undefined ? undefined : loadPrivateKey(options.signingKey);
    this.redact = options.redact;
    this.readOnly = options.readOnly ?? false;
  }

  claim(key: string): Promise<boolean> {
    if (this.readOnly) {
      return Promise.reject(
        new AuditError('audit_store_read_only', `the audit store ${this.description} was opened read-only`),
      );
    }
    return this.backend.claim(key, new Date().toISOString());
  }

  onAppended(listener: (record: AuditRecord) => void): () => void {
    return this.appended.add(listener);
  }

  append(event: AuditEvent): Promise<AuditRecord> {
    return this.appendAll([event]).then((records) => records[0] as AuditRecord);
  }

  appendAll(events: AuditEvent[]): Promise<AuditRecord[]> {
    if (this.readOnly) {
      return Promise.reject(
        new AuditError('audit_store_read_only', `the audit store ${this.description} was opened read-only`),
      );
    }
    if (this.closing) {
      return Promise.reject(
        new AuditError(
          'audit_store_unavailable',
          `the audit store ${this.description} is closed; nothing can be recorded after close()`,
        ),
      );
    }
    let prepared: Prepared[];
    try {
      prepared = events.map((event) => this.prepare(event));
    } catch (err) {
      return Promise.reject(err);
    }
    const stored = prepared.map(
      (event, i) =>
        new Promise<AuditRecord>((resolve, reject) => {
          this.queue.push({ event, resolve, reject, ...(i > 0 ? { joined: true as const } : {}) });
        }),
    );
    // Appends made in the same tick share one transaction (and one fsync): group commit.
    this.draining ??= Promise.resolve().then(() => this.drain());
    return Promise.all(stored);
  }

  private prepare(event: AuditEvent): Prepared {
    if (!event || typeof event !== 'object')
      throw new AuditError('audit_event_invalid', 'an audit event must be an object {type, session_id, data}');
    if (typeof event.type !== 'string' || (event.type as string) === '')
      throw new AuditError('audit_event_invalid', 'audit event "type" must be a non-empty string');
    if (typeof event.session_id !== 'string') {
      throw new AuditError('audit_event_invalid', `audit event "${event.type}": session_id must be a string`);
    }
    if (!event.data || typeof event.data !== 'object' || Array.isArray(event.data)) {
      throw new AuditError('audit_event_invalid', `audit event "${event.type}": data must be an object`);
    }
    // The model's data interfaces are plain JSON objects; the redactor walks them as such.
    const data = event.data as unknown as Record<string, unknown>;
    const source = this.redact ? this.redact(data) : data;
    const { value, text } = toCanonicalJson(source);
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new AuditError('audit_event_invalid', `audit event "${event.type}": the redactor must return an object`);
    }
    const at = event.at === undefined ? new Date().toISOString() : normalizeTime(event.at);
    return {
      type: event.type,
      session_id: event.session_id,
      at,
      data: value as Record<string, unknown>,
      dataText: text,
    };
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // A batch ends at maxBatch, but never inside the events of one appendAll.
        let size = Math.min(this.maxBatch, this.queue.length);
        while (this.queue[size]?.joined) size++;
        const batch = this.queue.splice(0, size);
        let records: AuditRecord[] = [];
        try {
          await this.backend.commit((head) => {
            records = [];
            const rows: RowToWrite[] = [];
            const checkpoints: Checkpoint[] = [];
            let prev = head;
            for (const { event } of batch) {
              const seq = prev.seq + 1;
              const fields = {
                ...(this.chain === '' ? {} : { chain: this.chain }),
                seq,
                at: event.at,
                type: event.type,
                session_id: event.session_id,
                data: event.data,
                prev_hash: prev.hash,
              };
              const hash = hashRecord(fields, event.dataText);
              rows.push({ ...fields, data: event.dataText, hash });
              records.push({ ...fields, hash });
              if (seq % this.checkpointEvery === 0) checkpoints.push(this.makeCheckpoint({ seq, hash }));
              prev = { seq, hash };
            }
            return { rows, checkpoints, head: prev };
          });
        } catch (err) {
          const wrapped =
            err instanceof AuditError
              ? err
              : new AuditError(
                  'audit_store_unavailable',
                  `could not write to the audit store ${this.description}: ${describeError(err)}; check that it is reachable, writable and not full`,
                  { cause: err },
                );
          for (const pending of batch) pending.reject(wrapped);
          continue;
        }
        batch.forEach((pending, i) => pending.resolve(records[i] as AuditRecord));
        // A listener's failure is its own: the record is stored either way.
        for (const record of records) this.appended.emit(record as AuditRecord);
      }
    } finally {
      this.draining = null;
    }
  }

  private makeCheckpoint(point: ChainPoint, kind: CheckpointKind = 'checkpoint'): Checkpoint {
    const at = new Date().toISOString();
    return this.signingKey
      ? signCheckpoint({ ...point, at }, this.signingKey, kind)
      : { seq: point.seq, hash: point.hash, at, key_id: null, signature: null };
  }

  async read(query: AuditQuery = {}): Promise<AuditRecord[]> {
    const q = { ...query };
    if (q.since !== undefined) q.since = normalizeTime(q.since, 'since');
    if (q.until !== undefined) q.until = normalizeTime(q.until, 'until');
    const rows = await this.guard('read', () => this.backend.read(q));
    return rows.map(rowToRecord);
  }

  chains(): Promise<ChainHead[]> {
    return this.guard('list the chains of', () => this.backend.chains());
  }

  forChain(chain: string): ChainStore {
    if (chain === this.chain && this.readOnly) return this;
    return new ChainedStore(this.backend.forChain(checkChainName(chain)), { ...this.options, readOnly: true });
  }

  async head(): Promise<ChainPoint | null> {
    const { head } = await this.state();
    return head.seq === 0 ? null : head;
  }

  state(): Promise<ChainState> {
    return this.guard('read the state of', () => this.backend.state());
  }

  checkpoints(): Promise<Checkpoint[]> {
    return this.guard('read checkpoints from', () => this.backend.checkpoints());
  }

  bases(): Promise<Checkpoint[]> {
    return this.guard('read base checkpoints from', () => this.backend.bases());
  }

  scan(afterSeq: number, limit: number): Promise<StoredRow[]> {
    return this.guard('read', () => this.backend.scan(afterSeq, limit));
  }

  async checkpoint(): Promise<Checkpoint | null> {
    if (this.readOnly)
      throw new AuditError('audit_store_read_only', `the audit store ${this.description} was opened read-only`);
    await this.settle();
    return this.guard('write a checkpoint to', () =>
      this.backend.addCheckpoint((head) => (head.seq === 0 ? null : this.makeCheckpoint(head))),
    );
  }

  ties(): Promise<Tie[]> {
    return this.guard('read ties from', () => this.backend.ties());
  }

  async tie(): Promise<Tie> {
    if (this.readOnly)
      throw new AuditError('audit_store_read_only', `the audit store ${this.description} was opened read-only`);
    await this.settle();
    return this.writeTie();
  }

  private writeTie(): Promise<Tie> {
    return this.guard('write a tie to', () =>
      this.backend.addTie((chains) => {
        const heads = chains.map(({ chain, head }) => ({ chain, seq: head.seq, hash: head.hash }));
        return signTie({ by: this.chain, at: new Date().toISOString(), heads }, this.signingKey);
      }),
    );
  }

  dropPrefix(through: ChainPoint, expectedBase: ChainPoint): Promise<number> {
    if (this.readOnly)
      return Promise.reject(
        new AuditError('audit_store_read_only', `the audit store ${this.description} was opened read-only`),
      );
    // Signed when there is a key: it lets the store alone, without its archives, prove its base.
    const base = this.makeCheckpoint(through, 'base');
    return this.guard('archive records from', () => this.backend.dropPrefix(through, expectedBase, base));
  }

  /** Waits until every append accepted so far has settled. */
  private async settle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.settle();
        if (!this.readOnly)
          await this.backend.addCheckpoint((head) => (head.seq === 0 ? null : this.makeCheckpoint(head)));
        // A replica's own chain ends with a tie, so that the others' chains vouch for its last head.
        if (!this.readOnly && this.chain !== '') await this.writeTie();
      } finally {
        await this.backend.close();
      }
    })();
    return this.closing;
  }

  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AuditError) throw err;
      throw new AuditError(
        'audit_store_unavailable',
        `could not ${what} the audit store ${this.description}: ${describeError(err)}`,
        { cause: err },
      );
    }
  }
}
