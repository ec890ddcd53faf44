import { describeError } from '../common/index.js';
import { recordsAfter } from './read-after.js';
import type { AuditRecord, AuditStore } from './types.js';

/** What follows the trail through a {@link TrailFollower}: the read models, the ledger, the replica feed. */
export interface TrailConsumer {
  /**
   * One record of the trail, in seq order, exactly once. `own`: this process appended it while the
   * consumer followed (the replica feed skips those; the pipeline announced them already).
   */
  add(record: AuditRecord, own: boolean): void;
}

/** Where a consumer starts: after a seq (0: the whole trail), at a time, or at the trail's end now. */
export type TrailStart = { afterSeq: number } | { since: string } | 'end';

/**
 * The one reader of the audit trail in a process. It keeps one cursor, takes this process's
 * appends as they become durable ({@link appended}) and reads the store for the rest (what other
 * replicas appended, and own appends that arrived out of order) when asked ({@link catchUp}).
 * Each record read or appended is handed to every consumer once, in seq order, so the history
 * read model, the approval ledger, the admin view and the replica feed share each page read.
 *
 * A consumer that joins later first reads what it needs of the past ({@link join}); only it gets
 * those records. Reads and joins run one at a time; callers of {@link catchUp} that arrive while
 * a read is queued share it.
 *
 * @example
 * ```ts
 * const trail = new TrailFollower(store);
 * store.onAppended((record) => trail.appended(record));
 * const leave = await trail.join({ add: (record) => model.add(record) }, { afterSeq: 0 });
 * await trail.catchUp(); // what other replicas appended, fed to every consumer
 * ```
 */
export class TrailFollower {
  private readonly consumers = new Set<TrailConsumer>();
  /** The newest seq every consumer has been given; null until the first join or read. */
  private cursor: number | null = null;
  private newestAppended = 0;
  /** Own appends that arrived ahead of the cursor: they are flagged `own` when read back. */
  private readonly ownAhead = new Set<number>();
  private queue: Promise<unknown> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<AuditStore, 'read' | 'head'>,
    private readonly options: { onError?: (message: string) => void } = {},
  ) {}

  /** The newest seq handed to the consumers (0 before the first join or read). */
  get seq(): number {
    return this.cursor ?? 0;
  }

  /** Whether this process appended records the consumers have not been given yet. */
  get behind(): boolean {
    return this.cursor !== null && this.cursor < this.newestAppended;
  }

  /** A record this process appended, once durable; one ahead of the cursor waits for the next read. */
  appended(record: AuditRecord): void {
    this.newestAppended = Math.max(this.newestAppended, record.seq);
    if (this.cursor === null || record.seq <= this.cursor) return;
    if (record.seq === this.cursor + 1) this.feed(record, true);
    else this.ownAhead.add(record.seq);
  }

  /**
   * Adds `consumer`, after handing it the past it asks for (`start`). Resolves, with the function
   * that removes it again, once it is level with the other consumers.
   */
  join(consumer: TrailConsumer, start: TrailStart): Promise<() => void> {
    return this.serial(async () => {
      await this.start();
      if (start !== 'end') await this.backfill(consumer, start);
      this.consumers.add(consumer);
      return () => void this.consumers.delete(consumer);
    });
  }

  /** Reads what the trail holds past the cursor, to its end, and hands it to every consumer. */
  catchUp(): Promise<void> {
    this.queued ??= this.serial(async () => {
      // A caller that arrives from here on may have appended after this read's first page.
      this.queued = null;
      await this.start();
      for await (const record of recordsAfter(this.store, this.cursor!))
        if (record.seq > this.cursor!) this.feed(record, this.ownAhead.delete(record.seq));
    });
    return this.queued;
  }

  private async start(): Promise<void> {
    this.cursor ??= (await this.store.head())?.seq ?? 0;
  }

  // The records from `start` up to the cursor, for `consumer` alone. Own appends may move the
  // cursor meanwhile (the others get those at once), so it reads again until level.
  private async backfill(consumer: TrailConsumer, start: { afterSeq: number } | { since: string }): Promise<void> {
    let after = 'afterSeq' in start ? start.afterSeq : 0;
    const query = 'since' in start ? { since: start.since } : {};
    for (let through = this.cursor!; after < through; through = this.cursor!) {
      for await (const record of recordsAfter(this.store, after, query)) {
        if (record.seq > through) break;
        this.deliver(consumer, record, false);
      }
      after = through;
    }
  }

  private feed(record: AuditRecord, own: boolean): void {
    this.cursor = record.seq;
    for (const consumer of this.consumers) this.deliver(consumer, record, own);
  }

  // One consumer's failure must not starve the others of the record.
  private deliver(consumer: TrailConsumer, record: AuditRecord, own: boolean): void {
    try {
      consumer.add(record, own);
    } catch (err) {
      this.options.onError?.(`a follower of the audit trail failed on record ${record.seq}: ${describeError(err)}`);
    }
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
