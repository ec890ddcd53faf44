import type { KeyObject } from 'node:crypto';
import { AuditError, describeError } from '../common/index.js';
import { readArchive, type ArchiveHeader } from './archive-file.js';
import { GENESIS_HASH, canonicalText, hashRecord } from './hash.js';
import { checkpointSignatureValid, keyId, loadPublicKey } from './signing.js';
import type { AuditRecord, ChainPoint, ChainStore, Checkpoint, StoredRow } from './types.js';

/** What is wrong with the first bad record. */
export type TamperKind = 'altered' | 'deleted' | 'inserted' | 'reordered' | 'truncated';

export type VerifyResult =
  | {
      ok: true;
      /** Records checked (archives and live store together). */
      count: number;
      /** First and last seq checked (null when there was nothing to check). */
      first_seq: number | null;
      last_seq: number | null;
      /** Checkpoints matched against records, and how many of them carried a valid signature. */
      checkpoints: number;
      signed_checkpoints: number;
    }
  | {
      ok: false;
      /** The first bad record (for `deleted` and `truncated`: the first missing seq). */
      seq: number;
      problem: TamperKind;
      detail: string;
      /** Where it was found: an archive file or the store description. */
      source: string;
    };

export interface VerifyOptions {
  /** Archive files written by {@link archiveBefore}, in any order; checked before the live store. */
  archives?: string[];
  /** Ed25519 public key (PEM or KeyObject): every checkpoint must then carry a valid signature. */
  publicKey?: string | KeyObject;
  /** For a plain list of records: where the chain starts (default: seq 0, 64 zeros). */
  start?: ChainPoint;
  /** For a plain list of records: checkpoints to hold them to. */
  checkpoints?: Checkpoint[];
  /** Rows fetched per query from a store (default 1000). */
  pageSize?: number;
  /** Called every 500 verified records with the seq reached (a CLI's progress bar). */
  onProgress?: (seq: number) => void;
}

type Source = ChainStore | Iterable<AuditRecord | StoredRow> | AsyncIterable<AuditRecord | StoredRow> | null;

interface Parsed {
  seq: number | null;
  /** Set when the row cannot be hashed at all. */
  malformed?: string;
  at: string;
  type: string;
  session_id: string;
  dataText: string;
  prev_hash: string;
  hash: string;
  ownHashOk?: boolean;
}

class Failure extends Error {
  constructor(
    readonly seq: number,
    readonly problem: TamperKind,
    readonly detail: string,
    readonly source: string,
  ) {
    super(detail);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

function parseSeq(value: unknown): number | null {
  const n = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
}

function parseRow(row: AuditRecord | StoredRow): Parsed {
  const seq = parseSeq(row.seq);
  const base = {
    seq,
    at: typeof row.at === 'string' ? row.at : '',
    type: typeof row.type === 'string' ? row.type : '',
    session_id: typeof row.session_id === 'string' ? row.session_id : '',
    dataText: '',
    prev_hash: typeof row.prev_hash === 'string' ? row.prev_hash : '',
    hash: typeof row.hash === 'string' ? row.hash : '',
  };
  const bad = (why: string): Parsed => ({ ...base, malformed: why });
  if (seq === null) return bad(`its seq ${JSON.stringify(row.seq)} is not a positive integer`);
  for (const key of ['at', 'type', 'session_id', 'prev_hash', 'hash'] as const) {
    if (typeof row[key] !== 'string') return bad(`its ${key} is not a string`);
  }
  if (!HEX64.test(base.hash)) return bad('its hash is not 64 lowercase hex digits');
  if (!HEX64.test(base.prev_hash)) return bad('its prev_hash is not 64 lowercase hex digits');
  try {
    const data = typeof row.data === 'string' ? JSON.parse(row.data) : row.data;
    if (!data || typeof data !== 'object' || Array.isArray(data)) return bad('its data is not a JSON object');
    return { ...base, dataText: canonicalText(data) };
  } catch (err) {
    return bad(`its data is not valid JSON (${describeError(err)})`);
  }
}

function hashAs(r: Parsed, seq: number): boolean {
  if (r.malformed) return false;
  const ok = hashRecord({ seq, at: r.at, type: r.type, session_id: r.session_id, data: null, prev_hash: r.prev_hash }, r.dataText) === r.hash;
  return ok;
}

function ownHashOk(r: Parsed): boolean {
  r.ownHashOk ??= r.seq !== null && hashAs(r, r.seq);
  return r.ownHashOk;
}

/** An async iterator with a look-ahead buffer, used to tell a swap from a deletion and so on. */
class Lookahead {
  private readonly buffer: Parsed[] = [];
  private done = false;
  constructor(private readonly it: AsyncIterator<AuditRecord | StoredRow>) {}

  private async fill(n: number): Promise<void> {
    while (!this.done && this.buffer.length < n) {
      const next = await this.it.next();
      if (next.done) this.done = true;
      else this.buffer.push(parseRow(next.value));
    }
  }

  async next(): Promise<Parsed | undefined> {
    await this.fill(1);
    return this.buffer.shift();
  }

  async peek(n: number): Promise<Parsed[]> {
    await this.fill(n);
    return this.buffer.slice(0, n);
  }
}

/** Walks records in order, holding each to the previous one's hash and to the checkpoints. */
class Walker {
  prev: ChainPoint;
  prevprev: string | null = null;
  count = 0;
  first: number | null = null;
  checked = 0;
  signed = 0;
  private readonly cps = new Map<number, Checkpoint>();
  private readonly done = new Set<number>();

  constructor(
    start: ChainPoint,
    private readonly publicKey: KeyObject | undefined,
    private readonly onProgress?: (seq: number) => void,
  ) {
    this.prev = start;
  }

  addCheckpoints(cps: Checkpoint[], source: string): void {
    for (const cp of cps) {
      const seq = parseSeq(cp.seq);
      if (seq === null) throw new Failure(this.prev.seq + 1, 'altered', `a checkpoint has an invalid seq ${JSON.stringify(cp.seq)}`, source);
      this.cps.set(seq, { ...cp, seq });
    }
  }

  /** Checkpoints that lie beyond `seq` (they prove records that are no longer there). */
  beyond(seq: number): Checkpoint[] {
    return [...this.cps.values()].filter((cp) => cp.seq > seq).sort((a, b) => a.seq - b.seq);
  }

  checkSignature(cp: Checkpoint, source: string): void {
    if (!this.publicKey) return;
    if (!checkpointSignatureValid(cp, this.publicKey)) {
      const why = !cp.signature ? 'is not signed' : cp.key_id && cp.key_id !== keyId(this.publicKey) ? `was signed by another key (${cp.key_id})` : 'has an invalid signature';
      throw new Failure(cp.seq, 'altered', `checkpoint at seq ${cp.seq} ${why}: the checkpoints were tampered with`, source);
    }
  }

  /** Compares a record hash with the checkpoint at its seq, if any. */
  checkpointAt(seq: number, hash: string, source: string): void {
    const cp = this.cps.get(seq);
    if (!cp) return;
    this.checkSignature(cp, source);
    if (cp.hash !== hash) {
      throw new Failure(
        seq,
        'altered',
        `checkpoint at seq ${seq} (${cp.at}) records hash ${cp.hash.slice(0, 12)}… but the record's hash is ${hash.slice(0, 12)}…: ` +
          `records up to ${seq} were rewritten and the chain recomputed`,
        source,
      );
    }
    this.checked += 1;
    if (cp.signature && this.publicKey) this.signed += 1;
    this.cps.delete(seq);
    this.done.add(seq);
  }

  /** Whether a checkpoint for `seq` was already loaded or checked. */
  known(seq: number): boolean {
    return this.cps.has(seq) || this.done.has(seq);
  }

  private accept(r: Parsed, source: string): void {
    const seq = r.seq as number;
    this.checkpointAt(seq, r.hash, source);
    this.prevprev = this.prev.hash;
    this.prev = { seq, hash: r.hash };
    this.first ??= seq;
    this.count += 1;
    if (this.onProgress && this.count % 500 === 0) this.onProgress(seq);
  }

  /**
   * Checks every record from `rows`. `skip` holds hashes of records already checked elsewhere (an
   * archive overlapping the store after an interrupted archiving run): those must match and are
   * not counted twice.
   */
  async walk(rows: AsyncIterator<AuditRecord | StoredRow>, source: string, skip?: Map<number, string>): Promise<void> {
    const look = new Lookahead(rows);
    for (let r = await look.next(); r; r = await look.next()) {
      if (skip && r.seq !== null && skip.has(r.seq)) {
        if (skip.get(r.seq) !== r.hash) {
          throw new Failure(r.seq, 'altered', `record ${r.seq} differs between the archive and the store`, source);
        }
        continue;
      }
      const e = this.prev.seq + 1;
      const p = this.prev.hash;
      if (r.malformed) throw new Failure(r.seq ?? e, 'altered', `record ${r.seq ?? `after ${this.prev.seq}`} is malformed: ${r.malformed}`, source);
      if (r.seq === e && r.prev_hash === p && ownHashOk(r)) {
        this.accept(r, source);
        continue;
      }
      await this.diagnose(r, look, source);
    }
  }

  /** Names what went wrong at `r`, the first record that does not fit. Always throws. */
  private async diagnose(r: Parsed, look: Lookahead, source: string): Promise<never> {
    const e = this.prev.seq + 1;
    const p = this.prev.hash;
    const seq = r.seq as number;
    if (seq < e) {
      if (seq === this.prev.seq) throw new Failure(seq, 'inserted', `two records carry seq ${seq}`, source);
      throw new Failure(seq, 'reordered', `record ${seq} appears after record ${this.prev.seq}`, source);
    }
    if (seq > e) {
      const window = await look.peek(16);
      if (window.some((w) => w.seq === e)) {
        throw new Failure(e, 'reordered', `record ${e} appears after record ${seq}`, source);
      }
      const span = seq - e === 1 ? `record ${e} is` : `records ${e}..${seq - 1} are`;
      throw new Failure(e, 'deleted', `${span} missing (record ${seq} follows record ${this.prev.seq})`, source);
    }
    const [n] = await look.peek(1);
    if (!ownHashOk(r)) {
      if (hashAs(r, e + 1)) {
        // r holds the content of record e+1.
        if (n && n.seq === e + 1 && hashAs(n, e) && n.prev_hash === p) {
          throw new Failure(e, 'reordered', `records ${e} and ${e + 1} were swapped`, source);
        }
        if (r.prev_hash !== p) {
          throw new Failure(e, 'deleted', `record ${e} is missing and the records after it were renumbered`, source);
        }
      }
      if (this.prevprev !== null && hashAs(r, e - 1) && r.prev_hash === this.prevprev) {
        throw new Failure(
          e - 1,
          'inserted',
          `record ${e - 1} was inserted: the record now numbered ${e} is the original ${e - 1}, renumbered`,
          source,
        );
      }
      if (n && n.seq === e + 1 && hashAs(n, e) && n.prev_hash === p) {
        throw new Failure(e, 'inserted', `record ${e} was inserted (the records after it were renumbered)`, source);
      }
      throw new Failure(e, 'altered', `record ${e}'s content does not match its hash (a field was changed)`, source);
    }
    // r is self-consistent but does not link to its predecessor.
    if (n && n.seq === e + 1 && hashAs(n, e) && n.prev_hash === p) {
      throw new Failure(e, 'inserted', `record ${e} was inserted (the records after it were renumbered)`, source);
    }
    if (this.count === 0 || this.prev.seq === 0) {
      throw new Failure(e, 'altered', `record ${e}'s prev_hash does not continue the chain from seq ${this.prev.seq} (${p.slice(0, 12)}…)`, source);
    }
    throw new Failure(
      this.prev.seq,
      'altered',
      `record ${this.prev.seq} was changed and its hash recomputed: record ${e}'s prev_hash no longer matches it`,
      source,
    );
  }
}

async function* fromIterable(items: Iterable<AuditRecord | StoredRow> | AsyncIterable<AuditRecord | StoredRow>): AsyncGenerator<AuditRecord | StoredRow> {
  for await (const item of items as AsyncIterable<AuditRecord | StoredRow>) yield item;
}

async function* scanStore(store: ChainStore, afterSeq: number, pageSize: number, seen: { last: number }): AsyncGenerator<StoredRow> {
  let after = afterSeq;
  for (;;) {
    const page = await store.scan(after, pageSize);
    for (const row of page) {
      const seq = parseSeq(row.seq);
      if (seq !== null) {
        after = Math.max(after, seq);
        seen.last = Math.max(seen.last, seq);
      }
      yield row;
    }
    if (page.length < pageSize) return;
  }
}

function isStore(source: Source): source is ChainStore {
  return !!source && typeof (source as ChainStore).scan === 'function' && typeof (source as ChainStore).state === 'function';
}

async function verifyArchive(walker: Walker, file: string, header: ArchiveHeader, rows: AsyncIterable<AuditRecord>, skip: Map<number, string> | null): Promise<void> {
  if (walker.prev.seq !== header.from_seq - 1) {
    if (walker.prev.seq < header.from_seq - 1) {
      throw new Failure(walker.prev.seq + 1, 'deleted', `records ${walker.prev.seq + 1}..${header.from_seq - 1} are in no archive given`, file);
    }
    throw new Failure(header.from_seq, 'inserted', `archive starts at seq ${header.from_seq}, which an earlier archive already holds`, file);
  }
  if (walker.prev.hash !== header.prev_hash) {
    throw new Failure(header.from_seq, 'altered', `archive's prev_hash does not continue the chain at seq ${walker.prev.seq}`, file);
  }
  walker.addCheckpoints(header.checkpoints, file);
  const hashes = skip;
  async function* track(): AsyncGenerator<AuditRecord> {
    for await (const row of rows) {
      if (hashes && typeof row.seq === 'number' && typeof row.hash === 'string') hashes.set(row.seq, row.hash);
      yield row;
    }
  }
  await walker.walk(track(), file);
  if (walker.prev.seq < header.to_seq) {
    throw new Failure(walker.prev.seq + 1, 'truncated', `archive says it ends at seq ${header.to_seq} but its records stop at ${walker.prev.seq}`, file);
  }
  if (walker.prev.seq > header.to_seq) {
    throw new Failure(header.to_seq + 1, 'inserted', `archive says it ends at seq ${header.to_seq} but holds records up to ${walker.prev.seq}`, file);
  }
  if (walker.prev.hash !== header.last_hash) {
    throw new Failure(header.to_seq, 'altered', `archive's last_hash does not match its record ${header.to_seq}`, file);
  }
  const left = walker.beyond(0).filter((cp) => cp.seq <= header.to_seq);
  if (left.length > 0) {
    throw new Failure(left[0]!.seq, 'deleted', `archive holds a checkpoint for seq ${left[0]!.seq} but no such record`, file);
  }
}

/**
 * Checks a hash chain end to end and names the first bad record. `source` is a store from
 * {@link openAuditStore}, a list of records, or null when only `options.archives` are checked.
 * For a store it also checks that the records reach the store's recorded head and every
 * checkpoint (so a cut-off tail is caught), and that archives and the store join up.
 *
 * @example
 * ```ts
 * const result = await verifyChain(store, { archives: ['archive/audit-1-5000.jsonl'] });
 * if (!result.ok) console.error(`record ${result.seq}: ${result.problem} (${result.detail})`);
 * ```
 */
export async function verifyChain(source: Source, options: VerifyOptions = {}): Promise<VerifyResult> {
  const publicKey = options.publicKey === undefined ? undefined : loadPublicKey(options.publicKey);
  const pageSize = options.pageSize ?? 1000;
  const walker = new Walker(options.start ?? { seq: 0, hash: GENESIS_HASH }, publicKey, options.onProgress);
  let where = 'records';
  try {
    const store = isStore(source) ? source : null;
    const initial = store ? await store.state() : null;

    const archives = await Promise.all((options.archives ?? []).map(async (file) => ({ file, ...(await readArchive(file)) })));
    archives.sort((a, b) => a.header.from_seq - b.header.from_seq);
    let overlap: Map<number, string> | null = null;
    for (const [i, archive] of archives.entries()) {
      where = archive.file;
      // Only the last archive can overlap the store (archiving stopped between writing and deleting).
      const last = i === archives.length - 1;
      overlap = last && initial && initial.base.seq < archive.header.to_seq ? new Map() : null;
      await verifyArchive(walker, archive.file, archive.header, archive.records(), overlap);
    }

    if (store && initial) {
      where = store.description;
      walker.addCheckpoints(await store.checkpoints(), where);
      if (archives.length === 0) {
        walker.prev = { ...initial.base };
      } else if (initial.base.seq > walker.prev.seq) {
        throw new Failure(walker.prev.seq + 1, 'deleted', `records ${walker.prev.seq + 1}..${initial.base.seq} were archived to a file not given`, where);
      } else if (initial.base.seq === walker.prev.seq && initial.base.hash !== walker.prev.hash) {
        throw new Failure(initial.base.seq, 'altered', `the store's base hash for seq ${initial.base.seq} differs from the archive's`, where);
      }
      const seen = { last: walker.prev.seq };
      const startAfter = Math.min(initial.base.seq, walker.prev.seq);
      await walker.walk(scanStore(store, startAfter, pageSize, seen), where, overlap ?? undefined);
      // Appends may land while we scan; follow them until the recorded head is reached.
      let state = await store.state();
      while (state.head.seq > walker.prev.seq) {
        const before = walker.prev.seq;
        await walker.walk(scanStore(store, Math.max(walker.prev.seq, seen.last), pageSize, seen), where);
        if (walker.prev.seq === before) break;
        state = await store.state();
      }
      // Checkpoints written while we scanned: hold the records they cover to them too.
      for (const cp of await store.checkpoints()) {
        const seq = parseSeq(cp.seq);
        if (seq === null || walker.known(seq)) continue;
        walker.addCheckpoints([cp], where);
        if (seq <= walker.prev.seq && seq > state.base.seq) {
          const [row] = await store.scan(seq - 1, 1);
          if (row && parseSeq(row.seq) === seq) walker.checkpointAt(seq, String(row.hash), where);
        }
      }
      const last = walker.prev;
      if (state.head.seq > last.seq) {
        throw new Failure(last.seq + 1, 'truncated', `the store's head is seq ${state.head.seq} but its records end at ${last.seq}`, where);
      }
      if (state.head.seq < last.seq) {
        throw new Failure(state.head.seq + 1, 'inserted', `records after seq ${state.head.seq} (the head Warden recorded) were added outside Warden`, where);
      }
      if (state.head.hash !== last.hash) {
        throw new Failure(last.seq, 'altered', `record ${last.seq}'s hash differs from the head Warden recorded`, where);
      }
    } else if (source) {
      if (options.checkpoints) walker.addCheckpoints(options.checkpoints, where);
      await walker.walk(fromIterable(source as Iterable<AuditRecord>), where);
    }
    const beyond = walker.beyond(walker.prev.seq);
    if (beyond.length > 0) {
      const cp = beyond[0]!;
      walker.checkSignature(cp, where);
      throw new Failure(walker.prev.seq + 1, 'truncated', `a checkpoint at seq ${cp.seq} (${cp.at}) proves records the store no longer has: they end at ${walker.prev.seq}`, where);
    }
    return {
      ok: true,
      count: walker.count,
      first_seq: walker.first,
      last_seq: walker.count > 0 ? walker.prev.seq : null,
      checkpoints: walker.checked,
      signed_checkpoints: walker.signed,
    };
  } catch (err) {
    if (err instanceof Failure) return { ok: false, seq: err.seq, problem: err.problem, detail: err.detail, source: err.source };
    if (err instanceof AuditError) throw err;
    throw new AuditError('audit_verify_failed', `could not verify ${where}: ${describeError(err)}`, { cause: err });
  }
}
