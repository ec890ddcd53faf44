import type { Principal } from '../config/index.js';
import type { AuditRecord } from './types.js';

// The audit trail's record model (docs/audit.md, "What is recorded"): one variant per event type,
// with the exact `data` the pipeline writes, a typed constructor for each, and `readRecord`, the
// one place that reads a stored record of any version back into the model.

/** A reason as a decision record keeps it (the policy's `Reason`). */
export interface RecordedReason {
  rule: string;
  message: string;
  workflow?: string;
  step?: string;
  [extra: string]: unknown;
}

/** The decision's obligations as the policy returned them. */
export interface RecordedObligations {
  approval?: {
    required: boolean;
    reason?: string;
    approvers?: string[];
    /** The policy's reasons that stand when the approval is not given (the flow rule's). */
    reasons?: RecordedReason[];
    [extra: string]: unknown;
  };
  audit?: { required: boolean };
  [name: string]: unknown;
}

export type RecordedCallKind = 'tool' | 'resource' | 'prompt';

/** How an approval request was answered (the approval broker's outcome). */
export type ApprovalAnswer = 'approved' | 'declined' | 'cancelled' | 'timed_out' | 'unavailable';

/** A result longer than `audit.resultMaxChars` (as JSON): its length and the start of its JSON. */
export interface TruncatedResult {
  truncated: true;
  chars: number;
  preview: string;
}

export interface SessionOpenedData {
  client: { name: string; version: string };
  principal: Principal;
  started_at: string;
  /** `instance` of the Warden that served the session (which replica); absent in older records. */
  instance?: string;
}

export interface SessionClosedData {
  /** Calls the session finished (denied ones included). */
  calls: number;
}

export interface CallReceivedData {
  call_id: string;
  kind: RecordedCallKind;
  server: string;
  /** The downstream's own name of the tool or prompt (for resources, the URI). */
  tool: string;
  /** The name the client used (with the server's prefix, if any). */
  name: string;
  /** The arguments as sent (after redaction); `{}` when they were refused for their size. */
  arguments: Record<string, unknown>;
  /** Present when the arguments were over `limits.*`: what they measured, in place of them. */
  arguments_refused?: RefusedArguments;
  annotations: Record<string, unknown>;
  uri?: string;
  /** The pipeline's clock when the call arrived: the call's `started` time, in ms since the epoch. */
  now_ms: number;
  /** The trace id of the request's W3C `traceparent`, when it carries one (the `trace` history scope). */
  trace_id?: string;
  /** The trace of Warden's own span for the call, when it started one because the request carried none. */
  span_trace_id?: string;
}

/** What a refused call's arguments measured (`limits.argumentsMaxDepth`, `limits.argumentsMaxBytes`). */
export interface RefusedArguments {
  depth: number;
  bytes: number;
  /** SHA-256 of the arguments' RFC 8785 JSON after redaction. */
  digest: string;
  max_depth: number;
  max_bytes: number;
}

export interface CallDecidedData {
  call_id: string;
  /** The decision log's `decision_id` (a held call's second decision has its own). */
  decision_id: string;
  /** What Warden enforced: after `policy.mode`, obligations and approvals. */
  allow: boolean;
  /** The policy's own `allow`, before monitor mode and obligations. */
  policy_allow: boolean;
  /** Why the call is denied (empty when allowed). */
  reasons: RecordedReason[];
  /** Reasons that would have denied but were not enforced (monitor mode, per-rule monitor). */
  monitored: RecordedReason[];
  obligations: RecordedObligations;
  revision: string;
  mode: 'enforce' | 'monitor';
  /** The time the policy was given (`input.now_ms`). */
  now_ms: number;
  /** The policy failed and Warden failed closed. */
  error?: { code: string; message: string };
  /** The call waits for an approver; a second decision follows the answer. */
  held?: true;
  /** The rule that refused the call before the policy ran (its arguments were over `limits.*`). */
  refused?: string;
}

export interface ApprovalRequestedData {
  call_id: string;
  name: string;
  approvers: string[];
  reason: string | null;
  /** The digest of the call's arguments the approval is bound to (`approval.stateKey`): a retry must match it. */
  arguments_digest?: string;
}

/** The data of `approval.granted`, `approval.denied` and `approval.timed_out`. */
export interface ApprovalAnsweredData {
  call_id: string;
  outcome: ApprovalAnswer;
  by: string | null;
  via: 'elicitation' | 'admin' | null;
  comment: string | null;
}

export interface CallForwardedData {
  call_id: string;
  server: string;
  /** The call whose approval this call spent (a retry after its approval was pending). */
  approval_of?: string;
}

export interface CallCompletedData {
  call_id: string;
  /** `error`: the tool reported `isError`, or the forward failed (then `error` says why). */
  outcome: 'success' | 'error';
  duration_ms: number;
  /** `sha256:` of the whole result's JSON, whatever was kept of it. */
  result_digest: string;
  result: Record<string, unknown> | TruncatedResult;
  error?: string;
  /** The result policy redacted or withheld the result: `result` is what the client received. */
  result_policy?: { action: 'redact' | 'deny'; rules: string[]; redacted: Record<string, number> };
  /** Labels the result policy gave the result (`secret`, `pii`, ...): they reach later history. */
  labels?: string[];
}

/** The fields of a tool's definition that Warden pins (the digest covers exactly these). */
export interface ToolDefinition {
  name: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

/** What the policy's definition check (`mcp/definition`) found in a tool's definition. */
export interface ToolFinding {
  kind: string;
  /** Where in the definition (a JSON pointer, `/description`). */
  path: string;
  text: string;
}

/** How a server's tool changes are handled (`mcpServers.<name>.tools.onChange`). */
export type ToolChangePolicy = 'deny' | 'monitor' | 'accept';

/** The data of `tool.pinned`: the first definition Warden saw of a tool of a server. */
export interface ToolPinnedData {
  server: string;
  /** The downstream's own name of the tool. */
  tool: string;
  /** `sha256:` of the RFC 8785 JSON of {@link ToolDefinition}. */
  digest: string;
  definition: ToolDefinition;
  /** The definition check's findings; a definition with findings is held until accepted. */
  findings: ToolFinding[];
  /** The replica that saw it. */
  instance: string;
}

/** The data of `tool.changed`: a server offered a definition other than the accepted one. */
export interface ToolChangedData extends ToolPinnedData {
  /** The accepted definition's digest (null when none was accepted yet). */
  previous_digest: string | null;
  on_change: ToolChangePolicy;
}

/** The data of `tool.accepted`: a definition calls may use from now on. */
export interface ToolAcceptedData {
  server: string;
  tool: string;
  digest: string;
  by: string;
  /** `config`: accepted by `tools.onChange: accept`. */
  via: 'cli' | 'admin' | 'config';
  comment: string | null;
}

interface EventOf<T extends string, D> {
  type: T;
  session_id: string;
  data: D;
  /** ISO 8601 time; defaults to now. Stored normalised to UTC (`toISOString()`). */
  at?: string;
}

export type SessionOpened = EventOf<'session.opened', SessionOpenedData>;
export type SessionClosed = EventOf<'session.closed', SessionClosedData>;
export type CallReceived = EventOf<'call.received', CallReceivedData>;
export type CallDecided = EventOf<'call.decided', CallDecidedData>;
export type ApprovalRequested = EventOf<'approval.requested', ApprovalRequestedData>;
export type ApprovalGranted = EventOf<'approval.granted', ApprovalAnsweredData>;
export type ApprovalDenied = EventOf<'approval.denied', ApprovalAnsweredData>;
export type ApprovalTimedOut = EventOf<'approval.timed_out', ApprovalAnsweredData>;
export type ApprovalAnswered = ApprovalGranted | ApprovalDenied | ApprovalTimedOut;
export type CallForwarded = EventOf<'call.forwarded', CallForwardedData>;
export type CallCompleted = EventOf<'call.completed', CallCompletedData>;
export type ToolPinned = EventOf<'tool.pinned', ToolPinnedData>;
export type ToolChanged = EventOf<'tool.changed', ToolChangedData>;
export type ToolAccepted = EventOf<'tool.accepted', ToolAcceptedData>;
/** The records of tool pinning (docs/tool-pinning.md); their `session_id` is empty. */
export type ToolEvent = ToolPinned | ToolChanged | ToolAccepted;

/** Every event the audit trail records (DESIGN.md section 7), discriminated by `type`. */
export type AuditEvent =
  | SessionOpened
  | SessionClosed
  | CallReceived
  | CallDecided
  | ApprovalRequested
  | ApprovalGranted
  | ApprovalDenied
  | ApprovalTimedOut
  | CallForwarded
  | CallCompleted
  | ToolPinned
  | ToolChanged
  | ToolAccepted;

export type AuditEventType = AuditEvent['type'];

/** Where a stored record sits in the chain. */
export interface RecordMeta {
  seq: number;
  at: string;
  prev_hash: string;
  hash: string;
  /**
   * Fields the stored record did not have, which {@link readRecord} filled in (records written
   * before they were recorded): `annotations` (then `{}`), `now_ms` (then the record's time), ...
   */
  legacy?: string[];
}

/** A stored record of event `E`, read into the model. */
export type AuditRecordOf<E extends AuditEvent = AuditEvent> = E extends AuditEvent
  ? { type: E['type']; session_id: string; data: E['data'] } & RecordMeta
  : never;

/**
 * A stored record the model cannot read: a type this version does not know (written by a newer
 * one) or a known type without the fields that tie it to a call. Kept, so that reports still show it.
 */
export interface UnknownRecord extends RecordMeta {
  type: 'unknown';
  stored_type: string;
  session_id: string;
  data: Record<string, unknown>;
  /** Why it could not be read. */
  problem: string;
}

/** What {@link readRecord} returns. */
export type ReadRecord = AuditRecordOf | UnknownRecord;

// --- constructors ------------------------------------------------------------------------------------

function event<E extends AuditEvent>(type: E['type'], sessionId: string, data: E['data'], at: string | undefined): E {
  return { type, session_id: sessionId, data, ...(at !== undefined ? { at } : {}) } as E;
}

/**
 * A session's client finished its `initialize`.
 *
 * @example
 * ```ts
 * await store.append(sessionOpened('s-1', { client: { name: 'claude-ai', version: '1' }, principal, started_at }));
 * ```
 */
export function sessionOpened(sessionId: string, data: SessionOpenedData, at?: string): SessionOpened {
  return event<SessionOpened>('session.opened', sessionId, data, at);
}

export function sessionClosed(sessionId: string, data: SessionClosedData, at?: string): SessionClosed {
  return event<SessionClosed>('session.closed', sessionId, data, at);
}

/**
 * A call arrived, before the policy is asked.
 *
 * @example
 * ```ts
 * callReceived('s-1', { call_id: 'c1', kind: 'tool', server: 'ci', tool: 'echo', name: 'echo',
 *   arguments: { message: 'hi' }, annotations: {}, now_ms: Date.now() });
 * ```
 */
export function callReceived(sessionId: string, data: CallReceivedData, at?: string): CallReceived {
  return event<CallReceived>('call.received', sessionId, data, at);
}

export function callDecided(sessionId: string, data: CallDecidedData, at?: string): CallDecided {
  return event<CallDecided>('call.decided', sessionId, data, at);
}

export function approvalRequested(sessionId: string, data: ApprovalRequestedData, at?: string): ApprovalRequested {
  return event<ApprovalRequested>('approval.requested', sessionId, data, at);
}

/**
 * An approval request was answered. The record's type follows from the outcome: `approved` is
 * `approval.granted`, `timed_out` is `approval.timed_out`, anything else `approval.denied`.
 *
 * @example
 * ```ts
 * const answer = approvalAnswered('s-1', {
 *   call_id: 'c1', outcome: 'approved', by: 'bob', via: 'admin', comment: null,
 * });
 * answer.type; // 'approval.granted'
 * ```
 */
export function approvalAnswered(sessionId: string, data: ApprovalAnsweredData, at?: string): ApprovalAnswered {
  const type = answerType(data.outcome);
  return event<ApprovalAnswered>(type, sessionId, data, at);
}

export function callForwarded(sessionId: string, data: CallForwardedData, at?: string): CallForwarded {
  return event<CallForwarded>('call.forwarded', sessionId, data, at);
}

export function callCompleted(sessionId: string, data: CallCompletedData, at?: string): CallCompleted {
  return event<CallCompleted>('call.completed', sessionId, data, at);
}

/**
 * A tool was seen for the first time on a server (tool records belong to no session).
 *
 * @example
 * ```ts
 * await store.append(toolPinned({ server: 'ci', tool: 'echo', digest, definition, findings: [], instance }));
 * ```
 */
export function toolPinned(data: ToolPinnedData, at?: string): ToolPinned {
  return event<ToolPinned>('tool.pinned', '', data, at);
}

export function toolChanged(data: ToolChangedData, at?: string): ToolChanged {
  return event<ToolChanged>('tool.changed', '', data, at);
}

export function toolAccepted(data: ToolAcceptedData, at?: string): ToolAccepted {
  return event<ToolAccepted>('tool.accepted', '', data, at);
}

function answerType(outcome: ApprovalAnswer): ApprovalAnswered['type'] {
  if (outcome === 'approved') return 'approval.granted';
  return outcome === 'timed_out' ? 'approval.timed_out' : 'approval.denied';
}

// --- reading stored records --------------------------------------------------------------------------

const KINDS: readonly string[] = ['tool', 'resource', 'prompt'];
const ANSWERS: readonly string[] = ['approved', 'declined', 'cancelled', 'timed_out', 'unavailable'];
/** What an answer record without its `outcome` meant (the type says as much). */
const TYPE_ANSWER: Record<ApprovalAnswered['type'], ApprovalAnswer> = {
  'approval.granted': 'approved',
  'approval.denied': 'declined',
  'approval.timed_out': 'timed_out',
};

/**
 * Reads a stored record (of any version) into the model. This is the one place that knows older
 * shapes: records from before `annotations`, `now_ms` and `started_at` were recorded, a `tool`
 * without a `name` (or the reverse), reasons that are bare strings, a `monitored` that is not a
 * list. What it fills in is named in `legacy`. A type it does not know, or a call record without
 * `call_id`, comes back as an {@link UnknownRecord}. Records Warden writes today read back unchanged.
 *
 * @example
 * ```ts
 * for (const raw of await store.read({ session })) {
 *   const r = readRecord(raw);
 *   if (r.type === 'call.decided' && r.data.monitored.length > 0) warn(r.data.monitored);
 * }
 * ```
 */
export function readRecord(raw: AuditRecord): ReadRecord {
  const d: Record<string, unknown> = object(raw.data) ?? {};
  // Built field by field, without spreads: the dashboard's index reads every record of the trail.
  let legacy: string[] | null = null;
  const record = <E extends AuditEvent>(type: E['type'], data: E['data']): ReadRecord => {
    const { seq, at, prev_hash, hash } = raw;
    const r = { type, session_id: raw.session_id, data, seq, at, prev_hash, hash };
    if (legacy) (r as RecordMeta).legacy = legacy;
    return r as AuditRecordOf;
  };
  const unknown = (problem: string): UnknownRecord => ({
    type: 'unknown',
    stored_type: String(raw.type),
    session_id: raw.session_id,
    data: d,
    problem,
    seq: raw.seq,
    at: raw.at,
    prev_hash: raw.prev_hash,
    hash: raw.hash,
  });
  const filled = <T>(field: string, value: T): T => {
    (legacy ??= []).push(field);
    return value;
  };
  const atMs = (): number => Date.parse(raw.at);

  switch (raw.type) {
    case 'session.opened': {
      const data: SessionOpenedData = {
        client: readClient(d['client']) ?? filled('client', { name: 'unknown', version: 'unknown' }),
        principal: readPrincipal(d['principal']) ?? filled('principal', { sub: 'unknown', roles: [], claims: {} }),
        started_at: text(d['started_at']) ?? filled('started_at', raw.at),
      };
      // Optional, not legacy: records written before replicas were named simply do not say.
      const instance = text(d['instance']);
      if (instance !== null) data.instance = instance;
      return record<SessionOpened>('session.opened', data);
    }
    case 'session.closed':
      return record<SessionClosed>('session.closed', { calls: num(d['calls']) ?? filled('calls', 0) });
    case 'tool.pinned':
    case 'tool.changed':
    case 'tool.accepted':
      return readToolRecord(raw.type, d, record, unknown);
    default:
      break;
  }

  const callId = text(d['call_id']);
  const notKnown = `record type "${String(raw.type)}" is not one this version of Warden knows`;
  if (!KNOWN.has(String(raw.type))) return unknown(notKnown);
  if (callId === null) return unknown(`a ${String(raw.type)} record without call_id`);

  switch (raw.type as AuditEventType) {
    case 'call.received': {
      const refusedArguments = object(d['arguments_refused']) as RefusedArguments | null;
      const tool = text(d['tool']);
      const name = text(d['name']);
      const data: CallReceivedData = {
        call_id: callId,
        kind: KINDS.includes(d['kind'] as string) ? (d['kind'] as RecordedCallKind) : filled('kind', 'tool'),
        server: text(d['server']) ?? filled('server', ''),
        tool: tool ?? filled('tool', name ?? ''),
        name: name ?? filled('name', tool ?? ''),
        // A call refused for its arguments' size has no arguments: by design, not an older format.
        arguments: object(d['arguments']) ?? (refusedArguments ? {} : filled('arguments', {})),
        annotations: object(d['annotations']) ?? filled('annotations', {}),
        now_ms: num(d['now_ms']) ?? filled('now_ms', atMs()),
      };
      if (refusedArguments) data.arguments_refused = refusedArguments;
      if (typeof d['uri'] === 'string') data.uri = d['uri'];
      if (typeof d['trace_id'] === 'string') data.trace_id = d['trace_id'];
      if (typeof d['span_trace_id'] === 'string') data.span_trace_id = d['span_trace_id'];
      return record<CallReceived>('call.received', data);
    }
    case 'call.decided': {
      const allow = d['allow'] === true;
      const error = readPolicyError(d['error']);
      const data: CallDecidedData = {
        call_id: callId,
        decision_id: text(d['decision_id']) ?? filled('decision_id', ''),
        allow,
        policy_allow: typeof d['policy_allow'] === 'boolean' ? d['policy_allow'] : filled('policy_allow', allow),
        reasons: Array.isArray(d['reasons']) ? readReasons(d['reasons']) : filled('reasons', []),
        monitored: Array.isArray(d['monitored']) ? readReasons(d['monitored']) : filled('monitored', []),
        obligations: (object(d['obligations']) as RecordedObligations | null) ?? filled('obligations', {}),
        revision: text(d['revision']) ?? filled('revision', ''),
        mode: d['mode'] === 'monitor' ? 'monitor' : d['mode'] === 'enforce' ? 'enforce' : filled('mode', 'enforce'),
        now_ms: num(d['now_ms']) ?? filled('now_ms', atMs()),
      };
      if (error) data.error = error;
      if (d['held'] === true) data.held = true;
      if (typeof d['refused'] === 'string') data.refused = d['refused'];
      return record<CallDecided>('call.decided', data);
    }
    case 'approval.requested':
      return record<ApprovalRequested>('approval.requested', {
        call_id: callId,
        name: text(d['name']) ?? filled('name', ''),
        approvers: Array.isArray(d['approvers']) ? d['approvers'].filter(isString) : filled('approvers', []),
        reason: text(d['reason']),
        ...(typeof d['arguments_digest'] === 'string' ? { arguments_digest: d['arguments_digest'] } : {}),
      });
    case 'approval.granted':
    case 'approval.denied':
    case 'approval.timed_out': {
      const type = raw.type as ApprovalAnswered['type'];
      const outcome = ANSWERS.includes(d['outcome'] as string) ? (d['outcome'] as ApprovalAnswer) : null;
      return record<ApprovalAnswered>(type, {
        call_id: callId,
        outcome: outcome ?? filled('outcome', TYPE_ANSWER[type]),
        by: text(d['by']),
        via: d['via'] === 'elicitation' || d['via'] === 'admin' ? d['via'] : null,
        comment: text(d['comment']),
      });
    }
    case 'call.forwarded':
      return record<CallForwarded>('call.forwarded', {
        call_id: callId,
        server: text(d['server']) ?? filled('server', ''),
        ...(typeof d['approval_of'] === 'string' ? { approval_of: d['approval_of'] } : {}),
      });
    case 'call.completed': {
      const data: CallCompletedData = {
        call_id: callId,
        outcome: d['outcome'] === 'success' || d['outcome'] === 'error' ? d['outcome'] : filled('outcome', 'error'),
        duration_ms: num(d['duration_ms']) ?? filled('duration_ms', 0),
        result_digest: text(d['result_digest']) ?? filled('result_digest', ''),
        result: (object(d['result']) as CallCompletedData['result'] | null) ?? filled('result', {}),
      };
      const error = text(d['error']);
      if (error !== null) data.error = error;
      const policy = object(d['result_policy']);
      if (policy && (policy['action'] === 'redact' || policy['action'] === 'deny'))
        data.result_policy = {
          action: policy['action'],
          rules: Array.isArray(policy['rules']) ? policy['rules'].filter(isString) : [],
          redacted: (object(policy['redacted']) as Record<string, number> | null) ?? {},
        };
      if (Array.isArray(d['labels'])) data.labels = d['labels'].filter(isString);
      return record<CallCompleted>('call.completed', data);
    }
    default:
      return unknown(notKnown);
  }
}

type Recorder = <E extends AuditEvent>(type: E['type'], data: E['data']) => ReadRecord;

/** A tool record: without its server, tool or digest it says nothing, and reads as unknown. */
function readToolRecord(
  type: ToolEvent['type'],
  d: Record<string, unknown>,
  record: Recorder,
  unknown: (problem: string) => UnknownRecord,
): ReadRecord {
  const server = text(d['server']);
  const tool = text(d['tool']);
  const digest = text(d['digest']);
  if (server === null || tool === null || digest === null)
    return unknown(`a ${type} record without server, tool or digest`);
  if (type === 'tool.accepted') {
    const via = d['via'] === 'cli' || d['via'] === 'admin' || d['via'] === 'config' ? d['via'] : 'admin';
    return record<ToolAccepted>(type, {
      server,
      tool,
      digest,
      by: text(d['by']) ?? 'unknown',
      via,
      comment: text(d['comment']),
    });
  }
  const pinned: ToolPinnedData = {
    server,
    tool,
    digest,
    definition: (object(d['definition']) as ToolDefinition | null) ?? { name: tool },
    findings: Array.isArray(d['findings']) ? readFindings(d['findings']) : [],
    instance: text(d['instance']) ?? '',
  };
  if (type === 'tool.pinned') return record<ToolPinned>(type, pinned);
  const onChange = d['on_change'] === 'monitor' || d['on_change'] === 'accept' ? d['on_change'] : 'deny';
  return record<ToolChanged>(type, { ...pinned, previous_digest: text(d['previous_digest']), on_change: onChange });
}

function readFindings(list: unknown[]): ToolFinding[] {
  return list.flatMap((f) => {
    const o = object(f);
    return o ? [{ kind: text(o['kind']) ?? '', path: text(o['path']) ?? '', text: text(o['text']) ?? '' }] : [];
  });
}

/** Whether a completed call's result was cut to `audit.resultMaxChars` in the trail. */
export function isTruncatedResult(result: CallCompletedData['result']): result is TruncatedResult {
  return result['truncated'] === true;
}

const KNOWN: ReadonlySet<string> = new Set<AuditEventType>([
  'session.opened',
  'session.closed',
  'call.received',
  'call.decided',
  'call.forwarded',
  'call.completed',
  'approval.requested',
  'approval.granted',
  'approval.denied',
  'approval.timed_out',
  'tool.pinned',
  'tool.changed',
  'tool.accepted',
]);

function text(v: unknown): string | null {
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function object(v: unknown): Record<string, unknown> | null {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function readReasons(list: unknown[]): RecordedReason[] {
  return list.map((r) => {
    const o = object(r);
    if (!o) return { rule: '', message: String(r) };
    if (typeof o['rule'] === 'string' && typeof o['message'] === 'string') return o as RecordedReason;
    return { ...o, rule: text(o['rule']) ?? '', message: text(o['message']) ?? '' };
  });
}

function readClient(v: unknown): SessionOpenedData['client'] | null {
  const o = object(v);
  if (!o) return null;
  return { ...o, name: text(o['name']) ?? 'unknown', version: text(o['version']) ?? 'unknown' };
}

function readPrincipal(v: unknown): Principal | null {
  if (typeof v === 'string') return { sub: v, roles: [], claims: {} };
  const o = object(v);
  if (!o) return null;
  const roles = Array.isArray(o['roles']) ? o['roles'].filter(isString) : [];
  return { ...o, sub: text(o['sub']) ?? 'unknown', roles, claims: object(o['claims']) ?? {} };
}

function readPolicyError(v: unknown): { code: string; message: string } | null {
  if (typeof v === 'string') return { code: 'policy_error', message: v };
  const o = object(v);
  if (!o) return null;
  return { ...o, code: text(o['code']) ?? 'policy_error', message: text(o['message']) ?? 'policy error' };
}
