import type { Principal } from '../config/index.js';
import { Session, argumentsDigest } from '../session/index.js';
import type { CallKind, ClientInfo, Outcome, PendingCall, SessionOptions } from '../session/index.js';
import type { Reason } from './decision.js';
import type { Evaluation } from './engine.js';

/** One audit record as replay reads it (the shape `AuditStore.read` returns). */
export interface RecordedEvent {
  seq: number;
  at: string;
  type: string;
  session_id: string;
  data: Record<string, unknown>;
}

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

export interface ReplayOptions {
  /** What to replay against: a {@link WorkerEngine}, a {@link PolicyRuntime}, an in-thread {@link PolicyEngine}. */
  policy: { evaluate(input: unknown, nowMs?: number): Evaluation | Promise<Evaluation> };
  /** The `session` settings the recorded Warden ran with (history window, result cut). */
  session: SessionOptions;
  /** Compare only decisions at or after this ISO time; earlier calls still build the history. */
  since?: string;
  /** Called every few hundred records with the records read so far. */
  onProgress?: (records: number) => void;
}

interface CallState {
  call: PendingCall;
  startedMs: number;
  session: Session;
}

/**
 * Re-evaluates recorded sessions against another policy. Each session is rebuilt with the same
 * {@link Session} class the pipeline uses, event by event: `session.opened` gives the principal
 * and client, `call.received` the pending call, `call.decided` the moment the policy was asked
 * (the input is built then, from the history so far), `approval.granted` adds the approval, and the
 * recorded outcome (`call.completed`, or the denial) goes into the history, so each call is
 * judged on what actually happened before it, whatever the new policy would have done.
 *
 * @example
 * ```ts
 * const report = await replayRecords(store.read({}), { policy: engine, session: { historyWindow: 200, resultMaxChars: 2048 } });
 * report.changes.filter((c) => c.change === 'allow-to-deny');
 * ```
 */
export async function replayRecords(records: Iterable<RecordedEvent> | AsyncIterable<RecordedEvent>, options: ReplayOptions): Promise<ReplayReport> {
  const started = Date.now();
  const sinceMs = options.since ? Date.parse(options.since) : -Infinity;
  const sessions = new Map<string, Session>();
  const calls = new Map<string, CallState>();
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
  const sessionFor = (r: RecordedEvent): Session => {
    let s = sessions.get(r.session_id);
    if (!s) {
      // No session.opened (archived away, or a trail from before it was recorded).
      report.inexact.sessions_without_open++;
      s = new Session(r.session_id, { sub: 'unknown', roles: [], claims: {} }, r.at, options.session);
      sessions.set(r.session_id, s);
    }
    return s;
  };
  let read = 0;
  for await (const r of records) {
    if (++read % 500 === 0) options.onProgress?.(read);
    const d = r.data;
    const callId = String(d['call_id']);
    switch (r.type) {
      case 'session.opened': {
        const principal = (d['principal'] as Principal | undefined) ?? { sub: 'unknown', roles: [], claims: {} };
        const client = (d['client'] as ClientInfo | undefined) ?? { name: 'unknown', version: 'unknown' };
        const startedAt = typeof d['started_at'] === 'string' ? d['started_at'] : r.at;
        sessions.set(r.session_id, new Session(r.session_id, principal, startedAt, options.session, client));
        break;
      }
      case 'call.received': {
        if (!('annotations' in d)) report.inexact.annotations_missing++;
        const call: PendingCall = {
          kind: (d['kind'] as CallKind | undefined) ?? 'tool',
          server: String(d['server'] ?? ''),
          tool: String(d['tool'] ?? d['name'] ?? ''),
          name: String(d['name'] ?? d['tool'] ?? ''),
          arguments: (d['arguments'] as Record<string, unknown> | undefined) ?? {},
          annotations: (d['annotations'] as Record<string, unknown> | undefined) ?? {},
          ...(typeof d['uri'] === 'string' ? { uri: d['uri'] } : {}),
        };
        const startedMs = typeof d['now_ms'] === 'number' ? d['now_ms'] : Date.parse(r.at);
        calls.set(String(d['call_id']), { call, startedMs, session: sessionFor(r) });
        break;
      }
      case 'call.decided': {
        const state = calls.get(String(d['call_id']));
        if (!state) break;
        const nowMs = typeof d['now_ms'] === 'number' ? d['now_ms'] : Date.parse(r.at);
        // Refused before the policy ran (arguments over limits.*): no policy would be asked either.
        if (nowMs >= sinceMs && d['refused'] === undefined) {
          const evaluation = await options.policy.evaluate(state.session.buildInput(state.call, nowMs, callId), nowMs);
          report.decisions++;
          const before = recordedVerdict(d);
          const after = newVerdict(evaluation);
          if (before !== after) {
            const change = `${before}-to-${after}`;
            report.changed++;
            report.by_change[change] = (report.by_change[change] ?? 0) + 1;
            report.changes.push({
              session_id: r.session_id,
              seq: state.session.callCount + 1,
              audit_seq: r.seq,
              call_id: String(d['call_id']),
              decision_id: String(d['decision_id'] ?? ''),
              at: r.at,
              server: state.call.server,
              tool: state.call.name,
              old: before,
              new: after,
              change,
              old_revision: String(d['revision'] ?? ''),
              // In monitor mode the recorded reasons are empty and the policy's are kept as would-deny.
              old_rules: rulesOf(d['reasons']).length || d['mode'] !== 'monitor' ? rulesOf(d['reasons']) : rulesOf(d['monitored']),
              new_rules: evaluation.decision.reasons.map((x) => x.rule),
              new_reasons: evaluation.decision.reasons,
              ...(evaluation.error ? { error: evaluation.error.message } : {}),
            });
          }
        }
        // What happened next is what the trail says, not what the new policy would have done.
        if (d['held'] === true) break;
        if (d['allow'] !== true) {
          const ms = Math.max(0, Date.parse(r.at) - state.startedMs);
          state.session.record(state.call, 'deny', 'denied', null, state.startedMs, ms, callId);
          calls.delete(String(d['call_id']));
        }
        break;
      }
      case 'approval.granted': {
        const state = calls.get(String(d['call_id']));
        if (!state) break;
        // Bound to the call as live: the digest is of the arguments as recorded (redaction may have
        // masked some), which is what this replay's call carries.
        state.session.approve({
          tool: state.call.name, by: typeof d['by'] === 'string' ? d['by'] : 'unknown', at: r.at,
          ...(typeof d['comment'] === 'string' && d['comment'] ? { comment: d['comment'] } : {}),
          call_id: callId,
          arguments_digest: argumentsDigest(state.call.arguments),
          principal: state.session.principal.sub,
        });
        break;
      }
      case 'call.forwarded': {
        calls.get(callId)?.session.consume(callId);
        break;
      }
      case 'approval.denied':
      case 'approval.timed_out': {
        const state = calls.get(String(d['call_id']));
        if (!state) break;
        const ms = Math.max(0, Date.parse(r.at) - state.startedMs);
        state.session.record(state.call, 'deny', 'denied', null, state.startedMs, ms, callId);
        calls.delete(String(d['call_id']));
        break;
      }
      case 'call.completed': {
        const state = calls.get(String(d['call_id']));
        if (!state) break;
        const result = d['result'];
        if (result && typeof result === 'object' && (result as { truncated?: unknown }).truncated === true) report.inexact.truncated_results++;
        const outcome = (d['outcome'] === 'success' ? 'success' : 'error') as Outcome;
        const ms = Number(d['duration_ms'] ?? 0);
        state.session.record(state.call, 'allow', outcome, result, state.startedMs, ms, callId);
        calls.delete(String(d['call_id']));
        break;
      }
      default:
        break;
    }
  }
  options.onProgress?.(read);
  report.sessions = sessions.size;
  report.elapsed_ms = Date.now() - started;
  report.decisions_per_second = report.elapsed_ms > 0 ? Math.round((report.decisions * 1000) / report.elapsed_ms) : report.decisions;
  return report;
}

/** The verdict a recorded `call.decided` stands for, before monitor mode (what enforcing it would do). */
export function recordedVerdict(d: Record<string, unknown>): ReplayVerdict {
  if (d['error'] || d['policy_allow'] !== true) return 'deny';
  const approval = (d['obligations'] as { approval?: { required?: unknown } } | undefined)?.approval;
  return approval?.required === true ? 'approval' : 'allow';
}

/** The verdict of a fresh evaluation, on the same terms as {@link recordedVerdict}. */
export function newVerdict(e: Evaluation): ReplayVerdict {
  if (e.error || !e.decision.allow) return 'deny';
  return e.decision.obligations.approval?.required === true ? 'approval' : 'allow';
}

function rulesOf(reasons: unknown): string[] {
  return Array.isArray(reasons) ? reasons.map((r) => String((r as { rule?: unknown })?.rule ?? '')).filter(Boolean) : [];
}
