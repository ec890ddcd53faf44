import {
  isTruncatedResult,
  readRecord,
  type ApprovalAnsweredData,
  type ApprovalRequestedData,
  type AuditRecord,
  type ApprovalAnswered,
  type AuditRecordOf,
  type CallCompleted,
  type CallCompletedData,
  type CallDecided,
  type CallDecidedData,
  type CallReceived,
  type CallReceivedData,
  type SessionClosed,
  type SessionOpened,
  type SessionOpenedData,
  type UnknownRecord,
} from '../audit/index.js';
import { compactJson, setOwn } from '../common/index.js';

/** One `call.decided` record. A call held for approval has two: before and after the answer. */
export type DecisionRow = CallDecidedData & { seq: number; at: string };

/** A call's approval: asked for (`approval.requested`), then answered, or still pending. */
export interface ApprovalRow {
  requested_at: string;
  approvers: ApprovalRequestedData['approvers'];
  reason: ApprovalRequestedData['reason'];
  answered_at: string | null;
  /** approved, declined, cancelled, timed_out, unavailable; null while pending. */
  outcome: ApprovalAnsweredData['outcome'] | null;
  by: ApprovalAnsweredData['by'];
  via: ApprovalAnsweredData['via'];
  comment: ApprovalAnsweredData['comment'];
  /** The digest of the arguments it is bound to, when recorded (a retry must match it). */
  arguments_digest?: string;
}

/** The `call.completed` record, without its result (that is {@link CallRow.result}). */
export type CompletedRow = Pick<CallCompletedData, 'outcome' | 'duration_ms' | 'result_digest' | 'result_policy'> & {
  at: string;
  error: string | null;
  /** Labels the result policy gave the result ([] when none). */
  labels: string[];
};

/**
 * How a call ended, as the session's history records it (`session.record`): denied by its
 * decision or by a refused approval, or completed. Set once, by the record that ended it.
 */
export interface Settlement {
  seq: number;
  at: string;
  decision: 'allow' | 'deny';
  outcome: 'success' | 'error' | 'denied';
  duration_ms: number;
}

/** One call (tool call, resource read, prompt get) folded from its records. */
type ReceivedFields = 'kind' | 'server' | 'tool' | 'name' | 'arguments' | 'annotations' | 'uri' | 'trace_id';

export interface CallRow extends Pick<CallReceivedData, ReceivedFields> {
  call_id: string;
  session_id: string;
  /** seq and time of its first and latest record. */
  seq: number;
  last_seq: number;
  /** When it was received (its first record's time while `call.received` is missing). */
  at: string;
  last_at: string;
  /** The `call.received` record's time; null when the trail does not have it (archived away). */
  received_at: string | null;
  /** When the pipeline started it (`now_ms` of `call.received`), else its first record's time. */
  started_ms: number;
  decisions: DecisionRow[];
  approval: ApprovalRow | null;
  /** seq of `approval.granted`: from there on the approval is in the session's `input.approvals`. */
  approved_seq: number | null;
  forwarded_at: string | null;
  /** The call whose approval this one spent when it was forwarded (a retry of a pending approval). */
  approval_of?: string;
  completed: CompletedRow | null;
  /** The recorded result (with {@link FoldOptions.maxResultChars}: only when small and whole). */
  result: unknown;
  settled: Settlement | null;
}

export interface SessionRow {
  session_id: string;
  opened_at: string | null;
  closed_at: string | null;
  client: SessionOpenedData['client'] | null;
  principal: SessionOpenedData['principal'] | null;
  /** The replica that served it (`instance` of `session.opened`); null without that record or name. */
  instance: string | null;
  /** `started_at` of `session.opened` (the session's own clock); null without that record. */
  started_at: string | null;
  /** The session's calls still in the fold, oldest first. */
  calls: CallRow[];
  first_seq: number;
  last_seq: number;
  /** Its first record's time (opened_at when the trail has it). */
  first_at: string;
}

/**
 * What one record meant, for consumers that follow the trail event by event (replay rebuilds a
 * session's history from `call.approved` and `call.settled`, and asks its policy at `call.decided`).
 * Records of a call that has settled change its row but give no more steps.
 */
export type FoldStep =
  | { kind: 'session.opened'; session: SessionRow; record: AuditRecordOf<SessionOpened> }
  | { kind: 'session.closed'; session: SessionRow; record: AuditRecordOf<SessionClosed> }
  | { kind: 'call.received'; call: CallRow; record: AuditRecordOf<CallReceived> }
  | { kind: 'call.decided'; call: CallRow; decision: DecisionRow }
  | { kind: 'call.approved'; call: CallRow; approval: ApprovalRow }
  | { kind: 'call.settled'; call: CallRow; settled: Settlement }
  /** A record the model cannot read (see `readRecord`): kept for reports, tied to no call. */
  | { kind: 'other'; session: SessionRow; record: UnknownRecord };

export interface FoldOptions {
  /** Keep at most this many calls; the oldest go first (default: all). */
  maxCalls?: number;
  /** Keep at most this many sessions, with their calls; the oldest go first (default: all). */
  maxSessions?: number;
  /** Keep only argument values whose JSON has at most this many characters (default: all). */
  maxArgumentChars?: number;
  /** Keep a result only when its JSON has at most this many characters and it was not cut (default: all). */
  maxResultChars?: number;
  /** Forget a call once it has settled, so that only calls in flight are kept (replay of a long trail). */
  forgetSettled?: boolean;
}

/**
 * The one fold of audit records into calls and sessions. Pure and incremental: add records one at a
 * time in ascending seq; every reader of the trail (session reports, the admin API's index, workflow
 * status, compliance, replay) goes through it. Each record is read into the model by `readRecord`
 * first, so older records fold like new ones.
 *
 * @example
 * ```ts
 * const fold = new AuditFold();
 * for (const record of await store.read({ session })) fold.add(record);
 * for (const call of fold.session(session)?.calls ?? []) show(call.name, call.settled?.outcome);
 * ```
 */
export class AuditFold {
  private readonly callMap = new Map<string, CallRow>();
  private readonly sessionMap = new Map<string, SessionRow>();
  private lastSeq = 0;

  constructor(private readonly options: FoldOptions = {}) {}

  /** The newest seq folded in. */
  get seq(): number {
    return this.lastSeq;
  }

  /** Calls, oldest first. */
  calls(): IterableIterator<CallRow> {
    return this.callMap.values();
  }

  call(id: string): CallRow | undefined {
    return this.callMap.get(id);
  }

  /** Sessions, oldest first. */
  sessions(): IterableIterator<SessionRow> {
    return this.sessionMap.values();
  }

  session(id: string): SessionRow | undefined {
    return this.sessionMap.get(id);
  }

  /** Folds one stored record in (ascending seq) and says what it meant. */
  add(raw: AuditRecord): FoldStep[] {
    const r = readRecord(raw);
    this.lastSeq = r.seq;
    // Tool pins belong to no session: the pin ledger (tool-pins.ts) reads them.
    if (r.type === 'tool.pinned' || r.type === 'tool.changed' || r.type === 'tool.accepted') return [];
    const session = this.sessionFor(r.session_id, r.seq, r.at);
    session.last_seq = r.seq;
    switch (r.type) {
      case 'session.opened':
        session.opened_at = r.at;
        session.first_at = r.at;
        session.client = r.data.client;
        session.principal = r.data.principal;
        session.started_at = r.data.started_at;
        session.instance = r.data.instance ?? null;
        return [{ kind: 'session.opened', session, record: r }];
      case 'session.closed':
        session.closed_at = r.at;
        return [{ kind: 'session.closed', session, record: r }];
      case 'unknown':
        return [{ kind: 'other', session, record: r }];
      default:
        break;
    }

    const call = this.callFor(r.data.call_id, session, r.seq, r.at);
    call.last_seq = r.seq;
    call.last_at = r.at;
    switch (r.type) {
      case 'call.received':
        return this.received(call, r);
      case 'call.decided':
        return this.decided(call, r);
      case 'approval.requested':
        call.approval = { ...unasked(r.at), approvers: r.data.approvers, reason: r.data.reason };
        if (r.data.arguments_digest !== undefined) call.approval.arguments_digest = r.data.arguments_digest;
        return [];
      case 'approval.granted':
      case 'approval.denied':
      case 'approval.timed_out':
        return this.answered(call, r);
      case 'call.forwarded':
        call.forwarded_at = r.at;
        if (r.data.approval_of !== undefined) call.approval_of = r.data.approval_of;
        return [];
      case 'call.completed':
        return this.completed(call, r);
    }
  }

  private received(call: CallRow, r: AuditRecordOf<CallReceived>): FoldStep[] {
    const d = r.data;
    call.at = r.at;
    call.received_at = r.at;
    call.started_ms = d.now_ms;
    call.kind = d.kind;
    call.server = d.server;
    call.tool = d.tool;
    call.name = d.name;
    call.arguments = this.keptArguments(d.arguments);
    call.annotations = d.annotations;
    if (d.uri !== undefined) call.uri = d.uri;
    if (d.trace_id !== undefined) call.trace_id = d.trace_id;
    return [{ kind: 'call.received', call, record: r }];
  }

  private decided(call: CallRow, r: AuditRecordOf<CallDecided>): FoldStep[] {
    // Object.assign, not a spread: V8 copies these varied shapes (error?, held?) several times faster.
    const decision: DecisionRow = Object.assign({ seq: r.seq, at: r.at }, r.data);
    call.decisions.push(decision);
    if (call.settled) return [];
    // One round of approval: a decision after a granted approval ends the call even if it is
    // marked held (the pipeline then denies: the policy still asks for approval).
    const stillHeld = decision.held === true && call.approved_seq === null;
    const steps: FoldStep[] = [{ kind: 'call.decided', call, decision }];
    if (!decision.allow && !stillHeld) steps.push(this.settle(call, r, 'deny', 'denied', null));
    return steps;
  }

  private answered(call: CallRow, r: AuditRecordOf<ApprovalAnswered>): FoldStep[] {
    const approval: ApprovalRow = call.approval ?? unasked(r.at);
    approval.answered_at = r.at;
    approval.outcome = r.data.outcome;
    approval.by = r.data.by;
    approval.via = r.data.via;
    approval.comment = r.data.comment;
    call.approval = approval;
    if (call.settled) return [];
    if (r.type !== 'approval.granted') return [this.settle(call, r, 'deny', 'denied', null)];
    call.approved_seq = r.seq;
    return [{ kind: 'call.approved', call, approval }];
  }

  private completed(call: CallRow, r: AuditRecordOf<CallCompleted>): FoldStep[] {
    const { outcome, duration_ms, result_digest, error, labels, result_policy } = r.data;
    call.completed = {
      at: r.at,
      outcome,
      duration_ms,
      result_digest,
      error: error ?? null,
      labels: labels ?? [],
      ...(result_policy ? { result_policy } : {}),
    };
    call.result = this.keptResult(r.data.result);
    return call.settled ? [] : [this.settle(call, r, 'allow', outcome, duration_ms)];
  }

  /** Ends the call for the session's history; a denial lasted from the call's start to `record`. */
  private settle(
    call: CallRow,
    record: { seq: number; at: string },
    decision: Settlement['decision'],
    outcome: Settlement['outcome'],
    durationMs: number | null,
  ): FoldStep {
    const { seq, at } = record;
    const duration = durationMs ?? Math.max(0, Date.parse(at) - call.started_ms);
    const settled: Settlement = { seq, at, decision, outcome, duration_ms: duration };
    call.settled = settled;
    if (this.options.forgetSettled) this.forget(call);
    return { kind: 'call.settled', call, settled };
  }

  private forget(call: CallRow): void {
    this.callMap.delete(call.call_id);
    const calls = this.sessionMap.get(call.session_id)?.calls;
    const i = calls ? calls.lastIndexOf(call) : -1;
    if (i >= 0) calls!.splice(i, 1);
  }

  private callFor(callId: string, session: SessionRow, seq: number, at: string): CallRow {
    let call = this.callMap.get(callId);
    if (call) return call;
    call = {
      call_id: callId,
      session_id: session.session_id,
      seq,
      last_seq: seq,
      at,
      last_at: at,
      received_at: null,
      started_ms: Date.parse(at),
      kind: 'tool',
      server: '',
      tool: '',
      name: '',
      arguments: {},
      annotations: {},
      decisions: [],
      approval: null,
      approved_seq: null,
      forwarded_at: null,
      completed: null,
      result: undefined,
      settled: null,
    };
    this.callMap.set(callId, call);
    session.calls.push(call);
    this.evictCalls();
    return call;
  }

  private sessionFor(id: string, seq: number, at: string): SessionRow {
    let s = this.sessionMap.get(id);
    if (s) return s;
    s = emptySession(id, seq, at);
    this.sessionMap.set(id, s);
    const max = this.options.maxSessions ?? Infinity;
    while (this.sessionMap.size > max) {
      const [oldest] = this.sessionMap.values();
      this.sessionMap.delete(oldest!.session_id);
      for (const c of oldest!.calls) this.callMap.delete(c.call_id);
    }
    return s;
  }

  private evictCalls(): void {
    const max = this.options.maxCalls ?? Infinity;
    while (this.callMap.size > max) {
      const [oldest] = this.callMap.values();
      this.callMap.delete(oldest!.call_id);
      const s = this.sessionMap.get(oldest!.session_id);
      if (s && s.calls[0] === oldest) s.calls.shift();
    }
  }

  private keptArguments(args: Record<string, unknown>): Record<string, unknown> {
    const max = this.options.maxArgumentChars;
    if (max === undefined) return args;
    // compactJson: a recorded value may nest deeper than JSON.stringify's stack reaches; setOwn keeps
    // an argument named `__proto__` (assignment would set the copy's prototype instead).
    const out: Record<string, unknown> = {};
    for (const [k, value] of Object.entries(args)) {
      const text = compactJson(value);
      if (text !== undefined && text.length <= max) setOwn(out, k, value);
    }
    return out;
  }

  private keptResult(result: CallCompletedData['result']): unknown {
    const max = this.options.maxResultChars;
    if (max === undefined) return result;
    if (isTruncatedResult(result)) return undefined;
    const text = compactJson(result);
    return text !== undefined && text.length <= max ? result : undefined;
  }
}

/** A session row before any of its records but the first. */
export function emptySession(id: string, seq: number, at: string): SessionRow {
  return {
    session_id: id,
    opened_at: null,
    closed_at: null,
    client: null,
    principal: null,
    instance: null,
    started_at: null,
    calls: [],
    first_seq: seq,
    last_seq: seq,
    first_at: at,
  };
}

function unasked(at: string): ApprovalRow {
  return {
    requested_at: at,
    approvers: [],
    reason: null,
    answered_at: null,
    outcome: null,
    by: null,
    via: null,
    comment: null,
  };
}
