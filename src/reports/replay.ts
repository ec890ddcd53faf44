import { trailOrder, type AuditRecord, type CallDecidedData } from '../audit/index.js';
import { ReportError } from '../common/index.js';
import type { EntrypointResult, Evaluation, Reason } from '../policy/index.js';
import type { Session, SessionOptions } from '../session/index.js';
import { AuditFold, type CallRow, type DecisionRow } from './fold.js';
import { applyToSession, pendingCall, sessionFromRow } from './history.js';
import { declaredReads, HISTORY_READS_ENTRYPOINT, HistoryModel } from './history-service.js';

/** What a decision amounts to once enforced: allowed, denied, or allowed only after an approval. */
export type ReplayVerdict = 'allow' | 'deny' | 'approval';

/** One decision that the new policy would take differently. */
export interface ReplayChange {
  session_id: string;
  /** The call's position in its session (its `seq` in `input.history`). */
  seq: number;
  /** The `call.decided` record's seq in the audit trail. */
  audit_seq: number;
  call_id: string;
  decision_id: string;
  at: string;
  server: string;
  tool: string;
  old: ReplayVerdict;
  new: ReplayVerdict;
  /** `allow-to-deny`, `deny-to-allow`, `allow-to-approval`, … */
  change: string;
  old_revision: string;
  old_rules: string[];
  new_rules: string[];
  new_reasons: Reason[];
  error?: string;
}

export interface ReplayReport {
  version: 1;
  sessions: number;
  /** Decisions compared (those at or after `since`). */
  decisions: number;
  changed: number;
  by_change: Record<string, number>;
  changes: ReplayChange[];
  /**
   * Where the audit trail could not give back the input exactly: calls recorded without their
   * tool annotations, results kept truncated in the trail, sessions whose `session.opened` is gone
   * (archived): their principal and client are unknown.
   */
  inexact: { annotations_missing: number; truncated_results: number; sessions_without_open: number };
  elapsed_ms: number;
  decisions_per_second: number;
}

/** The policy replay asks: a `PolicyEngine` or `PolicyRuntime` (the evaluation itself stays in `policy`). */
export interface ReplayPolicy {
  evaluate(input: unknown, nowMs?: number): Evaluation | Promise<Evaluation>;
  /** With these, a policy that declares its history reads (`mcp/history/reads`) is given just that. */
  hasEntrypoint?(name: string): boolean;
  evaluateEntrypoint?(name: string, input: unknown): EntrypointResult | Promise<EntrypointResult>;
}

export interface ReplayOptions {
  /** The policy to replay against. */
  policy: ReplayPolicy;
  /** The `session` settings the recorded Warden ran with (history window, result cut, tenant claim). */
  session: SessionOptions & { tenantClaim?: string };
  /** Compare only decisions at or after this ISO time; earlier calls still build the history. */
  since?: string;
  /** Called every few hundred records with the records read so far. */
  onProgress?: (records: number) => void;
}

/**
 * Re-evaluates recorded sessions against another policy. The records go through the one fold
 * ({@link AuditFold}), and each session is rebuilt from its steps with the same {@link Session}
 * class the pipeline uses: `session.opened` gives the principal and client, `call.received` the
 * pending call, `call.decided` the moment the policy was asked (the input is built then, from the
 * history so far), a granted approval joins `input.approvals`, and the recorded outcome (the
 * completion, or the denial) joins the history, so each call is judged on what actually happened
 * before it, whatever the new policy would have done.
 *
 * @example
 * ```ts
 * const session = { historyWindow: 100, resultMaxChars: 512 };
 * const report = await replayRecords(store.read({}), { policy: engine, session });
 * report.changes.filter((c) => c.change === 'allow-to-deny');
 * ```
 */
export async function replayRecords(
  records: Iterable<AuditRecord> | AsyncIterable<AuditRecord> | Promise<Iterable<AuditRecord>>,
  options: ReplayOptions,
): Promise<ReplayReport> {
  const started = Date.now();
  const sinceMs = options.since ? Date.parse(options.since) : -Infinity;
  // Only calls in flight are kept: a trail of millions of calls replays in bounded memory.
  const fold = new AuditFold({ forgetSettled: true });
  const sessions = new Map<string, Session>();
  const history = await historyModelOf(options);
  const report: ReplayReport = {
    version: 1,
    sessions: 0,
    decisions: 0,
    changed: 0,
    by_change: {},
    changes: [],
    inexact: { annotations_missing: 0, truncated_results: 0, sessions_without_open: 0 },
    elapsed_ms: 0,
    decisions_per_second: 0,
  };
  const sessionOf = (call: CallRow): Session => {
    let s = sessions.get(call.session_id);
    if (!s) {
      // No session.opened (archived away, or a trail from before it was recorded).
      report.inexact.sessions_without_open++;
      s = sessionFromRow(fold.session(call.session_id)!, options.session);
      sessions.set(call.session_id, s);
    }
    return s;
  };
  let read = 0;
  for await (const record of await records) {
    if (++read % 500 === 0) options.onProgress?.(read);
    for (const step of fold.add(record)) {
      switch (step.kind) {
        case 'session.opened':
          sessions.set(step.session.session_id, sessionFromRow(step.session, options.session));
          break;
        case 'call.received':
          if (step.record.legacy?.includes('annotations')) report.inexact.annotations_missing++;
          sessionOf(step.call);
          break;
        case 'call.decided':
          // A call whose call.received is missing cannot be rebuilt; what follows it is skipped too.
          if (step.call.received_at === null || step.decision.now_ms < sinceMs) break;
          // Refused before the policy ran (arguments over limits.*): no policy would be asked either.
          if (step.decision.refused !== undefined) break;
          await compare(step.call, step.decision, sessionOf(step.call), options.policy, report, history);
          break;
        case 'call.approved':
        case 'call.settled':
          if (step.call.received_at === null) break;
          if (step.kind === 'call.settled' && isCut(step.call.result)) report.inexact.truncated_results++;
          // What happened next is what the trail says, not what the new policy would have done.
          applyToSession(sessionOf(step.call), step);
          if (step.kind === 'call.settled')
            history?.settle(
              step.call,
              step.settled,
              fold.session(step.call.session_id)?.principal ?? null,
              trailOrder(record),
            );
          break;
        default:
          break;
      }
    }
  }
  options.onProgress?.(read);
  report.sessions = sessions.size;
  report.elapsed_ms = Date.now() - started;
  report.decisions_per_second =
    report.elapsed_ms > 0 ? Math.round((report.decisions * 1000) / report.elapsed_ms) : report.decisions;
  return report;
}

/**
 * The history model of the new policy's declared reads, or null when it declares none (each input
 * then carries the session's window, as the live Warden sends it).
 */
async function historyModelOf(options: ReplayOptions): Promise<HistoryModel | null> {
  const { policy } = options;
  if (!policy.hasEntrypoint || !policy.evaluateEntrypoint) return null;
  const declared = await declaredReads({
    hasEntrypoint: (name) => policy.hasEntrypoint!(name),
    evaluateEntrypoint: (name, input) => policy.evaluateEntrypoint!(name, input),
  });
  if (!declared) return null;
  if (!declared.ok)
    throw new ReportError(
      'replay_policy_invalid',
      `cannot replay: ${HISTORY_READS_ENTRYPOINT} is unusable: ${declared.message}`,
    );
  const { resultMaxChars, tenantClaim } = options.session;
  return new HistoryModel(declared.reads, { resultMaxChars, ...(tenantClaim ? { tenantClaim } : {}) });
}

/** Asks the new policy about one recorded decision, with the history rebuilt so far, and notes a change. */
async function compare(
  call: CallRow,
  decision: DecisionRow,
  session: Session,
  policy: ReplayPolicy,
  report: ReplayReport,
  history: HistoryModel | null,
): Promise<void> {
  const pending = pendingCall(call);
  const input = session.buildInput(pending, decision.now_ms, call.call_id, history?.lookup(session, pending));
  const evaluation = await policy.evaluate(input, decision.now_ms);
  report.decisions++;
  const before = recordedVerdict(decision);
  const after = newVerdict(evaluation);
  if (before === after) return;
  const change = `${before}-to-${after}`;
  report.changed++;
  report.by_change[change] = (report.by_change[change] ?? 0) + 1;
  report.changes.push({
    session_id: call.session_id,
    seq: session.callCount + 1,
    audit_seq: decision.seq,
    call_id: call.call_id,
    decision_id: decision.decision_id,
    at: decision.at,
    server: call.server,
    tool: call.name,
    old: before,
    new: after,
    change,
    old_revision: decision.revision,
    // In monitor mode the recorded reasons are empty and the policy's are kept as would-deny.
    old_rules: rulesOf(decision.reasons.length || decision.mode !== 'monitor' ? decision.reasons : decision.monitored),
    new_rules: evaluation.decision.reasons.map((x) => x.rule),
    new_reasons: evaluation.decision.reasons,
    ...(evaluation.error ? { error: evaluation.error.message } : {}),
  });
}

/** The verdict a recorded `call.decided` stands for, before monitor mode (what enforcing it would do). */
export function recordedVerdict(d: Pick<CallDecidedData, 'error' | 'policy_allow' | 'obligations'>): ReplayVerdict {
  if (d.error || !d.policy_allow) return 'deny';
  return d.obligations.approval?.required === true ? 'approval' : 'allow';
}

/** The verdict of a fresh evaluation, on the same terms as {@link recordedVerdict}. */
export function newVerdict(e: Evaluation): ReplayVerdict {
  if (e.error || !e.decision.allow) return 'deny';
  return e.decision.obligations.approval?.required === true ? 'approval' : 'allow';
}

function rulesOf(reasons: readonly { rule: string }[]): string[] {
  return reasons.map((r) => r.rule).filter(Boolean);
}

function isCut(result: unknown): boolean {
  return !!result && typeof result === 'object' && (result as { truncated?: unknown }).truncated === true;
}
