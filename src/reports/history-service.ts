import { TrailFollower, trailOrder, type AuditRecord, type AuditStore } from '../audit/index.js';
import { describeError } from '../common/index.js';
import type { EntrypointResult } from '../policy/index.js';
import type { Principal } from '../config/index.js';
import {
  historyEntry,
  HistoryIndex,
  readHistoryReads,
  scopeKeys,
  traceId,
  type HistoryEntry,
  type HistoryRead,
  type PendingCall,
  type Session,
} from '../session/index.js';
import { AuditFold, type CallRow, type Settlement } from './fold.js';

/** The entrypoint where a policy declares the history it reads (docs/policies.md). */
export const HISTORY_READS_ENTRYPOINT = 'mcp/history/reads';

/** Sessions whose principal the read model remembers (the oldest are forgotten first). */
const MAX_SESSIONS = 100_000;

export interface HistoryServiceOptions {
  /** The active policy: its revision, and its `mcp/history/reads`. */
  policy: {
    readonly revision: string | null;
    hasEntrypoint(name: string): boolean;
    evaluateEntrypoint(name: string, input: unknown): Promise<EntrypointResult>;
  };
  /** The audit trail the read model is built from. */
  store: Pick<AuditStore, 'read' | 'chains'>;
  /** The process's one follower of `store` (without it, the service follows the store alone). */
  trail?: TrailFollower;
  /** Read the store for records other processes appended before every lookup (a shared store). */
  follow?: boolean;
  /** The principal claim whose value separates tenants (`session.tenantClaim`). */
  tenantClaim?: string;
  /** Results in history are cut to this many characters (`session.resultMaxChars`). */
  resultMaxChars: number;
  /** Told when the policy's reads cannot be used (every lookup then answers with no history). */
  onError?: (message: string) => void;
}

/** The read model for one policy revision, and how far into the trail it has read. */
interface Model {
  readonly revision: string;
  /** Null when the revision declares no reads. */
  readonly history: HistoryModel | null;
  readonly fold: AuditFold;
  /** Stops feeding it from the trail (when another revision's model replaces it). */
  leave: () => void;
}

/** What a policy answers `mcp/history/reads` with: an index of its reads, or why it cannot be used. */
export async function declaredReads(policy: {
  hasEntrypoint(name: string): boolean;
  evaluateEntrypoint(name: string, input: unknown): EntrypointResult | Promise<EntrypointResult>;
}): Promise<{ ok: true; reads: HistoryRead[] } | { ok: false; message: string } | null> {
  if (!policy.hasEntrypoint(HISTORY_READS_ENTRYPOINT)) return null;
  const answer = await policy.evaluateEntrypoint(HISTORY_READS_ENTRYPOINT, {});
  const read = answer.ok ? readHistoryReads(answer.result) : { ok: false as const, message: answer.message };
  return read;
}

/**
 * The history of the trail as one revision's reads see it: settled calls (from the fold) become
 * history entries, built as a session builds them, in the index of those reads. The live read
 * model and replay both use it, so a replayed decision sees what the live one saw.
 */
export class HistoryModel {
  private readonly index: HistoryIndex;
  /** Settled calls per session so far: the session-local `seq` of its next entry. */
  private readonly counts = new Map<string, number>();

  constructor(
    reads: readonly HistoryRead[],
    private readonly options: { resultMaxChars: number; tenantClaim?: string },
  ) {
    this.index = new HistoryIndex(reads);
  }

  /** A call that settled in the trail at `order` (its settling record's `trailOrder`), made by `principal`. */
  settle(call: CallRow, settled: Settlement, principal: Principal | null, order: string): void {
    const seq = (this.counts.get(call.session_id) ?? 0) + 1;
    this.counts.set(call.session_id, seq);
    const who = principal ?? UNKNOWN_PRINCIPAL;
    const entry = historyEntry(
      call,
      settled.decision,
      settled.outcome,
      call.result,
      call.started_ms,
      settled.duration_ms,
      {
        seq,
        session: call.session_id,
        principal: who.sub,
        resultMaxChars: this.options.resultMaxChars,
        labels: call.completed?.labels ?? [],
      },
    );
    const keys = scopeKeys(call.session_id, who, call.trace_id, this.options.tenantClaim);
    this.index.apply({ entry, keys, order });
  }

  /** Whether the reads of the trail apply to calls named `name`. */
  readsFor(name: string): boolean {
    return this.index.readsFor(name);
  }

  /** A session that closed: its count is not needed any more. */
  closed(sessionId: string): void {
    this.counts.delete(sessionId);
  }

  /** The entries the reads return for `call` in `session` (`all` reads add the session's window). */
  lookup(session: Session, call: PendingCall): HistoryEntry[] {
    const keys = scopeKeys(session.id, session.principal, traceId(call.traceparent), this.options.tenantClaim);
    const found = this.index.lookup(call.name, call.arguments, keys);
    return this.index.wantsWindow(call.name) ? [...found, ...session.window()] : found;
  }
}

const UNKNOWN_PRINCIPAL: Principal = Object.freeze({ sub: 'unknown', roles: [], claims: {} });

/**
 * The history a policy declared it reads, answered from a read model of the audit trail: the
 * trail's records, folded by the one fold, feed a {@link HistoryIndex} built for the active
 * revision's reads. It is never a second source of truth: a new revision's model is built from
 * the trail, and records reach it in the trail's order through the process's {@link TrailFollower}:
 * this process's appends, and, with `follow`, what the store holds beyond them before each lookup.
 *
 * @example
 * ```ts
 * const history = new HistoryService({ policy, store, resultMaxChars: 2000 });
 * store.onAppend((record) => history.apply(record));
 * const entries = await history.lookup(session, call); // undefined: the policy declares no reads
 * ```
 */
export class HistoryService {
  private model: Model | null = null;
  private building: Promise<Model> | null = null;
  private readonly trail: TrailFollower;

  constructor(private readonly options: HistoryServiceOptions) {
    this.trail = options.trail ?? new TrailFollower(options.store);
  }

  /** A record this process appended, for a service that follows the store alone (no `trail` given). */
  apply(record: AuditRecord): void {
    this.trail.appended(record);
  }

  /** The entries the active policy's reads return for `call`, or undefined when it declares none. */
  async lookup(session: Session, call: PendingCall): Promise<HistoryEntry[] | undefined> {
    const model = await this.current();
    if (!model.history) return undefined;
    // Only a call whose decision reads the trail waits for it (a shared store is read here).
    const behind = this.options.follow || this.trail.behind;
    if (behind && model.history.readsFor(call.name)) await this.trail.catchUp();
    return model.history.lookup(session, call);
  }

  /** The model of the active revision, built from the trail when the revision changed. */
  private async current(): Promise<Model> {
    const revision = this.options.policy.revision ?? '';
    if (this.model?.revision === revision) return this.model;
    this.building ??= this.build(revision).finally(() => (this.building = null));
    const model = await this.building;
    return model.revision === revision ? model : this.current();
  }

  private async build(revision: string): Promise<Model> {
    const history = await this.modelOf(revision);
    const model: Model = { revision, history, fold: new AuditFold(foldOptions), leave: () => undefined };
    if (history) model.leave = await this.trail.join({ add: (record) => this.feed(model, record) }, { afterSeq: 0 });
    this.model?.leave();
    this.model = model;
    return model;
  }

  // The revision's model, or null without reads; an unusable answer reads nothing (its rules deny).
  private async modelOf(revision: string): Promise<HistoryModel | null> {
    const declared = await declaredReads(this.options.policy);
    if (!declared) return null;
    const { resultMaxChars, tenantClaim } = this.options;
    const options = { resultMaxChars, ...(tenantClaim ? { tenantClaim } : {}) };
    if (declared.ok) return new HistoryModel(declared.reads, options);
    const why = `${HISTORY_READS_ENTRYPOINT} of revision ${revision} is unusable: ${declared.message}`;
    this.options.onError?.(`${why}; calls are decided with no history until it is fixed`);
    return new HistoryModel([], options);
  }

  private feed(model: Model, record: AuditRecord): void {
    for (const step of model.fold.add(record)) {
      if (step.kind === 'call.settled') {
        const principal = model.fold.session(step.call.session_id)?.principal ?? null;
        try {
          model.history?.settle(step.call, step.settled, principal, trailOrder(record));
        } catch (err) {
          this.options.onError?.(`history entry of call ${step.call.call_id} not indexed: ${describeError(err)}`);
        }
      } else if (step.kind === 'session.closed') model.history?.closed(step.session.session_id);
    }
  }
}

const foldOptions = { forgetSettled: true, maxSessions: MAX_SESSIONS };
