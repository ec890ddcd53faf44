import {
  displayTime,
  previewJson,
  type AuditRecord,
  type SessionClosedData,
  type SessionOpenedData,
} from '../audit/index.js';
import { AuditError } from '../common/index.js';
import {
  AuditFold,
  emptySession,
  type ApprovalRow,
  type CallRow,
  type CompletedRow,
  type DecisionRow,
  type SessionRow,
} from './fold.js';

/** One approval record of a call: asked for, then granted, denied or timed out. */
export interface ApprovalTrace {
  type: 'requested' | 'granted' | 'denied' | 'timed_out';
  at: string;
  by: string | null;
  comment: string | null;
  /** On `requested`: who may approve, and the policy's reason. */
  approvers?: ApprovalRow['approvers'];
  reason?: ApprovalRow['reason'];
  /** On an answer: how it was answered, and through which channel. */
  outcome?: NonNullable<ApprovalRow['outcome']>;
  via?: ApprovalRow['via'];
}

/** One tool call (or resource read, prompt get) as the audit trail saw it. */
export interface CallTrace {
  call_id: string;
  /** null when the trail has no `call.received` for it (archived away). */
  kind: string | null;
  server: string | null;
  tool: string | null;
  name: string | null;
  arguments: unknown;
  received_at: string | null;
  /** The decision that stands: a held call's second one. */
  decision: DecisionRow | null;
  /** Every decision, in order (a held call has two: before and after the approver's answer). */
  decisions: DecisionRow[];
  approvals: ApprovalTrace[];
  forwarded_at: string | null;
  completed: CompletedRow | null;
  /**
   * The standing decision was not enforced: a rule in monitor mode (or `policy.mode: monitor`)
   * would have denied the call, or the policy denied it and monitor mode let it through.
   */
  would_deny: boolean;
  /** First and last seq of this call's records. */
  seqs: [number, number];
}

export interface SessionReport {
  session_id: string;
  opened: {
    at: string;
    client: SessionOpenedData['client'] | null;
    principal: SessionOpenedData['principal'] | null;
  } | null;
  closed: { at: string; data: SessionClosedData } | null;
  calls: CallTrace[];
  /** Records of this session that belong to no call (types this version does not know), as stored. */
  other: AuditRecord[];
  totals: { calls: number; allowed: number; denied: number; succeeded: number; failed: number; would_deny: number };
}

/**
 * Folds records (ascending seq) into one call-by-call trace per session, in the order the sessions
 * first appear; with `only`, just that session's. Pure.
 *
 * @example
 * ```ts
 * const [report] = buildSessionReports(await store.read({ session: id }), id);
 * process.stdout.write(formatSessionReport(report));
 * ```
 */
export function buildSessionReports(records: Iterable<AuditRecord>, only?: string): SessionReport[] {
  const fold = new AuditFold();
  const other = new Map<string, AuditRecord[]>();
  const closed = new Map<string, SessionReport['closed']>();
  for (const record of records) {
    if (only !== undefined && record.session_id !== only) continue;
    for (const step of fold.add(record)) {
      if (step.kind === 'session.closed') {
        closed.set(step.session.session_id, { at: step.record.at, data: step.record.data });
      }
      if (step.kind === 'other') {
        const { stored_type, problem: _problem, legacy: _legacy, type: _type, ...r } = step.record;
        const list = other.get(r.session_id) ?? [];
        list.push({ ...r, type: stored_type });
        other.set(r.session_id, list);
      }
    }
  }
  return [...fold.sessions()].map((s) => {
    return sessionReport(s, other.get(s.session_id) ?? [], closed.get(s.session_id) ?? null);
  });
}

/** One session's trace; see {@link buildSessionReports}. */
export function buildSessionReport(sessionId: string, records: Iterable<AuditRecord>): SessionReport {
  return buildSessionReports(records, sessionId)[0] ?? sessionReport(emptySession(sessionId, 0, ''), [], null);
}

function sessionReport(row: SessionRow, other: AuditRecord[], closed: SessionReport['closed']): SessionReport {
  const calls = row.calls.map(callTrace);
  const totals = { calls: 0, allowed: 0, denied: 0, succeeded: 0, failed: 0, would_deny: 0 };
  for (const call of calls) {
    totals.calls += 1;
    if (call.decision?.allow) totals.allowed += 1;
    else if (call.decision) totals.denied += 1;
    if (call.completed?.outcome === 'success') totals.succeeded += 1;
    else if (call.completed?.outcome === 'error') totals.failed += 1;
    if (call.would_deny) totals.would_deny += 1;
  }
  return {
    session_id: row.session_id,
    opened: row.opened_at ? { at: row.opened_at, client: row.client, principal: row.principal } : null,
    closed,
    calls,
    other,
    totals,
  };
}

function callTrace(call: CallRow): CallTrace {
  const received = call.received_at !== null;
  const decision = call.decisions[call.decisions.length - 1] ?? null;
  return {
    call_id: call.call_id,
    kind: received ? call.kind : null,
    server: received ? call.server : null,
    tool: received ? call.tool : null,
    name: received ? call.name : null,
    arguments: received ? call.arguments : undefined,
    received_at: call.received_at,
    decision,
    decisions: call.decisions,
    approvals: approvalTraces(call.approval),
    forwarded_at: call.forwarded_at,
    completed: call.completed,
    would_deny: decision !== null && wouldDeny(decision),
    seqs: [call.seq, call.last_seq],
  };
}

function wouldDeny(d: DecisionRow): boolean {
  return d.monitored.length > 0 || (d.allow && !d.policy_allow);
}

function approvalTraces(a: ApprovalRow | null): ApprovalTrace[] {
  if (!a) return [];
  const out: ApprovalTrace[] = [
    { type: 'requested', at: a.requested_at, by: null, comment: null, approvers: a.approvers, reason: a.reason },
  ];
  if (a.outcome !== null && a.answered_at !== null) {
    const type = a.outcome === 'approved' ? 'granted' : a.outcome === 'timed_out' ? 'timed_out' : 'denied';
    out.push({ type, at: a.answered_at, by: a.by, comment: a.comment, outcome: a.outcome, via: a.via });
  }
  return out;
}

/** Human-readable trace of a {@link SessionReport}. */
export function formatSessionReport(report: SessionReport): string {
  if (!report.opened && !report.closed && report.calls.length === 0 && report.other.length === 0) {
    const message = `no audit records for session "${report.session_id}"; list sessions with "warden audit export"`;
    throw new AuditError('audit_session_unknown', message);
  }
  const out: string[] = [];
  out.push(`session ${report.session_id}`);
  if (report.opened) {
    const { at, client, principal } = report.opened;
    const who = `client ${previewJson(client, 80)}  principal ${previewJson(principal, 80)}`;
    out.push(`  opened  ${displayTime(at)}  ${who}`);
  }
  report.calls.forEach((call, i) => {
    const name = `${call.server ?? '?'}/${call.tool ?? '?'}`;
    const kind = call.kind && call.kind !== 'tool' ? ` (${call.kind})` : '';
    out.push('', `  #${i + 1} ${name}${kind}  call ${call.call_id}  [seq ${call.seqs[0]}-${call.seqs[1]}]`);
    if (call.received_at) {
      out.push(`     received   ${displayTime(call.received_at)}  arguments ${previewJson(call.arguments)}`);
    }
    const [first, ...later] = call.decisions;
    if (first) out.push(...decisionLines(first));
    else out.push('     decided    (no decision recorded)');
    for (const a of call.approvals) out.push(approvalLine(a));
    for (const d of later) out.push(...decisionLines(d));
    if (call.forwarded_at) out.push(`     forwarded  ${displayTime(call.forwarded_at)}`);
    if (call.completed) {
      const { at, outcome, duration_ms: ms, error } = call.completed;
      out.push(`     completed  ${displayTime(at)}  ${outcome}  ${ms} ms${error ? `  error: ${error}` : ''}`);
    } else if (call.decision?.allow) {
      out.push('     completed  (no completion recorded)');
    }
  });
  for (const r of report.other) out.push(`  ${displayTime(r.at)}  ${r.type}  ${previewJson(r.data)}  [seq ${r.seq}]`);
  if (report.closed) out.push('', `  closed  ${displayTime(report.closed.at)}`);
  const t = report.totals;
  const notEnforced = t.would_deny > 0 ? `; ${t.would_deny} would have been denied (not enforced)` : '';
  const outcomes = `${t.allowed} allowed, ${t.denied} denied; ${t.succeeded} succeeded, ${t.failed} failed`;
  out.push('', `  ${t.calls} calls: ${outcomes}${notEnforced}`);
  return out.join('\n') + '\n';
}

// `ALLOW (monitor, not enforced, would deny)`: the policy denied, monitor mode let it through.
function decisionLines(d: DecisionRow): string[] {
  const verdict = d.held === true && !d.allow ? 'HOLD' : d.allow ? 'ALLOW' : 'DENY';
  const notes = [
    d.mode,
    d.allow && !d.policy_allow ? 'not enforced' : null,
    d.monitored.length > 0 ? 'would deny' : null,
    d.error ? 'policy error' : null,
  ];
  const tags = notes.filter(Boolean).join(', ');
  const id = d.decision_id ? `  decision ${d.decision_id}` : '';
  const lines = [`     decided    ${displayTime(d.at)}  ${verdict} (${tags})${id}`];
  for (const r of d.reasons) lines.push(`                reason: ${r.rule ? `${r.rule}: ` : ''}${r.message}`);
  for (const r of d.monitored) lines.push(`                would deny: ${r.rule ? `${r.rule}: ` : ''}${r.message}`);
  if (d.error) lines.push(`                policy error: ${d.error.code}: ${d.error.message}`);
  return lines;
}

function approvalLine(a: ApprovalTrace): string {
  if (a.type === 'requested') {
    const from = a.approvers?.length ? ` from ${a.approvers.join(', ')}` : '';
    return `     approval   ${displayTime(a.at)}  requested${from}${a.reason ? `: ${a.reason}` : ''}`;
  }
  const by = a.by ? ` by ${a.by}` : '';
  return `     approval   ${displayTime(a.at)}  ${a.type}${by}${a.comment ? `: ${a.comment}` : ''}`;
}
