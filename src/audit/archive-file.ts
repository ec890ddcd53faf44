import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AuditError, describeError } from '../common/index.js';
import { GENESIS_HASH } from './hash.js';
import type { AuditRecord, Checkpoint } from './types.js';

/** First line of an archive file (docs/audit.md, "Archive files"). */
export interface ArchiveHeader {
  warden_audit_archive: 1;
  from_seq: number;
  to_seq: number;
  count: number;
  /** prev_hash of record `from_seq` (the hash of record `from_seq - 1`, or 64 zeros). */
  prev_hash: string;
  /** hash of record `to_seq`: the live store's first record after archiving links to it. */
  last_hash: string;
  created_at: string;
  /** The store the records came from, password removed. */
  source: string;
  /** Checkpoints for seqs in [from_seq, to_seq], moved out of the store with their records. */
  checkpoints: Checkpoint[];
}

/**
 * The one form Warden writes a record line in (archive files, `warden audit export --format
 * jsonl`): `JSON.stringify` of the record with its members in this order and `data` as parsed from
 * its canonical text. The verifier holds every archive line to it byte for byte, so a line with a
 * duplicate key, other whitespace or another member order is reported, not parsed two ways.
 */
export function recordLine(record: AuditRecord): string {
  const { chain, seq, at, type, session_id, data, prev_hash, hash } = record;
  // The chain's name is part of the hash, so a record of a replica's chain carries it (first).
  if (chain) return JSON.stringify({ chain, seq, at, type, session_id, data, prev_hash, hash });
  return JSON.stringify({ seq, at, type, session_id, data, prev_hash, hash });
}

async function* lines(file: string): AsyncGenerator<{ line: string; n: number }> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of rl) {
      n += 1;
      if (line.trim() !== '') yield { line, n };
    }
  } finally {
    rl.close();
  }
}

function validHeader(value: unknown): value is ArchiveHeader {
  const h = value as Partial<ArchiveHeader> | null;
  return (
    !!h &&
    h.warden_audit_archive === 1 &&
    Number.isSafeInteger(h.from_seq) &&
    Number.isSafeInteger(h.to_seq) &&
    typeof h.prev_hash === 'string' &&
    typeof h.last_hash === 'string' &&
    Array.isArray(h.checkpoints)
  );
}

/** One record line of an archive: its exact text, and the record it parses to. */
export interface ArchiveEntry {
  line: string;
  record: AuditRecord;
  /** False when the line is not JSON (then `record` is a filler whose `data` is the line). */
  parsed: boolean;
}

/**
 * Opens an archive file: its header now, its records as a stream. A record line that is not JSON
 * comes through as a row whose `data` is that line, so the verifier reports it as altered.
 * `entries()` also gives each line's exact text, which the verifier holds to the form Warden writes.
 */
export async function readArchive(file: string): Promise<{
  header: ArchiveHeader;
  records: () => AsyncIterable<AuditRecord>;
  entries: () => AsyncIterable<ArchiveEntry>;
}> {
  let header: unknown;
  try {
    for await (const { line } of lines(file)) {
      header = JSON.parse(line);
      break;
    }
  } catch (err) {
    throw new AuditError('audit_archive_invalid', `cannot read the audit archive ${file}: ${describeError(err)}`, {
      cause: err,
    });
  }
  if (!validHeader(header)) {
    throw new AuditError(
      'audit_archive_invalid',
      `${file} is not a Warden audit archive: its first line must be the {"warden_audit_archive":1,…} header (docs/audit.md)`,
    );
  }
  const entries = async function* (): AsyncGenerator<ArchiveEntry> {
    let first = true;
    for await (const { line } of lines(file)) {
      if (first) {
        first = false;
        continue;
      }
      try {
        yield { line, record: JSON.parse(line) as AuditRecord, parsed: true };
      } catch {
        const seq = /"seq"\s*:\s*(\d+)/.exec(line)?.[1];
        const filler = GENESIS_HASH;
        const record = {
          seq: seq === undefined ? null : Number(seq),
          at: '',
          type: '',
          session_id: '',
          data: line,
          prev_hash: filler,
          hash: filler,
        };
        yield { line, record: record as unknown as AuditRecord, parsed: false };
      }
    }
  };
  const records = async function* (): AsyncGenerator<AuditRecord> {
    for await (const entry of entries()) yield entry.record;
  };
  return { header, records, entries };
}
