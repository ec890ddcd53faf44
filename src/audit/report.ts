import { AuditError } from '../common/index.js';
import { readRecord } from './records.js';
import type { AuditRecord } from './types.js';

/** One tool call (or resource read, prompt get) as the audit trail saw it. */
export interface CallTrace {
  call_id: string;
  kind: string | null;
  server: string | null;
  tool: string | null;
  arguments: unknown;
  received_at: string | null;
  decision: {
    at: string;
    decision_id: string | null;
    allow: boolean;
    reasons: { rule?: string; message?: string }[];
    mode: string | null;
    enforced: boolean | null;
    monitored: boolean | null;
    revision: unknown;
    obligations: unknown;
  } | null;
  approvals: { type: string; at: string; by: string | null; comment: string | null }[];
  forwarded_at: string | null;
  completed: { at: string; outcome: string | null; duration_ms: number | null; result_digest: string | null } | null;
  /** First and last seq of this call's records. */
  seqs: [number, number];
}

export interface SessionReport {
  session_id: string;
  opened: { at: string; client: unknown; principal: unknown } | null;
  closed: { at: string; data: Record<string, unknown> } | null;
  calls: CallTrace[];
  /** Records of this session that belong to no call (other than open/close). */
  other: AuditRecord[];
  totals: { calls: number; allowed: number; denied: number; succeeded: number; failed: number };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : v === undefined || v === null ? null : String(v));

function reasonsOf(v: unknown): { rule?: string; message?: string }[] {
  if (!Array.isArray(v)) return [];
  return v.map((r) => (r && typeof r === 'object' ? (r as { rule?: string; message?: string }) : { message: String(r) }));
}

/** Folds one session's records (ascending seq) into a call-by-call trace. Pure. */
export function buildSessionReport(sessionId: string, records: AuditRecord[]): SessionReport {
  const report: SessionReport = {
    session_id: sessionId,
    opened: null,
    closed: null,
    calls: [],
    other: [],
    totals: { calls: 0, allowed: 0, denied: 0, succeeded: 0, failed: 0 },
  };
  const calls = new Map<string, CallTrace>();
  const callFor = (id: string, seq: number): CallTrace => {
    let call = calls.get(id);
    if (!call) {
      call = {
        call_id: id,
        kind: null,
        server: null,
        tool: null,
        arguments: undefined,
        received_at: null,
        decision: null,
        approvals: [],
        forwarded_at: null,
        completed: null,
        seqs: [seq, seq],
      };
      calls.set(id, call);
      report.calls.push(call);
    }
    call.seqs[1] = seq;
    return call;
  };
  for (const r of records) {
    if (r.session_id !== sessionId) continue;
    const d = r.data ?? {};
    if (r.type === 'session.opened') {
      report.opened = { at: r.at, client: d.client, principal: d.principal };
      continue;
    }
    if (r.type === 'session.closed') {
      report.closed = { at: r.at, data: d };
      continue;
    }
    const id = str(d.call_id);
    if (!id) {
      report.other.push(r);
      continue;
    }
    const call = callFor(id, r.seq);
    switch (r.type) {
      case 'call.received':
        call.kind = str(d.kind);
        call.server = str(d.server);
        call.tool = str(d.tool) ?? str(d.name);
        call.arguments = d.arguments;
        call.received_at = r.at;
        break;
      case 'call.decided':
        call.decision = {
          at: r.at,
          decision_id: str(d.decision_id),
          allow: d.allow === true,
          reasons: reasonsOf(d.reasons),
          mode: str(d.mode),
          enforced: typeof d.enforced === 'boolean' ? d.enforced : null,
          monitored: typeof d.monitored === 'boolean' ? d.monitored : null,
          revision: d.revision,
          obligations: d.obligations,
        };
        break;
      case 'call.forwarded':
        call.forwarded_at = r.at;
        call.server ??= str(d.server);
        break;
      case 'call.completed':
        call.completed = {
          at: r.at,
          outcome: str(d.outcome),
          duration_ms: typeof d.duration_ms === 'number' ? d.duration_ms : null,
          result_digest: str(d.result_digest),
        };
        break;
      default:
        if (r.type.startsWith('approval.')) {
          call.approvals.push({ type: r.type.slice('approval.'.length), at: r.at, by: str(d.by), comment: str(d.comment) });
        } else {
          report.other.push(r);
        }
    }
  }
  for (const call of report.calls) {
    report.totals.calls += 1;
    if (call.decision?.allow) report.totals.allowed += 1;
    else if (call.decision) report.totals.denied += 1;
    if (call.completed?.outcome === 'success') report.totals.succeeded += 1;
    else if (call.completed?.outcome === 'error') report.totals.failed += 1;
  }
  return report;
}

function clock(at: string | null | undefined): string {
  return at ? at.replace('T', ' ').replace('Z', '') : '?';
}

function short(value: unknown, max = 120): string {
  if (value === undefined) return '';
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Human-readable trace of a {@link SessionReport}. */
export function formatSessionReport(report: SessionReport): string {
  if (!report.opened && !report.closed && report.calls.length === 0 && report.other.length === 0) {
    throw new AuditError('audit_session_unknown', `no audit records for session "${report.session_id}"; list sessions with "warden audit export"`);
  }
  const out: string[] = [];
  out.push(`session ${report.session_id}`);
  if (report.opened) {
    out.push(`  opened  ${clock(report.opened.at)}  client ${short(report.opened.client, 80)}  principal ${short(report.opened.principal, 80)}`);
  }
  report.calls.forEach((call, i) => {
    const name = `${call.server ?? '?'}/${call.tool ?? '?'}`;
    out.push('');
    out.push(`  #${i + 1} ${name}${call.kind && call.kind !== 'tool' ? ` (${call.kind})` : ''}  call ${call.call_id}  [seq ${call.seqs[0]}-${call.seqs[1]}]`);
    if (call.received_at) out.push(`     received   ${clock(call.received_at)}  arguments ${short(call.arguments)}`);
    const d = call.decision;
    if (d) {
      const verdict = d.allow ? 'ALLOW' : 'DENY';
      const mode = [d.mode, d.enforced === false ? 'not enforced' : null, d.monitored ? 'monitored' : null].filter(Boolean).join(', ');
      out.push(`     decided    ${clock(d.at)}  ${verdict}${mode ? ` (${mode})` : ''}${d.decision_id ? `  decision ${d.decision_id}` : ''}`);
      for (const reason of d.reasons) out.push(`                reason: ${reason.rule ? `${reason.rule}: ` : ''}${reason.message ?? ''}`);
    } else {
      out.push('     decided    (no decision recorded)');
    }
    for (const a of call.approvals) {
      out.push(`     approval   ${clock(a.at)}  ${a.type}${a.by ? ` by ${a.by}` : ''}${a.comment ? `: ${a.comment}` : ''}`);
    }
    if (call.forwarded_at) out.push(`     forwarded  ${clock(call.forwarded_at)}`);
    if (call.completed) {
      const ms = call.completed.duration_ms === null ? '' : `  ${call.completed.duration_ms} ms`;
      out.push(`     completed  ${clock(call.completed.at)}  ${call.completed.outcome ?? '?'}${ms}`);
    } else if (d?.allow) {
      out.push('     completed  (no completion recorded)');
    }
  });
  for (const r of report.other) out.push(`  ${clock(r.at)}  ${r.type}  ${short(r.data)}  [seq ${r.seq}]`);
  if (report.closed) out.push('', `  closed  ${clock(report.closed.at)}`);
  const t = report.totals;
  out.push('', `  ${t.calls} calls: ${t.allowed} allowed, ${t.denied} denied; ${t.succeeded} succeeded, ${t.failed} failed`);
  return out.join('\n') + '\n';
}

const CSV_COLUMNS = ['seq', 'at', 'type', 'session_id', 'call_id', 'data', 'prev_hash', 'hash'] as const;

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** RFC 4180 header line for {@link toCsvLine}. */
export function csvHeader(): string {
  return CSV_COLUMNS.join(',') + '\r\n';
}

/** One record as an RFC 4180 CSV line; `data` is a JSON column, `call_id` is lifted out for filtering. */
export function toCsvLine(r: AuditRecord): string {
  const callId = typeof r.data?.['call_id'] === 'string' ? r.data['call_id'] : '';
  return [String(r.seq), r.at, r.type, r.session_id, callId, JSON.stringify(r.data), r.prev_hash, r.hash].map(csvField).join(',') + '\r\n';
}

/** Parses `--since`/`--until`: an ISO time, or an age such as `15m`, `24h`, `7d` before `now`. */
export function parseTimeArg(value: string, now: Date = new Date()): string {
  const rel = /^(\d+)\s*(s|m|h|d)$/.exec(value.trim());
  if (rel) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * unit).toISOString();
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new AuditError('audit_time_invalid', `"${value}" is not a time; use ISO 8601 (2025-01-31T12:00:00Z) or an age like 24h or 7d`);
  }
  return new Date(ms).toISOString();
}

/** One line per record for `warden audit tail`: seq, time, type, session, and what matters for the type. */
export function formatRecordLine(raw: AuditRecord): string {
  const r = readRecord(raw);
  let what: string;
  switch (r.type) {
    case 'session.opened':
      what = `client ${short(r.data.client, 60)} principal ${short(r.data.principal, 60)}`;
      break;
    case 'call.received':
      what = `${r.data.server || '?'}/${r.data.tool || r.data.name || '?'} ${short(r.data.arguments, 100)}`;
      break;
    case 'call.decided': {
      const reasons = r.data.reasons.map((x) => (x.rule ? `${x.rule}: ${x.message}` : x.message)).join('; ');
      const wouldDeny = [...new Set(r.data.monitored.map((x) => x.rule))].join(', ');
      what = `${r.data.allow ? 'ALLOW' : 'DENY'} (${r.data.mode})${reasons ? ` ${reasons}` : ''}`;
      if (wouldDeny) what += ` would deny: ${wouldDeny}`;
      break;
    }
    case 'call.forwarded':
      what = `to ${r.data.server || '?'}`;
      break;
    case 'call.completed':
      what = `${r.data.outcome} ${r.data.duration_ms} ms`;
      break;
    case 'approval.requested':
      what = r.data.approvers.length ? `from ${r.data.approvers.join(', ')}` : '';
      break;
    case 'approval.granted':
    case 'approval.denied':
    case 'approval.timed_out':
      what = `${r.data.by ?? ''}${r.data.comment ? `: ${r.data.comment}` : ''}`;
      break;
    case 'session.closed':
    case 'unknown':
      what = short(raw.data, 100);
      break;
  }
  const call = typeof raw.data?.['call_id'] === 'string' ? raw.data['call_id'] : null;
  const head = `${String(raw.seq).padStart(6)}  ${clock(raw.at)}  ${raw.type.padEnd(18)}  ${raw.session_id}`;
  return `${head}${call ? `  ${call}` : ''}  ${what}`.trimEnd() + '\n';
}
