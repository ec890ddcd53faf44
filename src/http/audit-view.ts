import type { AuditRecord, AuditStore } from '../audit/index.js';
import { compactJson, setOwn } from '../common/index.js';

/** One reason as the policy gave it (`workflow` and `step` when a workflow rule gave it). */
export interface ReasonRow {
  rule: string;
  message: string;
  workflow?: string;
  step?: string;
}

/** One `call.decided` record. A call held for approval has two: before and after the answer. */
export interface DecisionRow {
  decision_id: string;
  at: string;
  allow: boolean;
  policy_allow: boolean;
  reasons: ReasonRow[];
  monitored: ReasonRow[];
  revision: string;
  mode: string;
  held: boolean;
  error: string | null;
}

export interface ApprovalRow {
  requested_at: string;
  approvers: string[];
  reason: string | null;
  answered_at: string | null;
  /** approved, declined, cancelled, timed_out, unavailable; null while pending. */
  outcome: string | null;
  by: string | null;
  via: string | null;
  comment: string | null;
}

/** What the call finally came to. */
export type CallOutcome = 'success' | 'error' | 'denied' | 'held' | 'running';

/** One call (tool call, resource read, prompt get) folded from its audit records. */
export interface CallRow {
  call_id: string;
  session_id: string;
  /** seq of its first and latest record. */
  seq: number;
  last_seq: number;
  /** When it was received. */
  at: string;
  last_at: string;
  kind: string;
  server: string;
  name: string;
  /**
   * Its arguments, keeping only small values (the index stays small; the full record is in the
   * audit trail): enough for the policy to correlate steps when a session is judged.
   */
  arguments: Record<string, unknown>;
  decisions: DecisionRow[];
  approval: ApprovalRow | null;
  forwarded_at: string | null;
  completed: { at: string; outcome: string; duration_ms: number | null; error: string | null } | null;
  /** The recorded result when it is small and whole (for reject_if checks when judging a session). */
  result: unknown;
}

export interface SessionRow {
  session_id: string;
  opened_at: string | null;
  closed_at: string | null;
  client: unknown;
  principal: { sub?: string; roles?: string[]; claims?: unknown } | null;
  /** The session's calls still in the index, oldest first. */
  calls: CallRow[];
  first_seq: number;
  last_seq: number;
  /** Its first record's time (opened_at when the trail has it). */
  first_at: string;
}

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

const MAX_ARG_CHARS = 256;
const MAX_RESULT_CHARS = 4096;
const PAGE = 2000;

/**
 * An in-memory index of the audit trail, folded call by call and session by session, that the
 * admin API and dashboard query. It follows the store incrementally (`sync` reads the records
 * appended since the last one it saw), so it also sees calls other replicas record in a shared
 * PostgreSQL trail. At most `maxCalls` calls are kept (the oldest go first); the audit trail
 * itself, and `GET /admin/audit/report`, always have everything.
 *
 * @example
 * ```ts
 * const view = new AuditView(warden.audit);
 * await view.sync();
 * for (const call of view.recentCalls()) show(call.name, summarize(call).outcome);
 * ```
 */
export class AuditView {
  private readonly calls = new Map<string, CallRow>();
  private readonly sessions = new Map<string, SessionRow>();
  private lastSeq = 0;
  private syncing: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<AuditStore, 'read'>,
    private readonly options: { maxCalls?: number; maxSessions?: number } = {},
  ) {}

  /** The newest seq folded in. */
  get seq(): number {
    return this.lastSeq;
  }

  /** Reads what was appended since the last sync. Concurrent callers share one read. */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
      try {
        for (;;) {
          const page = await this.store.read({ sinceSeq: this.lastSeq, limit: PAGE });
          for (const r of page) this.fold(r);
          if (page.length > 0) this.lastSeq = page[page.length - 1]!.seq;
          if (page.length < PAGE) return;
        }
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  /** Calls, newest first. */
  recentCalls(): CallRow[] {
    return [...this.calls.values()].reverse();
  }

  call(id: string): CallRow | undefined {
    return this.calls.get(id);
  }

  /** Sessions, newest first. */
  allSessions(): SessionRow[] {
    return [...this.sessions.values()].reverse();
  }

  session(id: string): SessionRow | undefined {
    return this.sessions.get(id);
  }

  /** Folds one record in (ascending seq). */
  fold(r: AuditRecord): void {
    const d = (r.data ?? {}) as Record<string, unknown>;
    const session = this.sessionFor(r);
    if (r.type === 'session.opened') {
      session.opened_at = r.at;
      session.first_at = r.at;
      session.client = d['client'] ?? null;
      session.principal = (d['principal'] as SessionRow['principal']) ?? null;
      return;
    }
    if (r.type === 'session.closed') {
      session.closed_at = r.at;
      return;
    }
    const callId = typeof d['call_id'] === 'string' ? d['call_id'] : null;
    if (!callId) return;
    let call = this.calls.get(callId);
    if (!call) {
      call = {
        call_id: callId, session_id: r.session_id, seq: r.seq, last_seq: r.seq, at: r.at, last_at: r.at, kind: 'tool', server: '', name: '',
        arguments: {}, decisions: [], approval: null, forwarded_at: null, completed: null, result: undefined,
      };
      this.calls.set(callId, call);
      session.calls.push(call);
      this.evict();
    }
    call.last_seq = r.seq;
    call.last_at = r.at;
    switch (r.type) {
      case 'call.received':
        call.at = r.at;
        call.kind = str(d['kind']) ?? 'tool';
        call.server = str(d['server']) ?? '';
        call.name = str(d['name']) ?? str(d['tool']) ?? '';
        call.arguments = smallArguments(d['arguments']);
        break;
      case 'call.decided':
        call.decisions.push({
          decision_id: str(d['decision_id']) ?? '',
          at: r.at,
          allow: d['allow'] === true,
          policy_allow: d['policy_allow'] === true,
          reasons: reasons(d['reasons']),
          monitored: reasons(d['monitored']),
          revision: str(d['revision']) ?? '',
          mode: str(d['mode']) ?? 'enforce',
          held: d['held'] === true,
          error: d['error'] && typeof d['error'] === 'object' ? (str((d['error'] as Record<string, unknown>)['message']) ?? 'policy error') : null,
        });
        break;
      case 'approval.requested':
        call.approval = {
          requested_at: r.at, approvers: Array.isArray(d['approvers']) ? d['approvers'].filter((a): a is string => typeof a === 'string') : [],
          reason: str(d['reason']), answered_at: null, outcome: null, by: null, via: null, comment: null,
        };
        break;
      case 'approval.granted':
      case 'approval.denied':
      case 'approval.timed_out':
        call.approval ??= { requested_at: r.at, approvers: [], reason: null, answered_at: null, outcome: null, by: null, via: null, comment: null };
        call.approval.answered_at = r.at;
        call.approval.outcome = str(d['outcome']) ?? (r.type === 'approval.granted' ? 'approved' : r.type === 'approval.timed_out' ? 'timed_out' : 'declined');
        call.approval.by = str(d['by']);
        call.approval.via = str(d['via']);
        call.approval.comment = str(d['comment']);
        break;
      case 'call.forwarded':
        call.forwarded_at = r.at;
        break;
      case 'call.completed':
        call.completed = { at: r.at, outcome: str(d['outcome']) ?? 'error', duration_ms: typeof d['duration_ms'] === 'number' ? d['duration_ms'] : null, error: str(d['error']) };
        call.result = smallResult(d['result']);
        break;
      default:
        break;
    }
    session.last_seq = r.seq;
  }

  private sessionFor(r: AuditRecord): SessionRow {
    let s = this.sessions.get(r.session_id);
    if (!s) {
      s = { session_id: r.session_id, opened_at: null, closed_at: null, client: null, principal: null, calls: [], first_seq: r.seq, last_seq: r.seq, first_at: r.at };
      this.sessions.set(r.session_id, s);
      const max = this.options.maxSessions ?? 20_000;
      while (this.sessions.size > max) {
        const [oldest] = this.sessions.values();
        this.sessions.delete(oldest!.session_id);
        for (const c of oldest!.calls) this.calls.delete(c.call_id);
      }
    }
    return s;
  }

  private evict(): void {
    const max = this.options.maxCalls ?? 100_000;
    while (this.calls.size > max) {
      const [oldest] = this.calls.values();
      this.calls.delete(oldest!.call_id);
      const s = this.sessions.get(oldest!.session_id);
      if (s && s.calls[0] === oldest) s.calls.shift();
    }
  }
}

/**
 * What a call came to. A held call's first decision denies with `warden.approval_required`
 * while it waits; the answer settles it: a refusal or timeout denies (with that reason), an
 * approval leads to a second decision and, when allowed, a completion.
 */
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
  let reasonList = final?.reasons ?? [];
  if (refused) {
    reasonList = [{ rule: 'warden.approval_required', message: `approval ${approval.outcome?.replace('_', ' ')}${approval.by ? ` by ${approval.by}` : ''}${approval.comment ? `: ${approval.comment}` : ''}` }];
  }
  const duration = call.completed?.duration_ms ?? (outcome === 'denied' ? Math.max(0, Date.parse(call.last_at) - Date.parse(call.at)) : null);
  return {
    outcome,
    allow: outcome === 'success' || outcome === 'error' || outcome === 'running',
    reasons: outcome === 'denied' || outcome === 'held' ? reasonList : [],
    monitored: final?.monitored ?? [],
    revision: final?.revision ?? '',
    mode: final?.mode ?? 'enforce',
    decision_id: final?.decision_id ?? null,
    duration_ms: duration,
    held: call.decisions.some((x) => x.held),
  };
}

/** A policy's own rule denied the call (not Warden: approvals, policy failures, audit outages). */
export function isViolationRule(rule: string): boolean {
  return !rule.startsWith('warden.');
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : v === undefined || v === null ? null : String(v);
}

function reasons(v: unknown): ReasonRow[] {
  if (!Array.isArray(v)) return [];
  return v.map((r) => {
    const o = (r && typeof r === 'object' ? r : { message: String(r) }) as Record<string, unknown>;
    return {
      rule: str(o['rule']) ?? '',
      message: str(o['message']) ?? '',
      ...(typeof o['workflow'] === 'string' ? { workflow: o['workflow'] } : {}),
      ...(typeof o['step'] === 'string' ? { step: o['step'] } : {}),
    };
  });
}

// compactJson: a recorded value may nest deeper than JSON.stringify's stack reaches; setOwn keeps
// an argument named `__proto__` (assignment would set the copy's prototype instead).
function smallArguments(v: unknown): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(v)) {
    const text = compactJson(value);
    if (text !== undefined && text.length <= MAX_ARG_CHARS) setOwn(out, k, value);
  }
  return out;
}

function smallResult(v: unknown): unknown {
  if (!v || typeof v !== 'object' || (v as { truncated?: unknown }).truncated === true) return undefined;
  const text = compactJson(v);
  return text !== undefined && text.length <= MAX_RESULT_CHARS ? v : undefined;
}
