import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
  mkdirSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { AuditError } from '../common/index.js';
import { recordLine, type ArchiveHeader } from './archive-file.js';
import { rowToRecord } from './chain-store.js';
import { canonicalText, normalizeTime } from './hash.js';
import type { ChainStore } from './types.js';
import { verifyChain } from './verify.js';

/** `audit.retention` in the config. */
export interface RetentionOptions {
  /** Records older than this many days are moved to an archive file. */
  maxAgeDays: number;
  /** Where archive files go (created if missing). */
  archiveDir: string;
}

export interface ArchiveResult {
  file: string;
  from_seq: number;
  to_seq: number;
  count: number;
  last_hash: string;
}

const PAGE = 1000;

function fsyncDir(dir: string): void {
  // A rename is durable only once the directory entry is; not every platform lets us open a dir.
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort (Windows) */
  }
}

/** The last seq to archive: records before `cutoff` (a seq, exclusive, or a time), as one prefix. */
async function lastToArchive(
  store: ChainStore,
  cutoff: number | Date | string,
  base: number,
  head: number,
): Promise<number> {
  if (typeof cutoff === 'number') {
    if (!Number.isSafeInteger(cutoff))
      throw new AuditError('audit_archive_invalid', `archive cutoff seq must be an integer, got ${cutoff}`);
    return Math.min(cutoff - 1, head);
  }
  const limit = normalizeTime(cutoff instanceof Date ? cutoff.toISOString() : cutoff, 'cutoff');
  // Stop at the first record at or after the cutoff: the archive must be a contiguous prefix, and
  // replicas' clocks may disagree a little, so a later record with an earlier time stays live.
  let last = base;
  for (;;) {
    const page = await store.scan(last, PAGE);
    for (const row of page) {
      if (String(row.at) >= limit) return last;
      last = Number(row.seq);
    }
    if (page.length < PAGE) return last;
  }
}

/**
 * Moves the records before `cutoff` (a seq: records with a smaller seq; or a time: records up to
 * the first one at or after it) out of the store into a JSONL archive file carrying their chain
 * proof, then deletes them. The archive is verified and fsync'd before anything is deleted; after
 * it, the store's first record links to the archive's `last_hash`, and
 * `verifyChain(store, {archives: [file]})` checks both together. Returns null when nothing is old
 * enough. `file` may be a function of the range, for naming files by seq.
 *
 * @example
 * ```ts
 * await archiveBefore(store, new Date(Date.now() - 90 * 86_400_000), ({ from_seq, to_seq }) => `archive/audit-${from_seq}-${to_seq}.jsonl`);
 * ```
 */
export async function archiveBefore(
  store: ChainStore,
  cutoff: number | Date | string,
  file: string | ((range: { from_seq: number; to_seq: number }) => string),
): Promise<ArchiveResult | null> {
  const { base, head } = await store.state();
  const toSeq = await lastToArchive(store, cutoff, base.seq, head.seq);
  if (toSeq <= base.seq) return null;
  const fromSeq = base.seq + 1;
  const target = resolve(typeof file === 'function' ? file({ from_seq: fromSeq, to_seq: toSeq }) : file);
  if (existsSync(target)) {
    throw new AuditError(
      'audit_archive_exists',
      `the archive file ${target} already exists; move it away or choose another name`,
    );
  }
  const [lastRow] = await store.scan(toSeq - 1, 1);
  if (!lastRow || Number(lastRow.seq) !== toSeq) {
    throw new AuditError(
      'audit_chain_invalid',
      `record ${toSeq} is missing from ${store.description}; run "warden audit verify" before archiving`,
    );
  }
  const header: ArchiveHeader = {
    warden_audit_archive: 1,
    from_seq: fromSeq,
    to_seq: toSeq,
    count: toSeq - base.seq,
    prev_hash: base.hash,
    last_hash: String(lastRow.hash),
    created_at: new Date().toISOString(),
    source: store.description,
    checkpoints: (await store.checkpoints()).filter((cp) => cp.seq > base.seq && cp.seq <= toSeq),
  };

  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, JSON.stringify(header) + '\n');
      let after = base.seq;
      while (after < toSeq) {
        const page = await store.scan(after, Math.min(PAGE, toSeq - after));
        if (page.length === 0) break;
        let chunk = '';
        for (const row of page) {
          const record = rowToRecord(row);
          // The archive re-serialises data, so it would launder a duplicate key: refuse instead.
          if (canonicalText(record.data) !== row.data) {
            throw new AuditError(
              'audit_chain_invalid',
              `refusing to archive: record ${record.seq}'s stored data is not its canonical JSON text ` +
                '(it was edited outside Warden); ' +
                `run "warden audit verify --store ${store.description}"`,
            );
          }
          chunk += recordLine(record) + '\n';
        }
        writeSync(fd, chunk);
        after = Number(page[page.length - 1]!.seq);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // Refuse to launder a broken chain into an archive: check exactly what was written.
    const check = await verifyChain(null, { archives: [tmp], start: base });
    if (!check.ok) {
      throw new AuditError(
        'audit_chain_invalid',
        `refusing to archive: record ${check.seq} is ${check.problem} (${check.detail}); run "warden audit verify --store ${store.description}"`,
      );
    }
    renameSync(tmp, target);
    fsyncDir(dirname(target));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const count = await store.dropPrefix({ seq: toSeq, hash: header.last_hash }, base);
  return { file: target, from_seq: fromSeq, to_seq: toSeq, count, last_hash: header.last_hash };
}

/**
 * Applies `audit.retention`: archives records older than `maxAgeDays` into
 * `archiveDir/audit-<from>-<to>.jsonl`. Run it at start and then daily.
 */
export function applyRetention(
  store: ChainStore,
  retention: RetentionOptions,
  now: Date = new Date(),
): Promise<ArchiveResult | null> {
  if (!(retention.maxAgeDays > 0)) {
    throw new AuditError(
      'audit_retention_invalid',
      `audit.retention.maxAgeDays must be a positive number, got ${String(retention.maxAgeDays)}`,
    );
  }
  const cutoff = new Date(now.getTime() - retention.maxAgeDays * 86_400_000);
  return archiveBefore(store, cutoff, ({ from_seq, to_seq }) =>
    join(retention.archiveDir, `audit-${from_seq}-${to_seq}.jsonl`),
  );
}

/** The archive files in `dir` written by {@link applyRetention}, for `verifyChain(store, {archives})`. */
export function listArchives(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^audit-\d+-\d+\.jsonl$/.test(name))
    .map((name) => join(dir, name))
    .sort((a, b) => Number(/audit-(\d+)-/.exec(a)?.[1]) - Number(/audit-(\d+)-/.exec(b)?.[1]));
}
