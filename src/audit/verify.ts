import type { KeyObject } from 'node:crypto';
import { AuditError, describeError } from '../common/index.js';
import { readArchive, recordLine, type ArchiveEntry, type ArchiveHeader } from './archive-file.js';
import { DEFAULT_CHECKPOINT_EVERY } from './chain-store.js';
import { GENESIS_HASH, canonicalText, hashRecord } from './hash.js';
import { checkpointSignatureValid, keyId, loadPublicKey, type CheckpointKind } from './signing.js';
import type { AuditRecord, ChainPoint, ChainStore, Checkpoint, StoredRow } from './types.js';

/**
 * What is wrong with the first bad record. `unsigned` (only with a public key): records that no
 * valid signature covers, beyond what a signing writer leaves between two checkpoints.
 */
export type TamperKind = 'altered' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'unsigned';

/**
 * Why the point the checked records continue is genuine: it is the start of the chain (`genesis`:
 * seq 0, 64 zeros; archives given lead back to it), a validly signed base checkpoint
 * (`signature`), or the caller's `start` option (`caller`).
 */
export type BaseAttestation = 'genesis' | 'signature' | 'caller';

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
      /**
       * With a public key: the highest seq a valid signature covers (a signed checkpoint or base
       * checkpoint); records after it, fewer than `checkpointEvery`, are not covered yet. Null
       * without a key.
       */
      signed_through: number | null;
      /** The point the checked records continue (seq 0 for the first record ever), and what vouches for it. */
      base: { seq: number; attested_by: BaseAttestation };
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
  /**
   * Ed25519 public key (PEM or KeyObject). Every checkpoint must then carry a valid signature, at
   * least one must cover the chain, and at most `checkpointEvery - 1` records may follow the last
   * one (a moved base needs its archives or a signed base checkpoint in any case).
   */
  publicKey?: string | KeyObject;
  /** The writer's `checkpointEvery` (default 1000): how many records may follow the last signed checkpoint. */
  checkpointEvery?: number;
  /** For a plain list of records: where the chain starts (default: seq 0, 64 zeros). Trusted as given. */
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
  /** The chain the row is on (`''`: the shared chain); its name is part of the hash. */
  chain: string;
  seq: number | null;
  /** Set when the row cannot be trusted as stored: what is wrong, as the rest of "record N…". */
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

const KIND_NAME: Record<CheckpointKind, string> = { checkpoint: 'checkpoint', base: 'base checkpoint' };

function parseSeq(value: unknown): number | null {
  const n = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * The first key that appears twice in one object of `text` (valid JSON), or null. Iterative, so
 * deep nesting cannot overflow the stack.
 */
function firstDuplicateKey(text: string): string | null {
  const objects: (Set<string> | null)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const token = text.slice(i, end + 1);
      i = end + 1;
      let next = i;
      while (next < text.length && ' \t\n\r'.includes(text[next]!)) next += 1;
      const keys = objects[objects.length - 1];
      if (keys && text[next] === ':') {
        const key = JSON.parse(token) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      continue;
    }
    if (c === '{') objects.push(new Set());
    else if (c === '[') objects.push(null);
    else if (c === '}' || c === ']') objects.pop();
    i += 1;
  }
  return null;
}

/** Why `text` is not byte for byte `expected` (the form Warden writes), as the rest of "record N…". */
function notCanonical(what: string, text: string, expected: string, form: string): string {
  const edited = 'Warden never writes that, the record was edited outside it';
  const dup = firstDuplicateKey(text);
  if (dup !== null) {
    return (
      `${what} is not ${form}: the key ${JSON.stringify(dup)} appears twice in one object, ` +
      `so readers disagree on its value (JSON.parse takes the last, SQLite's json_extract the first); ${edited}`
    );
  }
  let at = 0;
  while (at < text.length && at < expected.length && text[at] === expected[at]) at += 1;
  const around = (t: string): string => JSON.stringify(t.slice(Math.max(0, at - 16), at + 16));
  return (
    `${what} is not ${form}: it differs from character ${at} on ` +
    `(stored ${around(text)}, expected ${around(expected)}: ` +
    `other key order, whitespace or spelling of a value); ${edited}`
  );
}

/**
 * Parses one row. `line` is the exact text of an archive line. Stored `data` text must be exactly
 * its RFC 8785 form and an archive line exactly {@link recordLine}: then every reader of the bytes
 * (JSON.parse, json_extract, jq, …) sees the values that were hashed.
 */
function parseRow(row: AuditRecord | StoredRow, line?: string): Parsed {
  const seq = parseSeq(row.seq);
  const base = {
    chain: typeof row.chain === 'string' ? row.chain : '',
    seq,
    at: typeof row.at === 'string' ? row.at : '',
    type: typeof row.type === 'string' ? row.type : '',
    session_id: typeof row.session_id === 'string' ? row.session_id : '',
    dataText: '',
    prev_hash: typeof row.prev_hash === 'string' ? row.prev_hash : '',
    hash: typeof row.hash === 'string' ? row.hash : '',
  };
  const bad = (why: string): Parsed => ({ ...base, malformed: ` is malformed: ${why}` });
  if (seq === null) return bad(`its seq ${JSON.stringify(row.seq)} is not a positive integer`);
  for (const key of ['at', 'type', 'session_id', 'prev_hash', 'hash'] as const) {
    if (typeof row[key] !== 'string') return bad(`its ${key} is not a string`);
  }
  if (!HEX64.test(base.hash)) return bad('its hash is not 64 lowercase hex digits');
  if (!HEX64.test(base.prev_hash)) return bad('its prev_hash is not 64 lowercase hex digits');
  let data: unknown;
  let dataText: string;
  try {
    data = typeof row.data === 'string' ? JSON.parse(row.data) : row.data;
    if (!data || typeof data !== 'object' || Array.isArray(data)) return bad('its data is not a JSON object');
    dataText = canonicalText(data);
  } catch (err) {
    return bad(`its data is not valid JSON (${describeError(err)})`);
  }
  if (typeof row.data === 'string' && row.data !== dataText) {
    const form = 'its canonical JSON text (RFC 8785)';
    return { ...base, malformed: notCanonical("'s stored data", row.data, dataText, form) };
  }
  if (line !== undefined) {
    const expected = recordLine({
      ...(base.chain ? { chain: base.chain } : {}),
      seq,
      at: base.at,
      type: base.type as AuditRecord['type'],
      session_id: base.session_id,
      data: JSON.parse(dataText) as Record<string, unknown>,
      prev_hash: base.prev_hash,
      hash: base.hash,
    });
    if (line !== expected) {
      return { ...base, malformed: notCanonical("'s archive line", line, expected, 'in the form Warden writes') };
    }
  }
  return { ...base, dataText };
}

async function* parsedRows(rows: AsyncIterable<AuditRecord | StoredRow>): AsyncGenerator<Parsed> {
  for await (const row of rows) yield parseRow(row);
}

async function* parsedEntries(
  entries: AsyncIterable<ArchiveEntry>,
  seen?: Map<number, string>,
): AsyncGenerator<Parsed> {
  for await (const { line, record, parsed } of entries) {
    const r = parseRow(record, parsed ? line : undefined);
    if (seen && r.seq !== null) seen.set(r.seq, r.hash);
    yield r;
  }
}

function hashAs(r: Parsed, seq: number): boolean {
  if (r.malformed) return false;
  const ok =
    hashRecord(
      { chain: r.chain, seq, at: r.at, type: r.type, session_id: r.session_id, data: null, prev_hash: r.prev_hash },
      r.dataText,
    ) === r.hash;
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
  constructor(private readonly it: AsyncIterator<Parsed>) {}

  private async fill(n: number): Promise<void> {
    while (!this.done && this.buffer.length < n) {
      const next = await this.it.next();
      if (next.done) this.done = true;
      else this.buffer.push(next.value);
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
  /** Highest seq a valid signature covers (with a public key). */
  signedThrough: number | null = null;
  private readonly cps = new Map<number, Checkpoint>();
  /** Base checkpoints from the store, held to the records at their seq like checkpoints. */
  private readonly bases = new Map<number, Checkpoint>();
  private readonly done = new Set<number>();

  constructor(
    start: ChainPoint,
    private readonly publicKey: KeyObject | undefined,
    private readonly onProgress?: (seq: number) => void,
  ) {
    this.prev = start;
  }

  addCheckpoints(cps: Checkpoint[], source: string, kind: CheckpointKind = 'checkpoint'): void {
    for (const cp of cps) {
      const seq = parseSeq(cp.seq);
      if (seq === null) {
        const detail = `a ${KIND_NAME[kind]} has an invalid seq ${JSON.stringify(cp.seq)}`;
        throw new Failure(this.prev.seq + 1, 'altered', detail, source);
      }
      (kind === 'base' ? this.bases : this.cps).set(seq, { ...cp, seq });
    }
  }

  /** Checkpoints that lie beyond `seq` (they prove records that are no longer there). */
  beyond(seq: number): Checkpoint[] {
    return [...this.cps.values()].filter((cp) => cp.seq > seq).sort((a, b) => a.seq - b.seq);
  }

  /** The base checkpoint stored for `seq`, if any. */
  baseAt(seq: number): Checkpoint | undefined {
    return this.bases.get(seq);
  }

  checkSignature(cp: Checkpoint, source: string, kind: CheckpointKind = 'checkpoint'): void {
    if (!this.publicKey) return;
    if (!checkpointSignatureValid(cp, this.publicKey, kind)) {
      const why = !cp.signature
        ? 'is not signed: it was added or replaced outside Warden, or its writer had no audit.signingKey'
        : cp.key_id && cp.key_id !== keyId(this.publicKey)
          ? `was signed by another key (${cp.key_id}): check that --public-key belongs to audit.signingKey`
          : 'has an invalid signature: it was changed outside Warden';
      throw new Failure(cp.seq, 'altered', `${KIND_NAME[kind]} at seq ${cp.seq} ${why}`, source);
    }
  }

  /** Counts a valid signature over record `seq` (the caller checked it). */
  private signedAt(seq: number): void {
    if (!this.publicKey) return;
    this.signedThrough = Math.max(this.signedThrough ?? 0, seq);
  }

  /** Takes the store's base as the start, vouched for by its base checkpoint's signature. */
  anchorBase(base: ChainPoint, cp: Checkpoint, source: string): void {
    this.checkSignature(cp, source, 'base');
    if (cp.hash !== base.hash) {
      throw new Failure(
        base.seq,
        'altered',
        `the base checkpoint for seq ${base.seq} records hash ${cp.hash.slice(0, 12)}… ` +
          `but the store's base is ${base.hash.slice(0, 12)}…`,
        source,
      );
    }
    this.bases.delete(base.seq);
    this.signedAt(base.seq);
    this.prev = { ...base };
  }

  /** Compares a record hash with the checkpoint (and base checkpoint) at its seq, if any. */
  checkpointAt(seq: number, hash: string, source: string): void {
    const base = this.bases.get(seq);
    if (base) {
      this.checkSignature(base, source, 'base');
      if (base.hash !== hash) {
        throw new Failure(
          seq,
          'altered',
          `the base checkpoint for seq ${seq} (${base.at}) records hash ${base.hash.slice(0, 12)}… ` +
            `but the record's hash is ${hash.slice(0, 12)}…: ` +
            `records up to ${seq} were rewritten and the chain recomputed`,
          source,
        );
      }
      this.bases.delete(seq);
      if (base.signature) this.signedAt(seq);
    }
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
    if (cp.signature && this.publicKey) {
      this.signed += 1;
      this.signedAt(seq);
    }
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
  async walk(rows: AsyncIterator<Parsed>, source: string, skip?: Map<number, string>): Promise<void> {
    const look = new Lookahead(rows);
    for (let r = await look.next(); r; r = await look.next()) {
      const e = this.prev.seq + 1;
      const p = this.prev.hash;
      if (r.malformed) {
        throw new Failure(r.seq ?? e, 'altered', `record ${r.seq ?? `after ${this.prev.seq}`}${r.malformed}`, source);
      }
      if (skip && r.seq !== null && skip.has(r.seq)) {
        if (skip.get(r.seq) !== r.hash) {
          throw new Failure(r.seq, 'altered', `record ${r.seq} differs between the archive and the store`, source);
        }
        continue;
      }
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
      throw new Failure(
        e,
        'altered',
        `record ${e}'s prev_hash does not continue the chain from seq ${this.prev.seq} (${p.slice(0, 12)}…)`,
        source,
      );
    }
    throw new Failure(
      this.prev.seq,
      'altered',
      `record ${this.prev.seq} was changed and its hash recomputed: record ${e}'s prev_hash no longer matches it`,
      source,
    );
  }
}

async function* fromIterable(
  items: Iterable<AuditRecord | StoredRow> | AsyncIterable<AuditRecord | StoredRow>,
): AsyncGenerator<AuditRecord | StoredRow> {
  for await (const item of items as AsyncIterable<AuditRecord | StoredRow>) yield item;
}

async function* scanStore(
  store: ChainStore,
  afterSeq: number,
  pageSize: number,
  seen: { last: number },
): AsyncGenerator<StoredRow> {
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
  return (
    !!source && typeof (source as ChainStore).scan === 'function' && typeof (source as ChainStore).state === 'function'
  );
}

async function verifyArchive(
  walker: Walker,
  file: string,
  header: ArchiveHeader,
  entries: AsyncIterable<ArchiveEntry>,
  skip: Map<number, string> | null,
): Promise<void> {
  if (walker.prev.seq !== header.from_seq - 1) {
    if (walker.prev.seq < header.from_seq - 1) {
      throw new Failure(
        walker.prev.seq + 1,
        'deleted',
        `records ${walker.prev.seq + 1}..${header.from_seq - 1} are in no archive given`,
        file,
      );
    }
    throw new Failure(
      header.from_seq,
      'inserted',
      `archive starts at seq ${header.from_seq}, which an earlier archive already holds`,
      file,
    );
  }
  if (walker.prev.hash !== header.prev_hash) {
    throw new Failure(
      header.from_seq,
      'altered',
      `archive's prev_hash does not continue the chain at seq ${walker.prev.seq}`,
      file,
    );
  }
  walker.addCheckpoints(header.checkpoints, file);
  await walker.walk(parsedEntries(entries, skip ?? undefined), file);
  if (walker.prev.seq < header.to_seq) {
    throw new Failure(
      walker.prev.seq + 1,
      'truncated',
      `archive says it ends at seq ${header.to_seq} but its records stop at ${walker.prev.seq}`,
      file,
    );
  }
  if (walker.prev.seq > header.to_seq) {
    throw new Failure(
      header.to_seq + 1,
      'inserted',
      `archive says it ends at seq ${header.to_seq} but holds records up to ${walker.prev.seq}`,
      file,
    );
  }
  if (walker.prev.hash !== header.last_hash) {
    throw new Failure(header.to_seq, 'altered', `archive's last_hash does not match its record ${header.to_seq}`, file);
  }
  const left = walker.beyond(0).filter((cp) => cp.seq <= header.to_seq);
  if (left.length > 0) {
    throw new Failure(
      left[0]!.seq,
      'deleted',
      `archive holds a checkpoint for seq ${left[0]!.seq} but no such record`,
      file,
    );
  }
}

/**
 * Where the live store's records start when no archive reaches its base: the genesis, or a base
 * moved by archiving, taken only on the word of a validly signed base checkpoint. Anyone who can
 * write to the database can delete the first records and move the base; without the archive or a
 * signature that is indistinguishable from retention.
 */
function storeStart(
  walker: Walker,
  base: ChainPoint,
  publicKey: KeyObject | undefined,
  where: string,
): BaseAttestation {
  if (base.seq === 0) {
    if (base.hash !== GENESIS_HASH) {
      const detail = `the store's base is seq 0 with hash ${base.hash.slice(0, 12)}…, not the genesis (64 zeros)`;
      throw new Failure(1, 'altered', detail, where);
    }
    walker.prev = { ...base };
    return 'genesis';
  }
  const missing = base.seq === 1 ? 'record 1 is' : `records 1..${base.seq} are`;
  const archives =
    'give the archives that hold them (--archive-dir DIR or --archive FILE; ' +
    'retention writes them to audit.retention.archiveDir)';
  const cp = walker.baseAt(base.seq);
  if (!publicKey) {
    const signed = cp?.signature ? ', or check its signed base checkpoint with --public-key' : '';
    throw new Failure(
      1,
      'deleted',
      `${missing} not in the store: its base was moved to seq ${base.seq}, by archiving or by someone deleting them, ` +
        `and nothing given vouches for it. Fix: ${archives}${signed}`,
      where,
    );
  }
  if (!cp?.signature) {
    const why = cp
      ? 'its base checkpoint is not signed: the archiving Warden had no audit.signingKey, ' +
        'or someone deleted the records and wrote it'
      : 'no base checkpoint attests it: a Warden that wrote none archived them, or someone deleted them';
    const detail = `${missing} not in the store: its base was moved to seq ${base.seq} and ${why}. Fix: ${archives}`;
    throw new Failure(1, 'deleted', detail, where);
  }
  walker.anchorBase(base, cp, where);
  return 'signature';
}

/**
 * With a public key: a valid signature must cover the chain, and at most `every - 1` records may
 * follow the last one (a signing writer signs a checkpoint every `every` records and at shutdown).
 */
function requireSignedHead(walker: Walker, every: number, where: string): void {
  const last = walker.prev.seq;
  const through = walker.signedThrough;
  if (last === 0) return; // nothing was ever written: nothing to attest
  const how =
    `A Warden with audit.signingKey signs a checkpoint every checkpointEvery records and at shutdown; if its ` +
    `checkpointEvery is larger than ${every}, verify with that value (--checkpoint-every N, or --config)`;
  if (through === null) {
    const first = walker.first ?? last;
    throw new Failure(
      first,
      'unsigned',
      `no signed checkpoint covers records ${first}..${last}: there is no checkpoint at all, so they were deleted ` +
        `(and the records possibly rewritten), or the writer was not signing (set audit.signingKey). ${how}`,
      where,
    );
  }
  if (last - through >= every) {
    const n = last - through;
    throw new Failure(
      through + 1,
      'unsigned',
      `records ${through + 1}..${last} (${n}) follow the last signed checkpoint (seq ${through}); ` +
        `a signing writer leaves at most ${every - 1} (checkpointEvery ${every}): ` +
        `they were added outside Warden, or the writer stopped signing. ${how}`,
      where,
    );
  }
}

/**
 * Checks a hash chain end to end and names the first bad record. `source` is a store from
 * {@link openAuditStore}, a list of records, or null when only `options.archives` are checked.
 * For a store it also checks that the records reach the store's recorded head and every
 * checkpoint (so a cut-off tail is caught), that archives and the store join up, and that a moved
 * base is vouched for by its archives or a signed base checkpoint. Every stored record's text must
 * be exactly its canonical form. With `publicKey`, a signed checkpoint must lie within
 * `checkpointEvery` records of the head.
 *
 * @example
 * ```ts
 * const result = await verifyChain(store, { archives: ['archive/audit-1-5000.jsonl'], publicKey: pem });
 * if (!result.ok) console.error(`record ${result.seq}: ${result.problem} (${result.detail})`);
 * ```
 */
export async function verifyChain(source: Source, options: VerifyOptions = {}): Promise<VerifyResult> {
  const publicKey = options.publicKey === undefined ? undefined : loadPublicKey(options.publicKey);
  const pageSize = options.pageSize ?? 1000;
  const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  if (!Number.isSafeInteger(every) || every < 1) {
    throw new AuditError(
      'audit_store_options_invalid',
      `checkpointEvery must be a positive integer, got ${String(every)}; pass the writer's audit.checkpointEvery`,
    );
  }
  const start = options.start ?? { seq: 0, hash: GENESIS_HASH };
  const walker = new Walker(start, publicKey, options.onProgress);
  // The caller vouches for its own start point, as a signature would.
  if (options.start && publicKey && start.seq > 0) walker.signedThrough = start.seq;
  let attestedBy: BaseAttestation = options.start ? 'caller' : 'genesis';
  let baseSeq = start.seq;
  let where = 'records';
  try {
    const store = isStore(source) ? source : null;
    const initial = store ? await store.state() : null;
    // Before the archives: a base checkpoint from an earlier archiving run is held to its archived record.
    if (store) {
      const bases = typeof store.bases === 'function' ? await store.bases() : [];
      walker.addCheckpoints(bases, store.description, 'base');
    }

    const archives = await Promise.all(
      (options.archives ?? []).map(async (file) => ({ file, ...(await readArchive(file)) })),
    );
    archives.sort((a, b) => a.header.from_seq - b.header.from_seq);
    let overlap: Map<number, string> | null = null;
    for (const [i, archive] of archives.entries()) {
      where = archive.file;
      // Only the last archive can overlap the store (archiving stopped between writing and deleting).
      const last = i === archives.length - 1;
      overlap = last && initial && initial.base.seq < archive.header.to_seq ? new Map() : null;
      await verifyArchive(walker, archive.file, archive.header, archive.entries(), overlap);
    }

    if (store && initial) {
      where = store.description;
      walker.addCheckpoints(await store.checkpoints(), where);
      if (archives.length === 0) {
        attestedBy = storeStart(walker, initial.base, publicKey, where);
        baseSeq = initial.base.seq;
      } else if (initial.base.seq > walker.prev.seq) {
        throw new Failure(
          walker.prev.seq + 1,
          'deleted',
          `records ${walker.prev.seq + 1}..${initial.base.seq} were archived to a file not given`,
          where,
        );
      } else if (initial.base.seq === walker.prev.seq && initial.base.hash !== walker.prev.hash) {
        throw new Failure(
          initial.base.seq,
          'altered',
          `the store's base hash for seq ${initial.base.seq} differs from the archive's`,
          where,
        );
      }
      const seen = { last: walker.prev.seq };
      const startAfter = Math.min(initial.base.seq, walker.prev.seq);
      await walker.walk(parsedRows(scanStore(store, startAfter, pageSize, seen)), where, overlap ?? undefined);
      // Appends may land while we scan; follow them until the recorded head is reached.
      let state = await store.state();
      while (state.head.seq > walker.prev.seq) {
        const before = walker.prev.seq;
        await walker.walk(parsedRows(scanStore(store, Math.max(walker.prev.seq, seen.last), pageSize, seen)), where);
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
        throw new Failure(
          last.seq + 1,
          'truncated',
          `the store's head is seq ${state.head.seq} but its records end at ${last.seq}`,
          where,
        );
      }
      if (state.head.seq < last.seq) {
        throw new Failure(
          state.head.seq + 1,
          'inserted',
          `records after seq ${state.head.seq} (the head Warden recorded) were added outside Warden`,
          where,
        );
      }
      if (state.head.hash !== last.hash) {
        throw new Failure(
          last.seq,
          'altered',
          `record ${last.seq}'s hash differs from the head Warden recorded`,
          where,
        );
      }
    } else if (source) {
      if (options.checkpoints) walker.addCheckpoints(options.checkpoints, where);
      await walker.walk(parsedRows(fromIterable(source as Iterable<AuditRecord>)), where);
    }
    const beyond = walker.beyond(walker.prev.seq);
    if (beyond.length > 0) {
      const cp = beyond[0]!;
      walker.checkSignature(cp, where);
      throw new Failure(
        walker.prev.seq + 1,
        'truncated',
        `a checkpoint at seq ${cp.seq} (${cp.at}) proves records the store no longer has: they end at ${walker.prev.seq}`,
        where,
      );
    }
    if (publicKey) requireSignedHead(walker, every, where);
    return {
      ok: true,
      count: walker.count,
      first_seq: walker.first,
      last_seq: walker.count > 0 ? walker.prev.seq : null,
      checkpoints: walker.checked,
      signed_checkpoints: walker.signed,
      signed_through: publicKey ? walker.signedThrough : null,
      base: { seq: baseSeq, attested_by: attestedBy },
    };
  } catch (err) {
    if (err instanceof Failure)
      return { ok: false, seq: err.seq, problem: err.problem, detail: err.detail, source: err.source };
    if (err instanceof AuditError) throw err;
    throw new AuditError('audit_verify_failed', `could not verify ${where}: ${describeError(err)}`, { cause: err });
  }
}
