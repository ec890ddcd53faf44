import { readRecord, TrailFollower, type AuditRecord, type AuditStore } from '../audit/index.js';
import type { ApprovalRecords, RecordedApproval } from '../approval/index.js';
import { AuditFold, type CallRow } from './fold.js';

/** Calls the ledger's fold keeps (the oldest go first); approvals it tracks are kept apart. */
const MAX_CALLS = 20_000;

export interface ApprovalLedgerOptions {
  store: Pick<AuditStore, 'read' | 'chains'>;
  /** The process's one follower of `store` (without it, the ledger follows the store alone). */
  trail?: TrailFollower;
  /** How long an approval may be answered and spent after it was asked (`approval.retryWithinMs`). */
  retryWithinMs: number;
  now?: () => number;
}

/**
 * The approvals of the audit trail, for every replica that shares it: what is waiting for an
 * approver (the admin API lists it everywhere), and which answered approvals of pending calls a
 * retry may still spend. Folds the trail with the one fold, through the process's
 * {@link TrailFollower}: from this process's appends and from the store ({@link sync}, which
 * reads what other replicas appended).
 *
 * @example
 * ```ts
 * await ledger.sync();
 * ledger.usable('alice', 'deploy', digest); // the approval a retry of alice's deploy may spend
 * ```
 */
export class ApprovalLedger implements ApprovalRecords {
  private readonly fold = new AuditFold({ maxCalls: MAX_CALLS });
  private readonly approvals = new Map<string, RecordedApproval>();
  private readonly trail: TrailFollower;
  private joined: Promise<unknown> | null = null;

  constructor(private readonly options: ApprovalLedgerOptions) {
    this.trail = options.trail ?? new TrailFollower(options.store);
  }

  /** A record this process appended, for a ledger that follows the store alone (no `trail` given). */
  apply(record: AuditRecord): void {
    this.trail.appended(record);
  }

  /** Reads what the trail holds beyond what the ledger has seen (at first: the retry window's records). */
  async sync(): Promise<void> {
    this.joined ??= this.trail
      .join(
        { add: (record) => this.add(record) },
        { since: new Date(this.now() - this.options.retryWithinMs).toISOString() },
      )
      .catch((err: unknown) => {
        this.joined = null;
        throw err;
      });
    await this.joined;
    await this.trail.catchUp();
    this.forgetExpired();
  }

  /** Approvals waiting for an approver, oldest first. */
  waiting(): RecordedApproval[] {
    return [...this.approvals.values()].filter((a) => a.state !== 'answered');
  }

  get(id: string): RecordedApproval | undefined {
    return this.approvals.get(id);
  }

  /**
   * The newest approval an approver granted for a call of `principal` to `name` with these
   * arguments that was left pending, is within the retry window and no call has spent.
   */
  usable(principal: string, name: string, digest: string): RecordedApproval | undefined {
    const oldest = this.now() - this.options.retryWithinMs;
    let found: RecordedApproval | undefined;
    for (const a of this.approvals.values()) {
      if (a.answer?.outcome !== 'approved' || a.spent_by !== null || a.answer.via !== 'admin') continue;
      if (a.principal.sub !== principal || a.call.name !== name || a.arguments_digest !== digest) continue;
      if (Date.parse(a.requested_at) < oldest) continue;
      if (!found || a.answer.at > found.answer!.at) found = a;
    }
    return found;
  }

  private add(raw: AuditRecord): void {
    this.fold.add(raw);
    const record = readRecord(raw);
    const callId = (record.data as { call_id?: unknown }).call_id;
    if (typeof callId !== 'string') return;
    const call = this.fold.call(callId);
    if (record.type === 'call.forwarded') {
      // A retry spends the pending approval it names; a held call spends its own as it runs.
      const spent = this.approvals.get(record.data.approval_of ?? callId);
      if (spent) spent.spent_by = callId;
    }
    if (!call?.approval) return;
    this.approvals.set(callId, this.approvalOf(call, this.approvals.get(callId)));
  }

  // What the trail says of a call's approval. Once known, what was asked stays as first read: a
  // later answer may reach a row the fold had to forget, which knows only the answer.
  private approvalOf(call: CallRow, known: RecordedApproval | undefined): RecordedApproval {
    const approval = call.approval!;
    const answer =
      approval.outcome === null
        ? null
        : {
            outcome: approval.outcome,
            by: approval.by,
            via: approval.via,
            comment: approval.comment,
            at: approval.answered_at ?? call.last_at,
          };
    const state = answer ? 'answered' : call.settled ? 'pending' : 'held';
    if (known) return { ...known, answer: answer ?? known.answer, state: known.answer && !answer ? 'answered' : state };
    const principal = this.fold.session(call.session_id)?.principal ?? { sub: 'unknown', roles: [] };
    const obligation = [...call.decisions].reverse().find((d) => d.obligations.approval)?.obligations.approval;
    return {
      id: call.call_id,
      session_id: call.session_id,
      principal: { sub: principal.sub, roles: principal.roles },
      call: { server: call.server, name: call.name, arguments: call.arguments },
      arguments_digest: approval.arguments_digest ?? null,
      approvers: approval.approvers,
      reason: approval.reason,
      allow_self_approval: obligation?.['allow_self_approval'] === true,
      requested_at: approval.requested_at,
      state,
      answer,
      spent_by: null,
    };
  }

  private forgetExpired(): void {
    const oldest = this.now() - this.options.retryWithinMs;
    for (const [id, a] of this.approvals) if (Date.parse(a.requested_at) < oldest) this.approvals.delete(id);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}
