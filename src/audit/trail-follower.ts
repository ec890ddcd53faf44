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

/**
 * Where a consumer starts: after a seq on every chain (0: the whole trail), at a time, or at the
 * trail's end now.
 */
export type TrailStart = { afterSeq: number } | { since: string } | 'end';

/** The chain a record is on (`''`: the shared chain). */
function chainOf(record: AuditRecord): string {
  return record.chain ?? '';
}

/**
 * The one reader of the audit trail in a process. It keeps one cursor per chain (the seq it
 * handed on last; a store shared by replicas with `audit.chain: instance` holds one chain per
 * replica), takes this process's appends as they become durable ({@link appended}) and reads the
 * store for the rest (what other replicas appended, and own appends that arrived out of order)
 * when asked ({@link catchUp}). Each record read or appended is handed to every consumer once, in
 * seq order within its chain, so the history read model, the approval ledger, the admin view and
 * the replica feed share each page read. Records of different chains come in no set order.
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
  /** Per chain, the newest seq every consumer has been given; null until the first join or read. */
  private cursors: Map<string, number> | null = null;
  /** Per chain, the newest seq this process appended. */
  private readonly newestAppended = new Map<string, number>();
  /** Own appends that arrived ahead of their chain's cursor: they are flagged `own` when read back. */
  private readonly ownAhead = new Map<string, Set<number>>();
  private queue: Promise<unknown> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<AuditStore, 'read' | 'chains'>,
    private readonly options: { onError?: (message: string) => void } = {},
  ) {}

  /** Per chain, the newest seq handed to the consumers (empty before the first join or read). */
  get seqs(): ReadonlyMap<string, number> {
    return new Map(this.cursors ?? []);
  }

  /** Whether this process appended records the consumers have not been given yet. */
  get behind(): boolean {
    if (this.cursors === null) return false;
    for (const [chain, seq] of this.newestAppended) if (this.cursor(chain) < seq) return true;
    return false;
  }

  private cursor(chain: string): number {
    return this.cursors?.get(chain) ?? 0;
  }

  /** A record this process appended, once durable; one ahead of its chain's cursor waits for the next read. */
  appended(record: AuditRecord): void {
    const chain = chainOf(record);
    this.newestAppended.set(chain, Math.max(this.newestAppended.get(chain) ?? 0, record.seq));
    if (this.cursors === null || record.seq <= this.cursor(chain)) return;
    if (record.seq === this.cursor(chain) + 1) this.feed(record, true);
    else {
      const ahead = this.ownAhead.get(chain) ?? new Set<number>();
      this.ownAhead.set(chain, ahead.add(record.seq));
    }
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

  /** Reads what the trail holds past the cursors, to its end, and hands it to every consumer. */
  catchUp(): Promise<void> {
    this.queued ??= this.serial(async () => {
      // A caller that arrives from here on may have appended after this read's first page.
      this.queued = null;
      await this.start();
      for (const { chain } of await this.store.chains()) {
        for await (const record of recordsAfter(this.store, this.cursor(chain), { chain }))
          if (record.seq > this.cursor(chain)) this.feed(record, this.ownAhead.get(chain)?.delete(record.seq) ?? false);
      }
    });
    return this.queued;
  }

  private async start(): Promise<void> {
    this.cursors ??= new Map((await this.store.chains()).map(({ chain, head }) => [chain, head.seq]));
  }

  // The records from `start` up to the cursors, for `consumer` alone. Own appends may move a
  // cursor meanwhile (the others get those at once), so it reads each chain again until level.
  private async backfill(consumer: TrailConsumer, start: { afterSeq: number } | { since: string }): Promise<void> {
    const query = 'since' in start ? { since: start.since } : {};
    for (const chain of [...this.cursors!.keys()]) {
      let after = 'afterSeq' in start ? start.afterSeq : 0;
      for (let through = this.cursor(chain); after < through; through = this.cursor(chain)) {
        for await (const record of recordsAfter(this.store, after, { ...query, chain })) {
          if (record.seq > through) break;
          this.deliver(consumer, record, false);
        }
        after = through;
      }
    }
  }

  private feed(record: AuditRecord, own: boolean): void {
    this.cursors!.set(chainOf(record), record.seq);
    for (const consumer of this.consumers) this.deliver(consumer, record, own);
  }

  // One consumer's failure must not starve the others of the record.
  private deliver(consumer: TrailConsumer, record: AuditRecord, own: boolean): void {
    try {
      consumer.add(record, own);
    } catch (err) {
      const where = record.chain ? `record ${record.seq} of chain ${record.chain}` : `record ${record.seq}`;
      this.options.onError?.(`a follower of the audit trail failed on ${where}: ${describeError(err)}`);
    }
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
