import { TrailFollower, type AuditRecord, type AuditStore, type RecordedReason } from '../audit/index.js';
import { AuditFold, type CallRow, type DecisionRow, type SessionRow } from './fold.js';

/** One reason as the admin API shows it (`workflow` and `step` when a workflow rule gave it). */
export interface ReasonRow {
  rule: string;
  message: string;
  workflow?: string;
  step?: string;
}

/** What the call finally came to. */
export type CallOutcome = 'success' | 'error' | 'denied' | 'held' | 'running';

/** A call's verdict, with the reasons that stand (for a refused approval, that refusal). */
export interface CallSummary {
  outcome: CallOutcome;
  allow: boolean;
  reasons: ReasonRow[];
  monitored: ReasonRow[];
  revision: string;
  mode: string;
  decision_id: string | null;
  duration_ms: number | null;
  held: boolean;
}

/** The index keeps argument values and results up to these sizes (the audit trail has them all). */
const MAX_ARG_CHARS = 256;
const MAX_RESULT_CHARS = 4096;

/**
 * An in-memory index of the audit trail (the one fold, {@link AuditFold}, with small arguments and
 * results) that the admin API, the dashboard and `warden audit compliance` query. It follows the
 * store incrementally through a {@link TrailFollower} (the process's, when given: `sync` then
 * reads, once for every follower, the records appended since the last read), so it also sees
 * calls other replicas record in a shared PostgreSQL trail. At most `maxCalls` calls are kept
 * (the oldest go first); the audit trail itself, and `GET /admin/audit/report`, always have everything.
 *
 * @example
 * ```ts
 * const view = new AuditView(warden.audit);
 * await view.sync();
 * for (const call of view.recentCalls()) show(call.name, summarize(call).outcome);
 * ```
 */
export class AuditView {
  private readonly index: AuditFold;
  private readonly trail: TrailFollower;
  private joined: Promise<unknown> | null = null;

  constructor(
    store: Pick<AuditStore, 'read' | 'chains'>,
    options: { maxCalls?: number; maxSessions?: number; trail?: TrailFollower } = {},
  ) {
    this.trail = options.trail ?? new TrailFollower(store);
    this.index = new AuditFold({
      maxCalls: options.maxCalls ?? 100_000,
      maxSessions: options.maxSessions ?? 20_000,
      maxArgumentChars: MAX_ARG_CHARS,
      maxResultChars: MAX_RESULT_CHARS,
    });
  }

  /** The newest seq folded in. */
  get seq(): number {
    return this.index.seq;
  }

  /** Reads what was appended since the last sync (at first: the whole trail). Concurrent callers share one read. */
  async sync(): Promise<void> {
    this.joined ??= this.trail.join({ add: (r) => this.index.add(r) }, { afterSeq: 0 }).catch((err: unknown) => {
      this.joined = null;
      throw err;
    });
    await this.joined;
    await this.trail.catchUp();
  }

  /** Calls, newest first. */
  recentCalls(): CallRow[] {
    return [...this.index.calls()].reverse();
  }

  call(id: string): CallRow | undefined {
    return this.index.call(id);
  }

  /** Sessions, newest first. */
  allSessions(): SessionRow[] {
    return [...this.index.sessions()].reverse();
  }

  session(id: string): SessionRow | undefined {
    return this.index.session(id);
  }

  /** Folds one record in (ascending seq). */
  fold(r: AuditRecord): void {
    this.index.add(r);
  }
}

/**
 * What a call came to. A held call's first decision denies with `warden.approval_required`
 * while it waits; the answer settles it: a refusal or timeout denies (with that reason), an
 * approval leads to a second decision and, when allowed, a completion.
 */
/** The reasons a decision's approval obligation says stand without the approval (read defensively: a stored record). */
function standingReasons(decision: DecisionRow | null): { rule: string; message: string }[] {
  const reasons = decision?.obligations.approval?.reasons;
  return Array.isArray(reasons)
    ? reasons.filter((r) => typeof r?.rule === 'string' && typeof r.message === 'string')
    : [];
}

export function summarize(call: CallRow): CallSummary {
  const final = call.decisions[call.decisions.length - 1] ?? null;
  const approval = call.approval;
  const waiting = approval !== null && approval.outcome === null;
  const refused = approval !== null && approval.outcome !== null && approval.outcome !== 'approved';
  let outcome: CallOutcome;
  if (call.completed) outcome = call.completed.outcome === 'success' ? 'success' : 'error';
  else if (waiting) outcome = 'held';
  else if (refused || (final && !final.allow)) outcome = 'denied';
  else outcome = 'running';
  let reasonList = (final?.reasons ?? []).map(reasonRow);
  if (refused) {
    reasonList = [
      {
        rule: 'warden.approval_required',
        message: `approval ${approval.outcome?.replace('_', ' ')}${approval.by ? ` by ${approval.by}` : ''}${approval.comment ? `: ${approval.comment}` : ''}`,
      },
      // The policy's own reasons that stand when the approval is not given (the flow rule's).
      ...standingReasons(final).map(reasonRow),
    ];
  }
  const duration =
    call.completed?.duration_ms ??
    (outcome === 'denied' ? Math.max(0, Date.parse(call.last_at) - Date.parse(call.at)) : null);
  return {
    outcome,
    allow: outcome === 'success' || outcome === 'error' || outcome === 'running',
    reasons: outcome === 'denied' || outcome === 'held' ? reasonList : [],
    monitored: (final?.monitored ?? []).map(reasonRow),
    revision: final?.revision ?? '',
    mode: final?.mode ?? 'enforce',
    decision_id: final?.decision_id ?? null,
    duration_ms: duration,
    held: call.decisions.some((x) => x.held === true),
  };
}

/** A policy's own rule denied the call (not Warden: approvals, policy failures, audit outages). */
export function isViolationRule(rule: string): boolean {
  return !rule.startsWith('warden.');
}

function reasonRow(r: RecordedReason): ReasonRow {
  return {
    rule: r.rule,
    message: r.message,
    ...(typeof r.workflow === 'string' ? { workflow: r.workflow } : {}),
    ...(typeof r.step === 'string' ? { step: r.step } : {}),
  };
}
