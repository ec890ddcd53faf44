import { AuditError } from '../common/index.js';
import { readRecord } from './records.js';
import type { AuditRecord } from './types.js';

/** An ISO time as `warden audit` prints it: `2025-01-01 12:00:00.000` (UTC), or `?`. */
export function displayTime(at: string | null | undefined): string {
  return at ? at.replace('T', ' ').replace('Z', '') : '?';
}

/** A value's JSON, cut to `max` characters with an ellipsis ('' for undefined). */
export function previewJson(value: unknown, max = 120): string {
  if (value === undefined) return '';
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
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
  return (
    [String(r.seq), r.at, r.type, r.session_id, callId, JSON.stringify(r.data), r.prev_hash, r.hash]
      .map(csvField)
      .join(',') + '\r\n'
  );
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
    throw new AuditError(
      'audit_time_invalid',
      `"${value}" is not a time; use ISO 8601 (2025-01-31T12:00:00Z) or an age like 24h or 7d`,
    );
  }
  return new Date(ms).toISOString();
}

/** One line per record for `warden audit tail`: seq, time, type, session, and what matters for the type. */
export function formatRecordLine(raw: AuditRecord): string {
  const r = readRecord(raw);
  let what: string;
  switch (r.type) {
    case 'session.opened':
      what = `client ${previewJson(r.data.client, 60)} principal ${previewJson(r.data.principal, 60)}`;
      break;
    case 'call.received':
      what = `${r.data.server || '?'}/${r.data.tool || r.data.name || '?'} ${previewJson(r.data.arguments, 100)}`;
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
    case 'tool.pinned':
    case 'tool.changed':
      what = `${r.data.server}/${r.data.tool} ${r.data.digest.slice(0, 19)}`;
      if (r.data.findings.length) what += ` suspicious: ${[...new Set(r.data.findings.map((f) => f.kind))].join(', ')}`;
      break;
    case 'tool.accepted':
      what = `${r.data.server}/${r.data.tool} ${r.data.digest.slice(0, 19)} by ${r.data.by} (${r.data.via})`;
      break;
    case 'session.closed':
    case 'unknown':
      what = previewJson(raw.data, 100);
      break;
  }
  const call = typeof raw.data?.['call_id'] === 'string' ? raw.data['call_id'] : null;
  const head = `${String(raw.seq).padStart(6)}  ${displayTime(raw.at)}  ${raw.type.padEnd(18)}  ${raw.session_id}`;
  return `${head}${call ? `  ${call}` : ''}  ${what}`.trimEnd() + '\n';
}
