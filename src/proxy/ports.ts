import type { AuditEvent, DecisionLogEvent } from '../audit/index.js';
import type { EntrypointResult, Evaluation, Reason } from '../policy/index.js';
import { traceId, type HistoryEntry, type PendingCall, type Session } from '../session/index.js';

/**
 * Audit trail port: `append` resolves once the event is durable, rejects when it cannot be.
 * Events are built with the audit part's typed constructors (`callReceived`, `callDecided`, ...).
 */
export interface AuditPort {
  append(event: AuditEvent): Promise<unknown>;
  /** Appends `events` in order, all or none, in one commit; without it, each is appended in the same tick. */
  appendAll?(events: AuditEvent[]): Promise<unknown>;
}

export interface DecisionLogPort {
  write(event: DecisionLogEvent): void;
}

export interface PolicyPort {
  /** Resolves to the decision, or to a deny naming the failure (fail closed); never rejects. */
  evaluate(input: unknown, nowMs?: number): Promise<Evaluation>;
  readonly entrypoint: string;
  /** With these, a policy that defines `mcp/result` judges what comes back. */
  hasEntrypoint?(name: string): boolean;
  evaluateEntrypoint?(name: string, input: unknown, nowMs?: number): Promise<EntrypointResult>;
}

/**
 * History port: what the active policy declared it reads (`mcp/history/reads`), answered from the
 * read model of the audit trail. Resolves to undefined when the policy declares no reads: the
 * input then carries the session's window, as before reads existed.
 */
export interface HistoryPort {
  lookup(session: Session, call: PendingCall): Promise<HistoryEntry[] | undefined>;
}

/** An approval an approver gave for a call that was left pending (`warden.approval_pending`). */
export interface ApprovalGrant {
  /** The call it was given for (the pending approval's id). */
  id: string;
  by: string;
  at: string;
  comment?: string;
}

/**
 * Grants port: approvals left pending in the audit trail and answered since, on any replica. A
 * retry of the same call (tool, arguments digest, principal) may spend one, exactly once.
 */
export interface GrantPort {
  usable(principal: string, name: string, argumentsDigest: string): Promise<ApprovalGrant | undefined>;
  /** True for the one call that spends `id` (the store decides, across replicas). */
  spend(id: string): Promise<boolean>;
}

/** What the pipeline tells the outside world (metrics, dashboard streams). All optional, all synchronous. */
export interface PipelineObserver {
  onDecision?(info: DecisionInfo): void;
  onCompleted?(info: CompletionInfo): void;
  /** A server offered a tool definition other than the accepted one (`warden_tool_changes_total`). */
  onToolChanged?(info: ToolChangeInfo): void;
}

/** A tool definition this process recorded as `tool.changed` (or pinned while suspicious). */
export interface ToolChangeInfo {
  server: string;
  tool: string;
  /** `suspicious`: the definition check found something in it. */
  status: 'changed' | 'suspicious';
  on_change: 'deny' | 'monitor' | 'accept';
}

/**
 * Pin port: whether a tool's definition, as the session's server offers it, may be called
 * (`warden.tool_changed`, `warden.tool_suspicious`; see `ToolPinning`).
 */
export interface PinPort {
  check(server: string, tool: string, descriptor: { name: string; [field: string]: unknown }): Promise<Reason | null>;
}

export interface DecisionInfo {
  decision_id: string;
  session_id: string;
  call: { kind: string; server: string; name: string };
  allow: boolean;
  /** The policy's own verdict, before monitor mode and obligations. */
  policy_allow: boolean;
  mode: 'enforce' | 'monitor';
  reasons: { rule: string; message: string }[];
  monitored: { rule: string; message: string }[];
  revision: string;
  error?: string;
  eval_ns: number;
}

export interface CompletionInfo {
  decision_id: string;
  session_id: string;
  call: { kind: string; server: string; name: string };
  outcome: 'success' | 'error' | 'denied';
  duration_ms: number;
}

/** The steps of a call that get a child span under the call's span. */
export type CallStep = 'policy' | 'audit' | 'approval' | 'downstream' | 'result_policy';

/** Attribute values a span carries (OpenTelemetry's primitive and array values). */
export type SpanValue = string | number | boolean | string[];

/**
 * Tracing port: one span per call (tools/call, resources/read, prompts/get), with a child span per
 * step. The edge implements it with OpenTelemetry (src/telemetry); {@link NO_TRACING} records nothing.
 *
 * @example
 * ```ts
 * const span = tracer.startCall({ kind: 'tool', server: 'crm', name: 'crm_read', traceparent });
 * const result = await span.step('downstream', (traceparent) => forward({ traceparent }));
 * span.end({ outcome: 'success' });
 * ```
 */
export interface CallTracer {
  /** Starts a call's span: a child of the client's span when `traceparent` names one. */
  startCall(call: { kind: string; server: string; name: string; traceparent?: string }): CallSpan;
}

export interface CallSpan {
  /** The call's trace id: the client's (continued) or a new one; without tracing, the client's if any. */
  readonly traceId: string | undefined;
  /** The call span's id; undefined when nothing is traced. */
  readonly spanId: string | undefined;
  /**
   * Runs `work` in a child span named for `step` (with `detail`, e.g. the audit event type). `work`
   * gets the child's W3C traceparent (undefined without tracing): a downstream call passes it on.
   */
  step<T>(step: CallStep, work: (traceparent: string | undefined) => Promise<T>, detail?: string): Promise<T>;
  set(attributes: Record<string, SpanValue | undefined>): void;
  end(outcome: 'success' | 'error' | 'denied'): void;
}

/** No tracing: steps run as they are; the trace id is the client's, when it sent a traceparent. */
export const NO_TRACING: CallTracer = {
  startCall: (call) => ({
    traceId: traceId(call.traceparent),
    spanId: undefined,
    step: (_step, work) => work(undefined),
    set: () => undefined,
    end: () => undefined,
  }),
};
